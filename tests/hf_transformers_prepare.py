"""Writes what tests/hf_transformers_check.py checks on a machine with transformers: two tiny models
(GPT-2's vocabulary; a trained BPE with digit groups of 3) exported with `tinyllm export -f hf`, and
expect.json with tinyllm's token ids for sample texts, its greedy continuation of a prompt, and the
independent PyTorch reference's logits (tests/hf_ref.py) for a token sequence.

usage (repository root, after `make`): python3 tests/hf_transformers_prepare.py OUT_DIR"""
import json, os, subprocess, sys, tempfile
import numpy as np

out = sys.argv[1]
tl = os.environ.get("TINYLLM", "build/tinyllm")
csv = "../shared/datasets/localisation/train.csv"
os.makedirs(out, exist_ok=True)
w = tempfile.mkdtemp()


def run(*args):
    return subprocess.run([tl, *args], check=True, capture_output=True, text=True).stdout


run("prepare", "--task", "tasks/localisation.task", "--val-fraction", "0", "--out", f"{w}/d", csv)
run("tokenizer", "train", "--vocab-size", "1000", "--digits", "3", "-o", f"{out}/tok3", f"{w}/d/finetune_train.jsonl", "--field", "prompt")
run("prepare", "--tokenizer", f"{out}/tok3", "--task", "tasks/localisation.task", "--val-fraction", "0", "--out", f"{w}/dt", csv)
prompt = "### Instruction:\nWhere is the sensor?\n\n### Input:\n1004.42,62.21,24.89,53.16,8,6,5,201\n\n### Response:\n"
samples = ["Temperature 23.5 C, humidity 41 %, light 1203 lux.", "  leading spaces and 1234567 digits 3.14159\n\n x",
           "Ünïcödé — ok? it's 12:30"]
expect = {}
for name, tk, data in (("gpt2", "gpt2", "d"), ("trained", f"{out}/tok3", "dt")):
    run("pretrain", "--train", f"{w}/{data}", "--model", "2x2x64", "--seq-len", "128", "--batch-size", "4", "--steps", "60",
        "--lr", "3e-3", "--eval-every", "0", "-o", f"{w}/m_{name}")
    run("export", "-m", f"{w}/m_{name}", "--tokenizer", tk, "-f", "hf", "-o", f"{out}/{name}")
    n = 16
    greedy = run("run", "-m", f"{w}/m_{name}", "--tokenizer", tk, "-p", prompt, "-n", str(n), "--temp", "0")
    assert greedy.startswith(prompt) and greedy.endswith("\n")
    greedy = greedy[:-1]  # run ends its output with a newline of its own
    enc = lambda s: [int(x) for x in run("tokenizer", "encode", "--tokenizer", tk, s).split()]
    np.array(enc("1004.42,62.21,24.89,53.16 and some words 7 8 9"), dtype=np.int32).tofile(f"{out}/{name}.tokens.i32")
    subprocess.run(["/usr/bin/python3", "tests/hf_ref.py", "logits", f"{out}/{name}", f"{out}/{name}.tokens.i32",
                    f"{out}/{name}.logits.f32"], check=True)
    expect[name] = {"encode": [[s, enc(s)] for s in samples], "prompt": prompt, "n": n, "greedy": greedy[len(prompt):],
                    "tokens": f"{name}.tokens.i32", "logits": f"{name}.logits.f32"}
json.dump(expect, open(f"{out}/expect.json", "w"), indent=1)
print("wrote", out)
