"""Loss curves of `tinyllm pretrain` runs on the CPU (fp32) and the GPU (bf16) from the same seed,
data and settings: train and val losses step by step, within a bf16 tolerance; optionally GPU runs
that must be bit-identical (their train/val lines byte-equal), and resumed runs that continue a
checkpoint of the other device.

  compare_curves.py REF.jsonl RUN.jsonl [--same RUN2.jsonl] [--from STEP] [--tol 0.02] [--label NAME]

Passes when every compared step's |loss_run - loss_ref| <= tol * loss_ref (train and val). Prints
max / mean differences; exit status 1 on failure."""
import argparse, json, sys


def load(path):
    train, val, lines = {}, {}, []
    for line in open(path):
        j = json.loads(line)
        if j.get("type") == "train":
            train[j["step"]] = j["loss"]
            lines.append(line)
        elif j.get("type") == "val":
            val[j["step"]] = j["val_loss"]
            lines.append(line)
    return train, val, lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("run")
    p.add_argument("--same", help="a second run that must be bit-identical to RUN")
    p.add_argument("--from", dest="start", type=int, default=1, help="first step compared")
    p.add_argument("--tol", type=float, default=0.02)
    p.add_argument("--label", default="")
    a = p.parse_args()
    rt, rv, _ = load(a.ref)
    gt, gv, glines = load(a.run)
    ok = True
    for name, r, g in (("train", rt, gt), ("val", rv, gv)):
        steps = sorted(s for s in g if s in r and s >= a.start)
        if not steps:
            print(f"{a.label} {name}: no common steps"); ok = False; continue
        d = [abs(g[s] - r[s]) for s in steps]
        rel = [abs(g[s] - r[s]) / abs(r[s]) for s in steps]
        worst = max(range(len(steps)), key=lambda i: rel[i])
        good = max(rel) <= a.tol
        ok &= good
        print(f"{a.label} {name} loss, steps {steps[0]}..{steps[-1]} ({len(steps)}): max |d| {max(d):.4f} (rel {max(rel):.4f} at step "
              f"{steps[worst]}: ref {r[steps[worst]]:.4f} run {g[steps[worst]]:.4f}), mean |d| {sum(d) / len(d):.4f}; "
              f"first ref {r[steps[0]]:.4f} run {g[steps[0]]:.4f}, last ref {r[steps[-1]]:.4f} run {g[steps[-1]]:.4f} "
              f"-> {'ok' if good else 'FAIL'} (tol {a.tol})")
    if a.same:
        _, _, slines = load(a.same)
        same = slines == glines
        ok &= same
        print(f"{a.label} second GPU run: train/val lines {'bit-identical' if same else 'DIFFER'} ({len(glines)} lines)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
