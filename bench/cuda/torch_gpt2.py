"""PyTorch baseline for the GPU trainer benchmark (bench/cuda/bench_gpu.sh): GPT-2 pre-training steps
with torch.compile, bf16 autocast, SDPA (flash) attention, fused AdamW, gradient accumulation to the
total batch, on synthetic random tokens: the configuration of the PyTorch row in ANCHORS.md.

  python3 torch_gpt2.py train L H C [--T 1024] [--B 64] [--total 524288] [--steps 10] [--vocab 50257] [--profile]
      (--profile: the last step under torch.profiler, its GPU kernels' times per step to stderr)
  python3 torch_gpt2.py attn B NH T HS      # SDPA forward+backward alone, for the attention kernels

Prints one JSON line: tok/s (median of the steps after the first two), per-step ms, peak memory."""
import argparse, json, math, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.out = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        sh = lambda t: t.view(B, T, self.H, C // self.H).transpose(1, 2)
        a = F.scaled_dot_product_attention(sh(q), sh(k), sh(v), is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, H, C, T, V):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C, H) for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        self.apply(self._init)
        for n, p in self.named_parameters():  # GPT-2's scaled residual projections
            if n.endswith("proj.weight") or n.endswith("out.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx, tgt):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.lnf(x) @ self.wte.weight.t()  # tied output head
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), tgt.view(-1))


def train(a):
    dev = "cuda"
    torch.manual_seed(0)
    Vp = (a.vocab + 127) // 128 * 128  # padded like llm.c and tinyllm; targets stay < vocab
    m = GPT(a.L, a.H, a.C, a.T, Vp).to(dev)
    nparams = sum(p.numel() for p in m.parameters())
    decay = [p for p in m.parameters() if p.dim() >= 2]
    nodecay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
    cm = torch.compile(m)
    accum = a.total // (a.B * a.T)
    g = torch.Generator(device=dev).manual_seed(1)
    times = []
    t_compile = time.perf_counter()
    prof = None
    for step in range(a.steps):
        torch.cuda.synchronize()
        if a.profile and step == a.steps - 1:
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
            prof.__enter__()
        t0 = time.perf_counter()
        for _ in range(accum):
            idx = torch.randint(0, a.vocab, (a.B, a.T), device=dev, generator=g)
            tgt = torch.randint(0, a.vocab, (a.B, a.T), device=dev, generator=g)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = cm(idx, tgt) / accum
            loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if prof is not None:
            prof.__exit__(None, None, None)
            ka = prof.key_averages()
            try:
                tab = ka.table(sort_by="self_device_time_total", row_limit=40, max_name_column_width=90)
            except Exception:  # older PyTorch names the column for CUDA
                tab = ka.table(sort_by="self_cuda_time_total", row_limit=40, max_name_column_width=90)
            print(tab, file=sys.stderr, flush=True)
            break  # the profiled step's time is not a clean one
        times.append(dt)
        if step == 0:
            t_compile = dt
        print(f"torch step {step}: {dt * 1e3:.1f} ms, loss {loss.item() * accum:.4f}", file=sys.stderr, flush=True)
    steady = times[2:] if len(times) > 3 else times[1:]
    med = statistics.median(steady)
    tok_s = a.total / med
    flops = 6 * nparams + 12 * a.L * a.C * a.T
    print(json.dumps({"system": "pytorch", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
                      "L": a.L, "H": a.H, "C": a.C, "T": a.T, "B": a.B, "total_batch": a.total, "params": nparams,
                      "tok_s": round(tok_s, 1), "step_ms": round(med * 1e3, 2), "first_step_s": round(t_compile, 1),
                      "mfu_989": round(tok_s * flops / 989.4e12, 4),
                      "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}), flush=True)


def attn(a):
    dev = "cuda"
    q, k, v = (torch.randn(a.B, a.NH, a.T, a.HS, device=dev, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(a.B, a.NH, a.T, a.HS, device=dev, dtype=torch.bfloat16)
    def fwd():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    def fb():
        o = fwd()
        o.backward(do)
    res = {}
    for name, fn in (("fwd", fwd), ("fwd_bwd", fb)):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(2)]
        ts = []
        for _ in range(10):
            ev[0].record()
            fn()
            ev[1].record()
            torch.cuda.synchronize()
            ts.append(ev[0].elapsed_time(ev[1]))
        res[name + "_ms"] = round(statistics.median(ts), 3)
    # causal attention: 2 matmuls of B*NH*T*T*HS*2/2 flops forward, 2.5x that for the backward
    f = 4 * a.B * a.NH * a.T * a.T * a.HS / 2
    res.update({"system": "pytorch-sdpa", "B": a.B, "NH": a.NH, "T": a.T, "HS": a.HS,
                "fwd_tflops": round(f / res["fwd_ms"] / 1e9, 1), "fwd_bwd_tflops": round(3.5 * f / res["fwd_bwd_ms"] / 1e9, 1)})
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    for n in ("L", "H", "C"):
        t.add_argument(n, type=int)
    t.add_argument("--T", type=int, default=1024)
    t.add_argument("--profile", action="store_true")
    t.add_argument("--B", type=int, default=64)
    t.add_argument("--total", type=int, default=524288)
    t.add_argument("--steps", type=int, default=10)
    t.add_argument("--vocab", type=int, default=50257)
    s = sub.add_parser("attn")
    for n in ("B", "NH", "T", "HS"):
        s.add_argument(n, type=int)
    a = p.parse_args()
    train(a) if a.cmd == "train" else attn(a)
