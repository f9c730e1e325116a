#!/usr/bin/env python3
"""Compare the loss curves (and speed) of a 1-GPU and a 2-GPU run of the same training.

Trainer logs: JSONL files (SftTrainer's train_log.jsonl), one object per step with "step", "loss" and "tokens_per_s".
Self-test logs (--selftest): the output of `sharptune launch --selftest equivalence`, lines such as
"[rank 0] equivalence step 3 loss 1.234567 tokens 4096 seconds 0.0123" (rank 0's lines are used).

Passes when every step's loss differs by at most --tolerance (relative) and, with --min-speedup, when the 2-GPU
run's median tokens/s is at least that many times the 1-GPU run's. Prints a table and a one-line verdict last.
"""
import argparse
import json
import re
import statistics
import sys

SELFTEST_LINE = re.compile(r"\[rank 0\] equivalence step (\d+) loss ([0-9.eE+-]+) tokens (\d+) seconds ([0-9.eE+-]+)")


def read(path, selftest):
    steps = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if selftest:
                m = SELFTEST_LINE.search(line)
                if m:
                    tokens, seconds = int(m.group(3)), float(m.group(4))
                    steps[int(m.group(1))] = (float(m.group(2)), tokens / seconds if seconds > 0 else None)
            elif line.strip():
                row = json.loads(line)
                if "loss" in row and "step" in row:
                    steps[int(row["step"])] = (float(row["loss"]), row.get("tokens_per_s", row.get("tokens_per_second")))
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("one_gpu")
    parser.add_argument("two_gpus")
    parser.add_argument("--selftest", action="store_true", help="the inputs are selftest outputs, not JSONL logs")
    parser.add_argument("--tolerance", type=float, default=0.03, help="largest relative loss difference per step")
    parser.add_argument("--min-speedup", type=float, default=None, help="smallest tokens/s ratio, 2 GPUs over 1")
    parser.add_argument("--labels", nargs=2, default=["1 gpu", "2 gpus"], help="names of the two runs in the table")
    args = parser.parse_args()

    one, two = read(args.one_gpu, args.selftest), read(args.two_gpus, args.selftest)
    common = sorted(set(one) & set(two))
    if not common:
        print(f"FAIL: no common steps ({len(one)} steps in {args.one_gpu}, {len(two)} in {args.two_gpus})")
        return 1
    worst = 0.0
    print(f"{'step':>5} {'loss ' + args.labels[0]:>16} {'loss ' + args.labels[1]:>16} {'rel diff':>9}")
    for step in common:
        a, b = one[step][0], two[step][0]
        diff = abs(a - b) / max(abs(a), 1e-12)
        worst = max(worst, diff)
        print(f"{step:>5} {a:>16.6f} {b:>16.6f} {diff:>9.2e}")
    ok = worst <= args.tolerance
    verdict = f"{len(common)} steps, largest relative loss difference {worst:.2e} (limit {args.tolerance:g})"
    speeds = [(one[s][1], two[s][1]) for s in common[1:] if one[s][1] and two[s][1]]  # step 1 includes warm-up
    if speeds:
        s1 = statistics.median(x for x, _ in speeds)
        s2 = statistics.median(y for _, y in speeds)
        verdict += f"; tokens/s {s1:,.0f} -> {s2:,.0f} ({s2 / s1:.2f}x)"
        if args.min_speedup is not None and s2 / s1 < args.min_speedup:
            ok = False
            verdict += f" under {args.min_speedup}x"
    elif args.min_speedup is not None:
        ok = False
        verdict += "; no tokens_per_second in the logs"
    print(("OK: " if ok else "FAIL: ") + verdict)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
