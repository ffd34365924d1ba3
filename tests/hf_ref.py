"""Independent references for test_hf (nothing here uses tinyllm's code):

  hf_ref.py logits DIR TOKENS.i32 OUT.f32
      Reads a HuggingFace GPT-2 directory (config.json + model.safetensors, parsed here from the
      specs) into a GPT-2 written here in PyTorch (Conv1D weights [in, out], tied head), runs it on
      the int32 tokens and writes the logits [T, vocab] as float32.
  hf_ref.py llmc DIR
      Writes one random GPT-2 (2 layers, 2 heads, 16 wide, context 8, the GPT-2 vocabulary) three
      ways: DIR/model_v3.bin (llm.c fp32), DIR/model_v5.bin (llm.c bf16 of the same weights, which
      are bf16-exact) and DIR/hf/ (config.json + model.safetensors); plus DIR/tokenizer.bin, llm.c's
      tokenizer file of GPT-2 built from encoder.json (GPT-2 byte alphabet decoded here)."""
import json, os, struct, sys
import numpy as np


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    dt = {"F32": np.float32, "F16": np.float16}
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt[v["dtype"]]).reshape(v["shape"]).astype(np.float32)
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def logits(d, tokens_path, out_path):
    import torch
    import torch.nn.functional as F
    cfg = json.load(open(os.path.join(d, "config.json")))
    assert cfg["model_type"] == "gpt2" and cfg["activation_function"] == "gelu_new" and cfg["tie_word_embeddings"]
    L, NH, C, V = cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["vocab_size"]
    eps = cfg["layer_norm_epsilon"]
    W = {k.removeprefix("transformer."): torch.from_numpy(v.copy()).double()
         for k, v in read_safetensors(os.path.join(d, "model.safetensors")).items()}
    assert "lm_head.weight" not in W and W["wte.weight"].shape == (V, C)
    idx = torch.from_numpy(np.fromfile(tokens_path, dtype=np.int32).astype(np.int64))
    T = idx.shape[0]
    x = W["wte.weight"][idx] + W["wpe.weight"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for l in range(L):
        p = lambda n: W[f"h.{l}.{n}"]
        a = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), eps)
        q, k, v = (a @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).split(C, dim=1)  # Conv1D: x @ W[in, out]
        sh = lambda t: t.view(T, NH, C // NH).transpose(0, 1)
        att = (sh(q) @ sh(k).transpose(-2, -1)) / (C // NH) ** 0.5
        y = (att.masked_fill(mask, float("-inf")).softmax(-1) @ sh(v)).transpose(0, 1).reshape(T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        a = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), eps)
        u = F.gelu(a @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + u @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), W["ln_f.weight"], W["ln_f.bias"], eps)
    (x @ W["wte.weight"].t()).float().numpy().tofile(out_path)


def byte_decoder():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def llmc(d):
    rng = np.random.default_rng(7)
    L, NH, C, T, V, VP = 2, 2, 16, 8, 50257, 50304
    bf = lambda *s: (rng.standard_normal(s).astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32) * 0.5
    wte = bf(VP, C)
    wte[V:] = 0
    P = {"wte": wte, "wpe": bf(T, C), "ln1w": bf(L, C), "ln1b": bf(L, C), "qkvw": bf(L, 3 * C, C), "qkvb": bf(L, 3 * C),
         "attprojw": bf(L, C, C), "attprojb": bf(L, C), "ln2w": bf(L, C), "ln2b": bf(L, C), "fcw": bf(L, 4 * C, C),
         "fcb": bf(L, 4 * C), "fcprojw": bf(L, C, 4 * C), "fcprojb": bf(L, C), "lnfw": bf(C), "lnfb": bf(C)}
    os.makedirs(os.path.join(d, "hf"), exist_ok=True)
    for version in (3, 5):
        header = np.zeros(256, dtype=np.int32)
        header[:8] = [20240326, version, T, V, L, NH, C, VP]
        flat = np.concatenate([a.reshape(-1) for a in P.values()])
        body = flat.tobytes() if version == 3 else (flat.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        open(os.path.join(d, f"model_v{version}.bin"), "wb").write(header.tobytes() + body)
    hf = {"transformer.wte.weight": wte[:V], "transformer.wpe.weight": P["wpe"], "transformer.ln_f.weight": P["lnfw"],
          "transformer.ln_f.bias": P["lnfb"]}
    for l in range(L):
        h = f"transformer.h.{l}."
        hf[h + "ln_1.weight"], hf[h + "ln_1.bias"] = P["ln1w"][l], P["ln1b"][l]
        hf[h + "attn.c_attn.weight"], hf[h + "attn.c_attn.bias"] = P["qkvw"][l].T, P["qkvb"][l]
        hf[h + "attn.c_proj.weight"], hf[h + "attn.c_proj.bias"] = P["attprojw"][l].T, P["attprojb"][l]
        hf[h + "ln_2.weight"], hf[h + "ln_2.bias"] = P["ln2w"][l], P["ln2b"][l]
        hf[h + "mlp.c_fc.weight"], hf[h + "mlp.c_fc.bias"] = P["fcw"][l].T, P["fcb"][l]
        hf[h + "mlp.c_proj.weight"], hf[h + "mlp.c_proj.bias"] = P["fcprojw"][l].T, P["fcprojb"][l]
    write_safetensors(os.path.join(d, "hf", "model.safetensors"), hf)
    json.dump({"model_type": "gpt2", "n_layer": L, "n_head": NH, "n_embd": C, "n_positions": T, "vocab_size": V,
               "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}, open(os.path.join(d, "hf", "config.json"), "w"))
    enc = json.load(open(os.path.join(os.environ.get("TINYLLM_DATA", os.path.expanduser("~/.cache/tinyllm")), "gpt2", "encoder.json")))
    dec, toks = byte_decoder(), [None] * len(enc)
    for s, i in enc.items():
        toks[i] = s.encode() if s == "<|endoftext|>" else bytes(dec[c] for c in s)
    header = np.zeros(256, dtype=np.uint32)
    header[:4] = [20240328, 2, len(toks), enc["<|endoftext|>"]]
    open(os.path.join(d, "tokenizer.bin"), "wb").write(header.tobytes() + b"".join(bytes([len(t)]) + t for t in toks))


if __name__ == "__main__":
    if sys.argv[1] == "logits":
        logits(*sys.argv[2:5])
    else:
        llmc(sys.argv[2])
