"""Loads tinyllm HF exports with the real transformers (AutoModelForCausalLM + AutoTokenizer) and
checks them against what tinyllm produced for the same inputs (expect.json, written by
tests/hf_transformers_prepare.sh): token ids of sample texts, greedy continuations, and logits
against the independent PyTorch GPT-2 of tests/hf_ref.py. Needs a machine with transformers (the
GPU machine has it; Debian 12 does not package it), so it is run by hand; docs/formats.md records
the run.

usage: hf_transformers_check.py DIR   (DIR holds expect.json and the exported model folders)"""
import json, os, sys
import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

d = sys.argv[1]
expect = json.load(open(os.path.join(d, "expect.json")))
print(f"transformers {transformers.__version__}, torch {torch.__version__}")
fails = 0
for name, ex in expect.items():
    path = os.path.join(d, name)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    for text, ids in ex["encode"]:
        got = tok(text, add_special_tokens=False)["input_ids"]
        ok = got == ids
        fails += not ok
        print(f"{name}: tokenize {text[:40]!r}: {'same ids' if ok else 'DIFFER'}")
        if not ok:
            i = next((k for k in range(min(len(ids), len(got))) if ids[k] != got[k]), min(len(ids), len(got)))
            print(f"  first difference at {i}: ours {tok.convert_ids_to_tokens(ids[i:i + 6])}"
                  f" theirs {tok.convert_ids_to_tokens(got[i:i + 6])}")
    prompt = [tok.eos_token_id] + tok(ex["prompt"], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=ex["n"], do_sample=False, pad_token_id=tok.eos_token_id)
    text = tok.decode(out[0, len(prompt):])
    ok = text == ex["greedy"]
    fails += not ok
    ours = ex["greedy"]
    print(f"{name}: greedy {ex['n']} tokens: {'same text' if ok else f'DIFFER ours {ours!r} theirs {text!r}'}")
    ids = np.fromfile(os.path.join(d, ex["tokens"]), dtype=np.int32)
    ref = np.fromfile(os.path.join(d, ex["logits"]), dtype=np.float32).reshape(len(ids), -1)
    with torch.no_grad():
        lg = model(torch.tensor([ids.astype(np.int64)])).logits[0].numpy()
    rel = np.abs(lg - ref).max() / np.abs(ref).max()
    fails += not rel <= 1e-4
    print(f"{name}: logits vs the PyTorch reference: max relative difference {rel:.2e}")
print("ALL MATCH" if not fails else f"{fails} MISMATCHES")
sys.exit(1 if fails else 0)
