"""Seconds per step of the generator stage (``scripts/fit-global-route.py --params generator``) in fp32 and
under bfloat16 autocast, measured in one run, rounds interleaved.

    python benchmarks/generator_step.py --weights builtin --bank data/bank --threads 2 --rounds 3 --steps 8

A step is what the stage does: the flow loss of a batch of cached conditions, backward, clip, Adam. The
cache is ``--clips`` live train renders of the bank (computed once). Each round times ``--steps`` steps
of each precision from the same starting weights and draws (median per step, the first step of each
block dropped), and the table also gives the flow loss of one fixed batch in each precision before any
step, to show that bf16 computes the same loss. Whether bf16 is faster depends on the CPU (AVX-512 BF16
or AMX); run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

from openfoley.checkpoint import load_weights
from openfoley.model import FoleyModel
from openfoley.pipeline.folders import resolve_model_dir

ROOT = Path(__file__).resolve().parents[1]


def _stage():
    spec = importlib.util.spec_from_file_location("fit_global_route", ROOT / "scripts" / "fit-global-route.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu_flags() -> str:
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in words) or "none of avx2/avx512"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args(argv)
    if args.clips < args.batch or args.steps < 2 or args.rounds < 1:
        print("error: need --clips >= --batch, --steps >= 2 and --rounds >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    stage = _stage()
    lw = load_weights(resolve_model_dir(args.weights))
    model = FoleyModel(lw.config)
    model.load_state_dict(lw.state)
    model.eval()
    data = stage.build_cache(model, args.bank, args.clips, seed=7, walkers=0.5)
    net = model.generator.net
    start = copy.deepcopy(net.state_dict())
    model.requires_grad_(False)
    net.requires_grad_(True)

    fixed = torch.arange(args.batch)
    same = {}
    net.eval()
    for prec in ("fp32", "bf16"):
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(0)
            same[prec] = float(stage.batch_loss(model, data, fixed, torch.Generator().manual_seed(0), prec))

    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for r in range(args.rounds):
        for prec in ("fp32", "bf16"):
            net.load_state_dict(start)
            net.train()
            opt = torch.optim.Adam(net.parameters(), lr=1e-5)
            gen = torch.Generator().manual_seed(r)
            torch.manual_seed(r)
            for s in range(args.steps):
                idx = torch.randint(0, args.clips, (args.batch,), generator=gen)
                t = time.perf_counter()
                loss = stage.batch_loss(model, data, idx, gen, prec)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                if s:
                    times[prec].append(time.perf_counter() - t)
    med = {p: statistics.median(v) for p, v in times.items()}
    print(f"CPU flags: {cpu_flags()}; threads {args.threads}; batch {args.batch}; "
          f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M trained parameters")
    print("| precision | s/step (median) | min | max | steps timed | loss of one fixed batch |")
    print("|---|---|---|---|---|---|")
    for p in ("fp32", "bf16"):
        print(f"| {p} | {med[p]:.3f} | {min(times[p]):.3f} | {max(times[p]):.3f} | {len(times[p])} | {same[p]:.4f} |")
    print(f"bf16 speed-up: {med['fp32'] / med['bf16']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
