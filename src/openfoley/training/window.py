"""Pretraining the window video path alone, as a per-frame event detector on live renders.

    scripts/pretrain-window-path.py WEIGHTS OUT --bank data/bank --steps 3000

Shapes: b clips, t video frames, f mel bins, m mel frames, c2 the window path's pooled width (2 c).

Why (docs/sync-diagnosis.md part 15): a walker's foot landing is a 2 x 1-pixel event somewhere in a
shaking 64 px frame. A detector made of the window path's convolutions, trained directly on it with
fresh renders, finds it (test AP 0.19 -> 0.75 in 1,500 steps of 256 frames); trained on 7,000 frames
it memorises them (train AP 1.00, test 0.23); and inside the joint objective, where its only signal
is the onset head's, 500 steps of the built-in model's training left it flat. So the path is
pretrained first, on the model's own onset objective pointed straight at it, then joined.

What is trained: the window encoder's convolutions (``win_convs``) and a small head of its own
(``WindowHead``: c2 -> 128 -> 1) that is thrown away. The target per frame is

- ``audio`` (the default, self-supervised): the onset strength of the clip's own audio at that frame,
  ``onset_target`` of the model's normalised mel, squared error, as the model's onset head learns it;
- ``labels`` (diagnosis only): 1 where one of the renderer's events starts within the frame, else 0,
  binary cross-entropy.

Data: ``LiveStore.for_training`` clips (fresh scenes every step, ``walkers`` of the strike and impact
sources drawn as walkers). Evaluation: average precision of the head's output for "an event starts in
this frame or the one before" on held-out test-open renders, overall and on walker events' frames.

Output: OUT/weights, the input model with the trained convolutions and everything else as it was;
the path's output layer (``win_out``) is untouched, so a model whose ``win_out`` is still zero generates
exactly what it did, and joint training grows the layer from features that already see the event.
OUT/checkpoints (resume state; the same command resumes), OUT/metrics.jsonl.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openfoley.alignment.mma import onset_target
from openfoley.config import Config
from openfoley.encoders.video import WindowVideoEncoder
from openfoley.errors import ConfigError

log = logging.getLogger(__name__)

TARGETS = ("audio", "labels")


@dataclass(frozen=True)
class WindowPretrainConfig:
    steps: int = 3000
    batch: int = 4  # clips per step (t frames each: 100 at the small preset)
    lr: float = 1e-3
    warmup: int = 50  # linear warm-up steps, then cosine to 0 at ``steps``
    grad_clip: float = 1.0
    walkers: float = 0.5  # RenderConfig.walker_share of the training renders
    target: str = "audio"  # audio | labels
    seed: int = 0
    workers: int = 1  # render processes (0: in the training process)
    log_every: int = 10
    ckpt_every: int = 100
    keep_last: int = 2
    eval_every: int = 500
    eval_clips: int = 40  # test-open renders for the AP (0: no evaluation)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"window pretraining target must be one of {TARGETS}, got {self.target!r}")
        if self.steps < 1 or self.batch < 1:
            raise ConfigError(f"window pretraining needs steps >= 1 and batch >= 1, got {self.steps}, {self.batch}")


class WindowHead(nn.Module):
    """(b, t, c2) pooled window cells -> (b, t) one number per frame."""

    def __init__(self, c2: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(c2, 128), nn.GELU(), nn.Linear(128, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)[..., 0]


def event_frames(events: list[Tensor], t: int, fps: float, late: int = 0) -> Tensor:
    """(b, t) float: 1 where an event starts within frame i's interval [i / fps, (i + 1) / fps) or up to
    ``late`` frames before it."""
    y = torch.zeros(len(events), t)
    for j, ev in enumerate(events):
        for e in ev.tolist():
            i = math.floor(e * fps)
            y[j, max(0, i): min(t, i + late + 1)] = 1.0
    return y


def window_loss(encoder: WindowVideoEncoder, head: WindowHead, frames: Tensor, target: Tensor, kind: str) -> Tensor:
    """frames (b, t, 3, h, w), target (b, t) -> the pretraining loss: squared error (``audio``) or binary
    cross-entropy on logits (``labels``) of ``head(encoder.window_features(frames))``."""
    pred = head(encoder.window_features(frames))  # (b, t)
    if pred.shape != target.shape:
        raise ValueError(f"window head output {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if kind == "labels":
        return F.binary_cross_entropy_with_logits(pred, target)
    return F.mse_loss(pred, target)


def _targets(model, batch: list[dict], cfg: WindowPretrainConfig) -> tuple[Tensor, Tensor]:
    """Live items -> frames (b, t, 3, h, w) uint8 and the target (b, t)."""
    frames = torch.stack([it["frames"] for it in batch])
    t = frames.shape[1]
    if cfg.target == "labels":
        return frames, event_frames([torch.as_tensor(it["events"]) for it in batch], t, model.cfg.video.fps)
    with torch.no_grad():
        mel = model.model_mel(torch.stack([it["mel"] for it in batch]))  # (b, f, m)
    return frames, onset_target(mel, t)


APFn = Callable[[np.ndarray, np.ndarray], float]  # (labels bool (n,), scores (n,)) -> average precision


def frame_aps(scores: np.ndarray, items: list[dict], fps: float, average_precision: APFn) -> dict[str, float]:
    """Per-frame scores (clips, t) of live ``items`` -> AP for "an event starts in this frame or the one
    before" over all frames, and (``walk_ap``) over the frames within one frame of walker events against
    all frames without an event (how well it finds a landing), with their chance rates.
    ``average_precision`` is handed in (``openfoley.evaluation.metrics.average_precision``): training
    sits below evaluation."""
    t = scores.shape[1]
    y = event_frames([torch.as_tensor(it["events"]) for it in items], t, fps, late=1).numpy().astype(bool)
    walk = [torch.as_tensor([e for e, k in zip(it["events"], it["event_kinds"], strict=True) if k == "walk"])
            for it in items]
    yw = event_frames(walk, t, fps, late=1).numpy().astype(bool)
    keep = yw | ~y  # walker event frames and frames with no event at all
    out = {"ap": average_precision(y.ravel(), scores.ravel()), "chance": float(y.mean())}
    if yw.any():
        out |= {"walk_ap": average_precision(yw[keep], scores[keep]), "walk_chance": float(yw[keep].mean())}
    return out


def eval_items(bank: str | Path, cfg: Config, clips: int, seed: int = 1) -> list[dict]:
    """The held-out renders the pretraining scores itself on: the first ``clips`` test-open clips at
    render seed ``seed`` (``WindowPretrainConfig.seed`` + 1), the default render settings at 128 px."""
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore

    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    store = LiveStore(bank, cfg, split="test-open", seed=seed, render=render)
    return [store[i] for i in range(clips)]


@torch.no_grad()
def evaluate(encoder: WindowVideoEncoder, head: WindowHead, items: list[dict], fps: float,
             average_precision: APFn) -> dict[str, float]:
    """``frame_aps`` of the head's output on ``items``."""
    frames = torch.stack([it["frames"] for it in items])
    s = torch.cat([head(encoder.window_features(frames[i: i + 8])) for i in range(0, len(items), 8)]).numpy()
    return frame_aps(s, items, fps, average_precision)


def pretrain_window(weights: str | Path, bank: str | Path, out: str | Path, cfg: WindowPretrainConfig,
                    average_precision: APFn | None = None) -> dict[str, Any]:
    """Train the window path of the model in ``weights`` (see the module docstring); returns the last
    evaluation (none without ``average_precision`` or ``cfg.eval_clips``). Resumes from OUT/checkpoints
    when there is one."""
    from openfoley.checkpoint import list_resume, load_resume, load_weights, save_resume, save_weights
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.model import FoleyModel

    lw = load_weights(weights)
    mcfg = lw.config
    if mcfg.encoder.video != "window":
        raise ConfigError(f"{weights}: the video encoder is {mcfg.encoder.video!r}; window pretraining needs "
                          "encoder.video = window (scripts/add-window-path.py makes it)")
    model = FoleyModel(mcfg).eval()
    model.load_state_dict(lw.state)
    enc = model.video_encoder
    assert isinstance(enc, WindowVideoEncoder)
    torch.manual_seed(cfg.seed)
    head = WindowHead(enc.pooled_width)
    params = [*enc.win_convs.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (
        1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step = 0
    ckpts = list_resume(out)
    if ckpts:
        st = load_resume(ckpts[-1])
        enc.win_convs.load_state_dict(st["win_convs"])
        head.load_state_dict(st["head"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step = int(st["step"])
        log.info("resumed from %s at step %d", ckpts[-1], step)

    store = LiveStore.for_training(bank, mcfg, cfg.walkers, seed=cfg.seed)
    # batch k holds clips k * batch .. (k + 1) * batch - 1: a resumed run sees the clips it would have
    loader = torch.utils.data.DataLoader(
        _Batches(store, cfg.batch, step, cfg.steps), batch_size=None, num_workers=cfg.workers,
        prefetch_factor=2 if cfg.workers > 0 else None, persistent_workers=False)
    test_items = eval_items(bank, mcfg, cfg.eval_clips, cfg.seed + 1) if cfg.eval_clips > 0 and average_precision else []
    metrics = out / "metrics.jsonl"
    last: dict[str, Any] = {}
    t0, seen = time.perf_counter(), 0
    enc.train()
    for batch in loader:
        frames, target = _targets(model, batch, cfg)
        loss = window_loss(enc, head, frames, target, cfg.target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        step += 1
        seen += len(batch)
        rec: dict[str, Any] = {}
        if step % cfg.log_every == 0:
            rec = {"step": step, "loss": loss.item(), "lr": sched.get_last_lr()[0],
                   "clips_per_s": seen / (time.perf_counter() - t0)}
        if test_items and (step % cfg.eval_every == 0 or step == cfg.steps):
            enc.eval()
            assert average_precision is not None
            last = {"step": step, **evaluate(enc, head, test_items, mcfg.video.fps, average_precision)}
            enc.train()
            rec = {**rec, **last, "step": step}
        if rec:
            with open(metrics, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            log.info("%s", " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_resume(out, step, {"win_convs": enc.win_convs.state_dict(), "head": head.state_dict(),
                                    "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step},
                        keep_last=cfg.keep_last)
    enc.eval()
    save_weights(out / "weights", model.state_dict(), mcfg,
                 {**lw.meta, "window_pretrained": {"from": str(weights), **dataclasses.asdict(cfg), "steps_done": step}})
    return last


class _Batches(torch.utils.data.IterableDataset):
    """Lists of ``batch`` live items for steps ``start`` .. ``steps`` - 1; split over loader workers by step."""

    def __init__(self, store, batch: int, start: int, steps: int):
        self.store, self.batch, self.start, self.steps = store, batch, start, steps

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        k, n = (info.id, info.num_workers) if info is not None else (0, 1)
        for s in range(self.start + k, self.steps, n):
            yield [self.store[s * self.batch + j] for j in range(self.batch)]
