"""PyTorch baseline for bench_train.sh: GPT-2 training steps (fp32, CPU, AdamW) on random tokens.

Prints one line: `torch <threads> <tok/s>` (median over the timed steps)."""
import math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

L, H, C, T, B, V, threads, steps = (int(a) for a in sys.argv[1:9])
torch.set_num_threads(threads)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.out = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        sh = lambda t: t.view(B, T, H, C // H).transpose(1, 2)
        a = F.scaled_dot_product_attention(sh(q), sh(k), sh(v), is_causal=True) if hasattr(F, "scaled_dot_product_attention") else None
        if a is None:
            att = (sh(q) @ sh(k).transpose(-2, -1)) / math.sqrt(C // H)
            att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1)
            a = att @ sh(v)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, idx, tgt):
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, V), tgt.view(-1))


m = GPT()
opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
times = []
for s in range(steps + 1):
    idx = torch.randint(0, V, (B, T)); tgt = torch.randint(0, V, (B, T))
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    m(idx, tgt).backward()
    opt.step()
    if s: times.append(time.perf_counter() - t0)  # the first step warms up
times.sort()
print("torch", threads, round(B * T / times[len(times) // 2], 1))
