"""Independent reference for test_gpt2_torch: a GPT-2 written here in PyTorch (Debian's 1.13, CPU,
fp32) computes logits, loss, every parameter gradient and the losses of 10 AdamW steps for random
weights and tokens, and writes all of it, with the weights in tinyllm's tensor names and layout,
to a safetensors file built by hand from the spec (no safetensors package exists here).

usage: gpt2_torch_ref.py OUT.safetensors"""
import json, math, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
L, NH, C, T, B, V, VP = 2, 2, 16, 8, 2, 67, 128
LR, WD, STEPS = 1e-3, 0.1, 10

P = {"wte": torch.randn(VP, C) * 0.5, "wpe": torch.randn(T, C) * 0.5}
P["wte"][V:] = 0  # padded rows
for l in range(L):
    h = f"h.{l}."
    P[h + "ln1.w"], P[h + "ln1.b"] = 1 + 0.1 * torch.randn(C), 0.1 * torch.randn(C)
    P[h + "attn.qkv.w"], P[h + "attn.qkv.b"] = 0.2 * torch.randn(3 * C, C), 0.1 * torch.randn(3 * C)
    P[h + "attn.proj.w"], P[h + "attn.proj.b"] = 0.2 * torch.randn(C, C), 0.1 * torch.randn(C)
    P[h + "ln2.w"], P[h + "ln2.b"] = 1 + 0.1 * torch.randn(C), 0.1 * torch.randn(C)
    P[h + "mlp.fc.w"], P[h + "mlp.fc.b"] = 0.2 * torch.randn(4 * C, C), 0.1 * torch.randn(4 * C)
    P[h + "mlp.proj.w"], P[h + "mlp.proj.b"] = 0.2 * torch.randn(C, 4 * C), 0.1 * torch.randn(C)
P["lnf.w"], P["lnf.b"] = 1 + 0.1 * torch.randn(C), 0.1 * torch.randn(C)
names = list(P)
init = {k: v.clone() for k, v in P.items()}
for v in P.values():
    v.requires_grad_(True)

inp = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
tgt[0, 3] = -1  # an ignored position
tgt[1, 0] = -1


def forward(P):
    x = P["wte"][inp] + P["wpe"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for l in range(L):
        h = f"h.{l}."
        a = F.layer_norm(x, (C,), P[h + "ln1.w"], P[h + "ln1.b"], 1e-5)
        q, k, v = (a @ P[h + "attn.qkv.w"].t() + P[h + "attn.qkv.b"]).split(C, dim=2)
        sh = lambda t: t.view(B, T, NH, C // NH).transpose(1, 2)
        att = (sh(q) @ sh(k).transpose(-2, -1)) / math.sqrt(C // NH)
        y = att.masked_fill(mask, float("-inf")).softmax(-1) @ sh(v)
        x = x + y.transpose(1, 2).reshape(B, T, C) @ P[h + "attn.proj.w"].t() + P[h + "attn.proj.b"]
        a = F.layer_norm(x, (C,), P[h + "ln2.w"], P[h + "ln2.b"], 1e-5)
        u = F.gelu(a @ P[h + "mlp.fc.w"].t() + P[h + "mlp.fc.b"], approximate="tanh")
        x = x + u @ P[h + "mlp.proj.w"].t() + P[h + "mlp.proj.b"]
    x = F.layer_norm(x, (C,), P["lnf.w"], P["lnf.b"], 1e-5)
    logits = x @ P["wte"].t()  # [B, T, VP]
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), tgt.reshape(-1), ignore_index=-1)
    return logits, loss


logits, loss = forward(P)
loss.backward()
grads = {k: P[k].grad.clone() for k in names}

decay = [P[k] for k in names if P[k].dim() == 2]
no_decay = [P[k] for k in names if P[k].dim() == 1]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=(0.9, 0.95), eps=1e-8)
losses = []
for s in range(STEPS):
    opt.zero_grad()
    _, l = forward(P)
    losses.append(l.item())
    l.backward()
    opt.step()

tensors = [(k, init[k]) for k in names] + [("grad." + k, grads[k]) for k in names]
tensors += [("inputs", inp.to(torch.int32)), ("targets", tgt.to(torch.int32)), ("logits", logits.detach()),
            ("loss", loss.detach().reshape(1)), ("adamw_losses", torch.tensor(losses, dtype=torch.float64))]
header, blobs, off = {"__metadata__": {"n_layer": str(L), "n_head": str(NH), "n_embd": str(C), "n_ctx": str(T),
                                       "vocab": str(V), "padded_vocab": str(VP), "B": str(B), "T": str(T),
                                       "lr": repr(LR), "weight_decay": repr(WD)}}, [], 0
for k, t in tensors:
    a = t.detach().contiguous().numpy()
    dt = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int32"): "I32"}[a.dtype]
    b = a.astype(a.dtype.newbyteorder("<")).tobytes()
    header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
print(f"loss {loss.item():.6f}; 10 AdamW losses {losses[0]:.6f} .. {losses[-1]:.6f}")
