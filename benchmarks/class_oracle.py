"""Would the generator make each class's sound if it were told the class? (docs/sync-diagnosis.md part 25)

    python benchmarks/class_oracle.py --weights builtin --clips 3000 --steps 2000 --test 200 \
        --cache runs/oracle-cache.pt

Test-closed FAD stays far above the retrieval row's, and the generated sound gets the clip's own class
in a few percent of clips (parts 17-19, 25). Two readings: the video side does not tell the generator
which sound it is (then more appearance learning helps), or the generator cannot make that sound even
when told (then it is the generator's size and training). This separates them with a label the shipped
model never sees, as a diagnosis only:

- the weights (with ``flow.global_cond``: the route into the flow-time embedding) are frozen but for the
  velocity network; each clip's condition and latent are computed once for ``--clips`` live renders of
  the bank's train split (seed 71, walkers 0.5) and cached with the clip's class;
- two copies of the velocity network train from the same weights on the same draws (``--steps``,
  Adam ``--lr``, batch 16, gradient clip 1, EMA 0.999 saved): ``control`` as it is, and ``oracle`` with
  a learned class embedding (zero at start) added to the global route, so every modulation reads the
  class; CFG's two branches both get it, so the class is not amplified by the guidance;
- both generate (the weights' sampler settings, onset guidance included) for ``--test`` live renders of
  test-closed (seed 42), Griffin-Lim to audio; the reference is the real audio of the same renders
  through the same Griffin-Lim (the ground-truth row's treatment), and FAD, its mean term and the share
  of clips whose generated audio gets its real audio's top class come from the shipped evaluator.

Prints one line per arm and appends a JSON record to ``--log``. The starting weights' own line (no
training) is printed too, so ``oracle - control`` is what the class adds at equal training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

TRAIN_SEED, TEST_SEED = 71, 42


class OracleRoute(nn.Module):
    """The global route plus a class embedding: x (B, 2 dc) -> proj(x) + emb(cls), cls (b,) repeated
    over the B = k b rows of CFG's stacked branches."""

    def __init__(self, proj: nn.Module, classes: int, width: int):
        super().__init__()
        self.proj = proj
        self.emb = nn.Embedding(classes, width)
        nn.init.zeros_(self.emb.weight)
        self.cls: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.proj(x)
        if self.cls is None:
            return out
        reps, rem = divmod(x.shape[0], self.cls.shape[0])
        if rem:
            raise ValueError(f"OracleRoute: {x.shape[0]} rows for {self.cls.shape[0]} classes")
        return out + self.emb(self.cls.repeat(reps))


def load(weights: str):
    from openfoley.checkpoint import load_weights
    from openfoley.model import FoleyModel

    lw = load_weights(weights)
    model = FoleyModel(lw.config)
    model.load_state_dict(lw.state)
    return model.eval()


def build_train_cache(model, bank: str, clips: int, names: list[str]) -> dict[str, torch.Tensor]:
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.training.condition_cache import cache_conditions

    store = LiveStore.for_training(bank, model.cfg, walkers=0.5, seed=TRAIN_SEED)
    return cache_conditions(model, store, clips, labels=names, log_every=50)


def train_arm(model, data: dict[str, torch.Tensor], route: OracleRoute | None, steps: int, lr: float, seed: int,
              emb_lr: float | None = None):
    """Train model.generator.net (and ``route``'s embedding, at ``emb_lr``, default ``lr``) on the cached
    clips; -> the EMA state of the net."""
    from openfoley.flow.base import FlowCondition
    from openfoley.training.ema import EMA

    net = model.generator.net
    params = list(net.parameters())
    emb = [route.emb.weight] if route is not None else []
    rest = [q for q in params if all(q is not e for e in emb)]
    ema = EMA(net, 0.999)
    opt = torch.optim.Adam([{"params": rest, "lr": lr}] + ([{"params": emb, "lr": emb_lr or lr}] if emb else []))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net.train()
    n, t0, running = len(data["x1"]), time.perf_counter(), []
    for step in range(1, steps + 1):
        idx = torch.randint(0, n, (16,), generator=gen)
        if route is not None:
            route.cls = data["cls"][idx]
        cond = FlowCondition(tokens=data["tokens"][idx], keys=data["keys"][idx], key_times=data["key_times"][idx],
                             key_mask=data["key_mask"][idx])
        loss = model.generator.loss(data["x1"][idx], cond, gen).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(net)
        running.append(float(loss.detach()))
        if step % 250 == 0 or step == steps:
            print(f"  step {step}: train loss {np.mean(running):.4f}, {time.perf_counter() - t0:.0f} s", flush=True)
            running = []
    net.eval()
    return ema.model.state_dict()


def test_set(model, bank: str, clips: int, names: list[str]):
    """-> (frames (n, t, 3, H, W) uint8, class indices (n,) into ``names``, real log-mels (n, f, m), and for a
    model whose event path reads frames of its own its frames (n, k t, 3, H, W), else None)."""
    from openfoley.data.foleyworld.live import LiveStore, stack_event_frames

    store = LiveStore(bank, model.cfg, split="test-closed", seed=TEST_SEED, event_frames=True)
    items = [store[i] for i in range(clips)]
    frames = torch.stack([it["frames"] for it in items])
    ev = stack_event_frames(items)
    cls = torch.tensor([names.index(it["label"]) for it in items])  # every bank class is in classes.json
    return frames, cls, torch.stack([it["mel"] for it in items]), ev


def embed(ev, wavs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    from openfoley.evaluation.evaluators import audio_clip_outputs

    posts, embs = [], []
    for w in wavs:
        p, e = audio_clip_outputs(ev.audio, w)
        posts.append(p.numpy()), embs.append(e.numpy())
    return np.stack(posts), np.concatenate(embs)


def generate_mels(model, frames: torch.Tensor, route: OracleRoute | None = None, cls: torch.Tensor | None = None,
                  event_frames: torch.Tensor | None = None, **sampler) -> torch.Tensor:
    """frames (n, t, 3, H, W) -> generated log-mels (n, f, m), in batches of 8 seeded by their first index
    (``FoleyModel.generate``'s stages); ``sampler``: ``FoleyModel.sample_latent``'s settings (default:
    the model's own); with ``route``, batch [i, i + 8) gets classes ``cls[i:i + 8]``; ``event_frames``
    (n, k t, 3, H, W) for a model whose event path reads frames of its own."""
    out = []
    for i in range(0, len(frames), 8):
        if route is not None:
            assert cls is not None
            route.cls = cls[i:i + 8]
        with torch.no_grad():
            ev = None if event_frames is None else event_frames[i:i + 8]
            c = model.video_condition(frames[i:i + 8], event_frames=ev)
            out.append(model.latent_to_mel(model.sample_latent(c, torch.Generator().manual_seed(i), **sampler)))
    return torch.cat(out)


def generate(model, frames: torch.Tensor, route: OracleRoute | None, cls: torch.Tensor, vocoder,
             event_frames: torch.Tensor | None = None) -> torch.Tensor:
    return vocoder(generate_mels(model, frames, route, cls, event_frames))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--emb-lr", type=float, default=None,
                    help="the oracle's class embedding's learning rate (default --lr): a zero-started row only "
                         "learns when its class is in the batch")
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--cache", default=None, help="a .pt file for the train clips' conditions (reused when it matches)")
    ap.add_argument("--log", default=None, help="append the JSON record here")
    args = ap.parse_args(argv)
    if args.clips < 16 or args.steps < 1 or args.test < 2:
        print("error: --clips must be at least 16, --steps at least 1 and --test at least 2", file=sys.stderr)
        return 2
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.evaluation.metrics import fad
    from openfoley.vocoder import build_vocoder

    model = load(args.weights)
    if not model.cfg.flow.global_cond:
        print(f"error: {args.weights}: flow.global_cond is off (join the route with scripts/switch-on.py first)",
              file=sys.stderr)
        return 2
    names = sorted(json.loads((Path(args.bank) / "classes.json").read_text()))
    key = {"weights": str(args.weights), "clips": args.clips, "seed": TRAIN_SEED}
    data = None
    if args.cache and Path(args.cache).is_file():
        saved = torch.load(args.cache)
        data = saved["data"] if saved.get("key") == key else None
    if data is None:
        data = build_train_cache(model, args.bank, args.clips, names)
        if args.cache:
            torch.save({"key": key, "data": data}, args.cache)
    ev = load_evaluators()
    vocoder = build_vocoder("griffinlim", model.cfg.audio)
    frames, cls, real_mel, ev_frames = test_set(model, args.bank, args.test, names)
    rpost, remb = embed(ev, vocoder(real_mel))
    start = {k: v.clone() for k, v in model.generator.net.state_dict().items()}
    proj = model.generator.net.global_proj
    record = {"weights": str(args.weights), "clips": args.clips, "steps": args.steps, "lr": args.lr,
              "emb_lr": args.emb_lr, "test": args.test}
    for arm in ("start", "control", "oracle"):
        model.generator.net.global_proj = proj
        model.generator.net.load_state_dict(start)
        route = None
        if arm == "oracle":
            route = OracleRoute(proj, len(names), model.generator.net.width)
            model.generator.net.global_proj = route
        if arm != "start":
            print(f"{arm}: training {args.steps} steps", flush=True)
            state = train_arm(model, data, route, args.steps, args.lr, seed=0, emb_lr=args.emb_lr)
            model.generator.net.load_state_dict(state)
        if route is not None:  # how loud the class is, beside the flow-time embedding it is added to
            with torch.no_grad():
                t_rms = float(model.generator.net.time(torch.linspace(0, 1, 9)).pow(2).mean().sqrt())
            record["emb_rms"] = float(route.emb.weight.detach().pow(2).mean().sqrt())
            record["time_rms"] = t_rms
            print(f"  class embedding RMS {record['emb_rms']:.4f} (flow-time embedding RMS {t_rms:.4f})", flush=True)
        gpost, gemb = embed(ev, generate(model, frames, route, cls, vocoder, ev_frames))
        d = gemb.mean(0) - remb.mean(0)
        row = {"fad": fad(remb, gemb), "mean_term": float(d @ d),
               "same_class": float((gpost.argmax(1) == rpost.argmax(1)).mean()),
               "variance": float(np.trace(np.cov(gemb, rowvar=False)))}
        record[arm] = row
        print(f"{arm}: FAD {row['fad']:.1f}, mean term {row['mean_term']:.0f}, same top class {row['same_class']:.3f}, "
              f"embedding variance {row['variance']:.0f} (real {np.trace(np.cov(remb, rowvar=False)):.0f})", flush=True)
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
