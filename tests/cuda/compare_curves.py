"""Loss curves of `tinyllm pretrain` (or `finetune`) runs on the CPU (fp32) and the GPU (bf16) from the same seed,
data and settings: train and val losses step by step, within a bf16 tolerance; optionally GPU runs
that must be bit-identical (their train/val lines byte-equal), and resumed runs that continue a
checkpoint of the other device.

  compare_curves.py REF.jsonl RUN.jsonl [--same RUN2.jsonl] [--from STEP] [--tol 0.02] [--atol 0]
                    [--label NAME] [--perf]

Passes when every compared step's |loss_run - loss_ref| <= tol * loss_ref + atol (train and val;
atol for fine-tuning losses that fall towards 0, where a relative bound says little). Prints max /
mean differences; --perf also the median tok/s of both runs' perf lines. Exit status 1 on failure."""
import argparse, json, sys


def load(path):
    train, val, lines, perf = {}, {}, [], []
    for line in open(path):
        j = json.loads(line)
        if j.get("type") == "train":
            train[j["step"]] = j["loss"]
            lines.append(line)
        elif j.get("type") == "val":
            val[j["step"]] = j["val_loss"]
            lines.append(line)
        elif j.get("type") == "perf":
            perf.append(j["tok_s"])
    return train, val, lines, perf


def median(x):
    x = sorted(x)
    return x[len(x) // 2] if x else float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("run")
    p.add_argument("--same", help="a second run that must be bit-identical to RUN")
    p.add_argument("--from", dest="start", type=int, default=1, help="first step compared")
    p.add_argument("--tol", type=float, default=0.02)
    p.add_argument("--atol", type=float, default=0.0)
    p.add_argument("--perf", action="store_true", help="print the median tok/s of both runs")
    p.add_argument("--label", default="")
    a = p.parse_args()
    rt, rv, _, rperf = load(a.ref)
    gt, gv, glines, gperf = load(a.run)
    ok = True
    for name, r, g in (("train", rt, gt), ("val", rv, gv)):
        steps = sorted(s for s in g if s in r and s >= a.start)
        if not steps:
            print(f"{a.label} {name}: no common steps"); ok = False; continue
        d = [abs(g[s] - r[s]) for s in steps]
        rel = [abs(g[s] - r[s]) / abs(r[s]) for s in steps]
        worst = max(range(len(steps)), key=lambda i: rel[i])
        good = all(d[i] <= a.tol * abs(r[steps[i]]) + a.atol for i in range(len(steps)))
        ok &= good
        print(f"{a.label} {name} loss, steps {steps[0]}..{steps[-1]} ({len(steps)}): max |d| {max(d):.4f} (rel {max(rel):.4f} at step "
              f"{steps[worst]}: ref {r[steps[worst]]:.4f} run {g[steps[worst]]:.4f}), mean |d| {sum(d) / len(d):.4f}; "
              f"first ref {r[steps[0]]:.4f} run {g[steps[0]]:.4f}, last ref {r[steps[-1]]:.4f} run {g[steps[-1]]:.4f} "
              f"-> {'ok' if good else 'FAIL'} (tol {a.tol}{f' + {a.atol}' if a.atol else ''})")
    if a.same:
        _, _, slines, _ = load(a.same)
        same = slines == glines
        ok &= same
        print(f"{a.label} second GPU run: train/val lines {'bit-identical' if same else 'DIFFER'} ({len(glines)} lines)")
    if a.perf:
        rm, gm = median(rperf), median(gperf)
        print(f"{a.label} throughput: median {rm:.0f} tok/s (ref) vs {gm:.0f} tok/s (run), x{gm / rm:.1f}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
