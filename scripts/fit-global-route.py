#!/usr/bin/env python3
"""Fit a joined global route (``flow.global_cond``) with the rest of the model frozen, before training on.

    scripts/switch-on.py WEIGHTS JOINED flow.global_cond=true
    scripts/fit-global-route.py JOINED OUT --clips 2000 --steps 1500
    openfoley train ... --init OUT --set flow.global_cond=true       # then everything trains together

Why: the route joins at zero and, trained with everything else at the run's learning rate, it stays too
quiet to matter (after 300 steps its contribution varies across clips by 0.003 against the flow-time
embedding's 0.66; docs/sync-diagnosis.md part 24). Here only its two linear maps train (``global_proj``
and, in the U-Net, ``out_mod``), on the flow-matching loss, with everything they read computed once: the
condition of a frozen model does not change, so each clip's condition and latent are cached
(``--cache``) and a step is one pass of the velocity network. The first stage of the usual recipe for a
new head on a trained network (fit the head, then fine-tune everything).

``--params generator`` trains the whole velocity network instead (route included), still on the cached
conditions of the frozen video side. ``--t-max T`` draws the flow times from U[0, T) (``--low-share S``:
for a share S of each batch, the rest from the model's sampler): the start of the path, which the
model's logit-normal sampler almost never draws. Part 24's runs:

    scripts/fit-global-route.py JOINED runs/route-17300-t01 --clips 3000 --held-out 300 --steps 1500 --t-max 0.1
    scripts/fit-global-route.py JOINED runs/gen-low --params generator --lr 1e-4 --steps 1000 \
        --t-max 0.1 --low-share 0.25 --clips 3000 --held-out 300

Data: ``--clips`` live renders of the bank's train split (seed ``--seed``, walkers as ``--walkers``),
the last ``--held-out`` of them kept out of training; the loss on those, with fixed noise and flow
times, is printed before and after (and every ``--log-every`` steps), with the model's sampler and,
given ``--t-max``, on U[0, T) alone. Adam at ``--lr``, batch ``--batch``. The cache is reused when its
weights path, clip count, seed and walkers match (not the weights' contents: give a new ``--cache``
after changing a weights folder in place).

``--ema D`` keeps a moving average of the trained network (``training.ema.EMA``, decay D) and saves it
instead of the last weights, as ``openfoley train`` does; ``--grad-clip``, ``--warmup`` (linear, in
steps) and ``--save-every N`` (snapshots OUT-<step>) complete a longer generator stage. Part 25's runs:

    scripts/fit-global-route.py runs/global-17300 runs/gstage-a --params generator --lr 1e-4 --warmup 200 \
        --grad-clip 1.0 --ema 0.999 --steps 4000 --log-every 500 --save-every 1000 --clips 3000 --held-out 300
    # runs/gstage-b: the same with --t-max 0.1 --low-share 0.25

A long stage survives a stopped process: ``--checkpoint PATH`` writes the live network, its average, the
optimiser, the schedule and the random states there at every snapshot (and at the end), and the same
command run again continues from it, bit for bit as if it had not stopped (a larger ``--steps`` extends a
finished run; any other changed setting is refused). ``--precision bf16`` runs the training steps under
bfloat16 autocast (the held-out checks stay in fp32): 1.2x faster on a CPU with AVX-512 BF16
(``benchmarks/generator_step.py``), no faster without it. ``--ema-full`` starts the average at its full
decay, for a stage continued from a snapshot that is already an average (the usual warm-up would let the
live weights' noise into it).

Those runs were made at commit cc030f0. Since then ``--t-max`` uses ``flow.time_sampler.LowMix`` (another
order of draws) and a held-out check no longer reseeds the global RNG, so the figures of ``gen-low``,
``gstage-a`` and ``gstage-b`` are reproduced with that commit's script
(``git show cc030f0:scripts/fit-global-route.py``), not this one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.flow.base import FlowCondition
from openfoley.flow.time_sampler import LowMix
from openfoley.model import FoleyModel
from openfoley.training.condition_cache import cache_conditions
from openfoley.training.ema import EMA
from openfoley.training.loop import precision_autocast


def build_cache(model: FoleyModel, bank: str, clips: int, seed: int, walkers: float) -> dict[str, torch.Tensor]:
    """Each clip's condition (tokens, keys, key_times, key_mask) and latent x1, stacked over clips."""
    from openfoley.data.foleyworld.live import LiveStore

    return cache_conditions(model, LiveStore.for_training(bank, model.cfg, walkers=walkers, seed=seed), clips)


def batch_loss(model: FoleyModel, data: dict[str, torch.Tensor], idx: torch.Tensor, gen: torch.Generator,
               precision: str = "fp32") -> torch.Tensor:
    """The flow loss of clips ``idx`` (fp32; under bfloat16 autocast with ``precision="bf16"``)."""
    with precision_autocast(precision, torch.device("cpu")):
        return _loss(model, data, idx, gen).float()


def _loss(model: FoleyModel, data: dict[str, torch.Tensor], idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    cond = FlowCondition(tokens=data["tokens"][idx], keys=data["keys"][idx], key_times=data["key_times"][idx],
                         key_mask=data["key_mask"][idx])
    return model.generator.loss(data["x1"][idx], cond, gen).loss


def held_out_loss(model: FoleyModel, data: dict[str, torch.Tensor], idx: torch.Tensor, repeats: int = 4,
                  sampler=None) -> float:
    """The flow loss on ``idx`` with fixed noise, flow times and dropout draws (comparable across calls);
    ``sampler`` replaces the generator's time sampler for the measurement."""
    gen = torch.Generator().manual_seed(1234)
    keep = model.generator.time_sampler
    model.generator.time_sampler = sampler or keep
    try:
        # the network's dropout draws from the global RNG: seed it for the check alone, so a training
        # run's own draws do not depend on how often it is measured
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(1234)
            return float(torch.stack([batch_loss(model, data, chunk, gen) for _ in range(repeats)
                                      for chunk in idx.split(32)]).mean())
    finally:
        model.generator.time_sampler = keep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=2000)
    ap.add_argument("--held-out", type=int, default=200)
    ap.add_argument("--seed", type=int, default=61)
    ap.add_argument("--walkers", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--log-every", type=int, default=250)
    ap.add_argument("--t-max", type=float, default=None,
                    help="draw the flow time uniformly in [0, T_MAX) instead of the model's time sampler "
                         "(for a share --low-share of the batch when that is given)")
    ap.add_argument("--low-share", type=float, default=None,
                    help="with --t-max: the share of each batch drawn from [0, T_MAX); the rest from the model's sampler")
    ap.add_argument("--params", choices=("route", "generator"), default="route",
                    help="what trains: the route's two maps, or every parameter of the velocity network")
    ap.add_argument("--cache", default=None, help="a .pt file: read the cached clips from it, or write them there")
    ap.add_argument("--ema", type=float, default=None,
                    help="keep an exponential moving average of the trained network (this decay) and save it")
    ap.add_argument("--ema-full", action="store_true",
                    help="with --ema: the full decay from the first step (no warm-up of the average), for "
                         "weights that are already an average, such as a snapshot of an earlier stage")
    ap.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this")
    ap.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up over this many steps")
    ap.add_argument("--save-every", type=int, default=None,
                    help="also save the weights every this many steps, to OUT-<step>")
    ap.add_argument("--checkpoint", default=None,
                    help="a .pt file: the run's full state, written at every snapshot and at the end; "
                         "the same command continues from it")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="the training steps' precision (bf16: autocast; the held-out checks stay fp32)")
    args = ap.parse_args(argv)
    lw = load_weights(args.weights)
    if not lw.config.flow.global_cond:
        print(f"error: {args.weights}: flow.global_cond is off (join the route with scripts/switch-on.py first)",
              file=sys.stderr)
        return 2
    if args.t_max is not None and not (0 < args.t_max <= 1 and (args.low_share is None or 0 <= args.low_share <= 1)):
        print("error: --t-max must be in (0, 1] and --low-share in [0, 1]", file=sys.stderr)
        return 2
    if args.ema is not None and not 0 < args.ema < 1:
        print("error: --ema must be in (0, 1)", file=sys.stderr)
        return 2
    if args.ema_full and args.ema is None:
        print("error: --ema-full needs --ema", file=sys.stderr)
        return 2
    if args.warmup < 0 or (args.grad_clip is not None and not args.grad_clip > 0) or (
            args.save_every is not None and args.save_every < 1):
        print("error: --warmup must be >= 0, --grad-clip > 0 and --save-every >= 1", file=sys.stderr)
        return 2
    if not 0 < args.held_out < args.clips:
        print("error: --held-out must be between 0 and --clips", file=sys.stderr)
        return 2
    model = FoleyModel(lw.config)
    model.load_state_dict(lw.state)
    model.eval()
    net = model.generator.net
    route = [p for name, p in net.named_parameters()
             if args.params == "generator" or name.startswith(("global_proj.", "out_mod."))]
    model.requires_grad_(False)
    for p in route:
        p.requires_grad_(True)

    key = {"weights": str(Path(args.weights).resolve()), "clips": args.clips, "seed": args.seed, "walkers": args.walkers}
    data = None
    if args.cache and Path(args.cache).is_file():
        saved = torch.load(args.cache)
        if saved.get("key") == key:
            data = saved["data"]
            print(f"{args.cache}: {args.clips} cached clips")
    if data is None:
        data = build_cache(model, args.bank, args.clips, args.seed, args.walkers)
        if args.cache:
            torch.save({"key": key, "data": data}, args.cache)
    base = model.generator.time_sampler
    low_only = None
    if args.t_max is not None:  # U[0, T) alone is the same mix with every draw replaced
        low_only = LowMix(base, 1.0, args.t_max)
        model.generator.time_sampler = LowMix(base, 1.0 if args.low_share is None else args.low_share, args.t_max)
    n_train = args.clips - args.held_out
    held = torch.arange(n_train, args.clips)

    def measure() -> dict[str, float]:
        out = {"held_out": held_out_loss(model, data, held, sampler=base)}
        if low_only is not None:
            out["held_out_low_t"] = held_out_loss(model, data, held, sampler=low_only)
        return out

    def show(m: dict[str, float]) -> str:
        return ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in m.items())

    before = measure()
    print(f"before: {show(before)}", flush=True)

    ema = EMA(net, args.ema, warmup=not args.ema_full) if args.ema is not None else None

    @contextlib.contextmanager
    def averaged():
        """The EMA weights in ``net`` for the block (nothing changes without ``--ema``), then the live ones."""
        if ema is None:
            yield
            return
        live = {k: v.clone() for k, v in net.state_dict().items()}
        net.load_state_dict(ema.model.state_dict())
        try:
            yield
        finally:
            net.load_state_dict(live)

    opt = torch.optim.Adam(route, lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / args.warmup) if args.warmup else 1.0)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)  # the network's dropout: the same draws whether the cache was built or read
    # what a checkpoint must share with the command that continues it (--steps may grow)
    run_key = {**key, **{k: getattr(args, k) for k in ("lr", "batch", "params", "t_max", "low_share", "ema",
                                                          "grad_clip", "warmup", "held_out", "precision",
                                                          "ema_full")}}
    first = 1
    if args.checkpoint and Path(args.checkpoint).is_file():
        ck = torch.load(args.checkpoint, weights_only=False)
        if ck["key"] != run_key:
            diff = sorted(k for k in run_key if ck["key"].get(k) != run_key[k])
            print(f"error: {args.checkpoint}: made by another run (differs in {', '.join(diff)})", file=sys.stderr)
            return 2
        if ck["step"] >= args.steps:
            print(f"error: {args.checkpoint}: already at step {ck['step']}; give --steps above it to go on",
                  file=sys.stderr)
            return 2
        net.load_state_dict(ck["net"])
        if ema is not None:
            ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["rng"])
        first = ck["step"] + 1
        print(f"{args.checkpoint}: continuing from step {ck['step']}", flush=True)

    def checkpoint(step: int) -> None:
        if not args.checkpoint:
            return
        tmp = Path(f"{args.checkpoint}.tmp")
        torch.save({"key": run_key, "step": step, "net": net.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None, "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": gen.get_state(), "rng": torch.get_rng_state()}, tmp)
        tmp.replace(args.checkpoint)

    net.train()  # the frozen network's dropout as in training
    t0, running = time.perf_counter(), []
    for step in range(first, args.steps + 1):
        idx = torch.randint(0, n_train, (args.batch,), generator=gen)
        loss = batch_loss(model, data, idx, gen, args.precision)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(route, args.grad_clip)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update(net)
        running.append(float(loss.detach()))
        if args.save_every and step % args.save_every == 0 and step < args.steps:
            with averaged():
                save_weights(f"{args.out}-{step}", model.state_dict(), model.cfg, {**lw.meta, "route_fit_step": step})
            checkpoint(step)
        if step % args.log_every == 0 or step == args.steps:
            net.eval()
            with averaged():
                h = measure()
            net.train()
            print(f"step {step}: train {sum(running) / len(running):.4f}, {show(h)}, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            running = []
    checkpoint(args.steps)
    net.eval()
    if ema is not None:
        net.load_state_dict(ema.model.state_dict())
    after = measure()
    meta = {**lw.meta, "route_fit": {**key, "steps": args.steps, "lr": args.lr, "batch": args.batch, "t_max": args.t_max,
                                     "low_share": args.low_share, "params": args.params, "ema": args.ema,
                                     "grad_clip": args.grad_clip, "warmup": args.warmup,
                                     "held_out": args.held_out, "precision": args.precision,
                                     "ema_full": args.ema_full,
                                     "start_step": first - 1, "loss_before": before, "loss_after": after}}
    save_weights(args.out, model.state_dict(), model.cfg, meta)
    print(json.dumps({"held_out_loss_before": round(before["held_out"], 4),
                      "held_out_loss_after": round(after["held_out"], 4), "out": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
