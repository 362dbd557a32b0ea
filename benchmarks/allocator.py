"""Training-step time with and without ``openfoley.runtime.keep_freed_memory`` (glibc M_TOP_PAD).

    python benchmarks/allocator.py [--preset small] [--batch 8] [--steps 4] [--repeats 2]

Runs benchmarks/train_throughput.py in fresh processes (1 thread), alternating the two settings, and
prints clips/s and the processes' user and system CPU seconds (from ``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(pad: bool, args) -> tuple[float, float, float]:
    code = ("import runpy, sys; from openfoley.runtime import keep_freed_memory; "
            f"assert keep_freed_memory() or not {pad}; " if pad else "import runpy, sys; ")
    code += (f"sys.argv = ['train_throughput.py', '--preset', {args.preset!r}, '--batch', '{args.batch}', "
             f"'--steps', '{args.steps}', '--threads', '1']; "
             f"runpy.run_path({str(HERE / 'train_throughput.py')!r}, run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["OMP_NUM_THREADS"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = [line for line in out.splitlines() if line.startswith(f"| {args.preset}")][-1]
    clips_s = float(re.split(r"\s*\|\s*", row)[5])
    return clips_s, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    res: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for _ in range(args.repeats):
        for pad in (False, True):
            res[pad].append(one(pad, args))
    print(f"{args.preset} preset, batch {args.batch}, {args.steps} steps (first excluded from clips/s), 1 thread, "
          f"{args.repeats} runs each, load average {os.getloadavg()[0]:.1f}")
    print("| allocator | clips/s (mean) | user CPU s | system CPU s |")
    print("|---|---|---|---|")
    for pad, name in ((False, "glibc default"), (True, "keep_freed_memory (M_TOP_PAD 1 GiB)")):
        r = res[pad]
        n = len(r)
        print(f"| {name} | {sum(x[0] for x in r) / n:.2f} | {sum(x[1] for x in r) / n:.1f} | {sum(x[2] for x in r) / n:.1f} |")
    base, new = (sum(x[0] for x in res[p]) / len(res[p]) for p in (False, True))
    print(f"speed-up: {new / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
