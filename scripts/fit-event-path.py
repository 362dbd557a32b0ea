#!/usr/bin/env python3
"""Fine-tune a copy of the video side for the onset track alone: the event path.

    scripts/fit-event-path.py WEIGHTS OUT --steps 1500      # OUT: WEIGHTS with a trained event path
    scripts/fit-event-path.py builtin runs/event-c --steps 1500 --falling-share 0.5 --seed 501   # trains it on
    scripts/fit-event-path.py WEIGHTS runs/event-0 --steps 0        # WEIGHTS' own onset track, scored

The built-in model's path came from two runs (docs/sync-diagnosis.md part 29, docs/training.md).

Why: the onset head's peaks are the events onset guidance pulls the sound to (``FoleyResult.video_events``).
It reads MMA's aligned features, which also condition the generator, so the model's joint training
shares one video side between two jobs. Part 27 fitted heads on the frozen features: a convolutional
head halved the falling-object failures but left three clips (arrows) lost on the video side. This asks
whether the video side itself, trained for the onset track alone, finds them: the event path
(``openfoley.alignment.event_path``, ``alignment.event_path``), a copy of WEIGHTS' video encoder, MMA
transformer (video only, as at inference) and onset head, trained on the onset target of the clip's
audio (MSE, as in training), with the generator's own video side left as it is. OUT is WEIGHTS with
``alignment.event_path = true`` and the trained path (its EMA); when WEIGHTS already has an event path,
training continues from it (with a new optimiser).

Data, fresh at every step (no clip is drawn twice): ``--batch`` clips, a share ``--falling-share`` of them
falling-object scenes (one impact source of the train split, ``render_clip(n_sources=1)``, seeds from
``--seed``) and the rest live train renders as ``openfoley train --live`` draws them (walkers 0.5), both at
the model's frame grid and size (``frames_on_grid``). Adam at ``--lr`` after ``--warmup`` linear steps,
cosine to zero, grad clip 1, dropout as in the model; an EMA (``--ema``) of the path is what is scored
and saved.

Scored (the pipeline's peak rule at the model's ``flow.onset_peak_threshold`` and ``--threshold``,
0.1 s, ``benchmarks/peak_rules.video_event_f1``: mean video-event F1 and clips below 0.8), every
``--eval-every`` steps on falling-tune and live-tune, and at the end on every set:

  falling-tune / falling-check   ``benchmarks/sync_check.py``'s clips, seeds 1-6 / 7-12 (H.264 mp4 decoded
                                 as the pipeline reads a file), with their contacts
  live-tune                      200 new train-split scenes of every kind (render seed 4242)
  test-closed / test-open        the benchmark's 200 clips per split (``--stores``)

``--teacher MODEL`` trains the path to give MODEL's onset track instead of the audio's onset target
(distillation: MSE against ``TeacherTrack``, MODEL's track on the same frames, the mean of both paths for
a pair). MODEL's event path must read frames at the path's rate. The checkpoint and OUT's meta record
the SHA-256 of MODEL's weights file, and a checkpoint continues only with the same teacher ("builtin"
names whatever the built-in model is at the time). docs/sync-diagnosis.md part 37 taught the pair's 25 fps
path the pair's track: alone it did not reach the pair, back in the pair it does better than before.

``--in-pair`` (WEIGHTS a pair, ``alignment.event_pair``, with the path the fine one) trains the path inside
WEIGHTS' pair: the loss is on the pair's track, the mean of the trained path's and the frozen coarse path's
(``mix_coarse``), so the pair, not the path alone, is fitted to the target (with ``--teacher``: the same as
fitting the path alone to 2 x the teacher's track - the coarse one, at a quarter of the loss). What is scored
is then the pair's track too. docs/sync-diagnosis.md part 39.

``--h264`` passes every training clip's frames through the H.264 of the benchmark's renders and the
pipeline's reader (``LiveStore(h264=True)``): the scored sets already are (falling) or are not (live-tune)
read from files; part 39 found the round trip alone moves a 25 fps path's peaks.

The sets are cached in ``--eval-cache`` (built once, 5 minutes); ``--no-eval`` scores nothing.
``--checkpoint PATH`` saves the run's state (the path, its EMA, Adam, the step) at every ``--eval-every``,
and the same command continues from it, bit for bit: the clips of step s and its dropout draws are
functions of (``--seed``, s) alone. Any other setting is refused. ``--stop-after N`` stops at step N
(a session's end) with the schedule of ``--steps`` kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from peak_rules import falling_sets, live_tune_set, store_set, video_event_f1  # noqa: E402

from openfoley.alignment.event_path import EventPath, mix_coarse  # noqa: E402
from openfoley.alignment.mma import onset_target  # noqa: E402
from openfoley.checkpoint import load_weights, save_weights  # noqa: E402
from openfoley.config import apply_overrides  # noqa: E402
from openfoley.errors import ConfigError, DataError, OpenFoleyError  # noqa: E402
from openfoley.model import FoleyModel  # noqa: E402
from openfoley.pipeline.folders import resolve_model_dir  # noqa: E402
from openfoley.training.ema import EMA  # noqa: E402

SETS = ("falling-tune", "falling-check", "live-tune", "test-closed", "test-open")


def eval_sets(path: Path, bank_dir: str, stores: str, cfg, with_stores: bool = True) -> dict:
    """The scored sets: name -> {"frames": list of (t, 3, h, w) uint8, "truth": list of (e,) s}, at
    ``cfg.video.fps``; without ``with_stores`` no test-closed / test-open (the stores hold 12.5 fps frames)."""
    if path.is_file():
        return torch.load(path, weights_only=False)
    from openfoley.data.foleyworld.bank import load_bank

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="openfoley-event-path-") as tmp:
        for name, frames, truth in falling_sets(load_bank(bank_dir), cfg, Path(tmp)):
            out[name] = {"frames": frames, "truth": truth}
    frames, truth = live_tune_set(bank_dir, cfg, 200)
    out["live-tune"] = {"frames": frames, "truth": truth}
    for split in ("test-closed", "test-open") if with_stores else ():
        frames, truth = store_set(stores, split)
        out[split] = {"frames": frames, "truth": truth}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


@torch.no_grad()
def tracks_of(path: nn.Module, frames: list[torch.Tensor]) -> np.ndarray:
    path.eval()
    out = [path(torch.stack(frames[i:i + 16])).float() for i in range(0, len(frames), 16)]
    return torch.cat(out).numpy()


def score(path: nn.Module, sets: dict, names, thresholds, fps: float) -> dict[str, dict[float, tuple[float, int]]]:
    res: dict[str, dict[float, tuple[float, int]]] = {}
    for n in names:
        tr = tracks_of(path, sets[n]["frames"])
        res[n] = {}
        for thr in thresholds:
            f1 = video_event_f1(tr, sets[n]["truth"], thr, fps)
            res[n][thr] = (float(f1.mean()), int((f1 < 0.8).sum()))
    return res


def show(label: str, res: dict) -> None:
    for thr in next(iter(res.values())):
        cells = "".join(f"  {n} {res[n][thr][0]:.3f} ({res[n][thr][1]})" for n in res)
        print(f"{label} thr {thr:.2f}:{cells}", flush=True)


class TeacherTrack(nn.Module):
    """A model's onset track from frames (b, k t, 3, h, w) at its event path's rate -> (b, k t):
    ``FoleyModel.onset_track`` for a clip from 0 s, its own frames every k-th of these (for a pair the mean of
    both paths' tracks; ``--teacher``'s target)."""

    def __init__(self, model: FoleyModel):
        super().__init__()
        if model.event_path is None:
            raise ConfigError("the teacher has no event path")
        self.model = model.eval()
        self.k = model.cfg.event_rate
        self.fps = model.event_path.fps

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        track = self.model.onset_track(frames[:, ::self.k], None, None, frames if self.k > 1 else None)
        assert track is not None  # a model with an event path always has a track
        return track


class PairTrack(nn.Module):
    """frames (b, k t, 3, h, w) at the fine path's rate -> (b, k t): ``mix_coarse`` of the fine path's track
    and the coarse path's on every k-th frame (``FoleyModel.onset_track`` of a pair, for a clip from 0 s)."""

    def __init__(self, fine: nn.Module, coarse: nn.Module, k: int):
        super().__init__()
        self.fine, self.coarse, self.k = fine, coarse, int(k)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            coarse = self.coarse(frames[:, ::self.k]).detach()  # (b, t), frozen
        return mix_coarse(self.fine(frames), coarse)


def load_teacher(name: str, fps: float) -> tuple[TeacherTrack, str]:
    """``--teacher``: a model folder (or "builtin") whose event path reads frames at ``fps`` -> (its track, the
    SHA-256 of its weights file); OpenFoleyError else."""
    import hashlib

    from openfoley.lite.export import load_model  # the pipeline's loading, without a vocoder

    folder = resolve_model_dir(name)
    teacher = TeacherTrack(load_model(folder))
    if teacher.fps != fps:
        raise ConfigError(f"{name}: its event path reads {teacher.fps:g} fps frames, the path trained here {fps:g}")
    return teacher, hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


class Draws:
    """The training clips of step s: a function of (seed, s) alone."""

    def __init__(self, bank_dir: str, cfg, seed: int, batch: int, falling_share: float, h264: bool = False):
        from openfoley.config.tools import RenderConfig
        from openfoley.data.foleyworld.live import LiveStore

        self.live = LiveStore.for_training(bank_dir, cfg, walkers=0.5, seed=seed, h264=h264)
        # falling objects: one impact source of a train recording per clip
        rcfg = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
        self.fall = LiveStore(bank_dir, cfg, split="train", seed=seed + 1, render=rcfg, clips=2**31 - 1,
                              n_sources=1, kind="impact", h264=h264)
        self.n_fall = int(round(batch * falling_share))
        self.n_live = batch - self.n_fall
        if self.n_fall:
            try:
                self.fall._ready()
            except DataError as e:  # the train split has no impact class
                raise DataError(f"{e} to draw falling objects from (give --falling-share 0)") from None

    def falling(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        it = self.fall[i]
        return it["frames"], it["mel"]

    def __call__(self, s: int) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (b, t, 3, h, w) uint8, mel (b, f, m)."""
        items = [self.live[s * self.n_live + j] for j in range(self.n_live)]
        frames = [it["frames"] for it in items]
        mels = [it["mel"] for it in items]
        for j in range(self.n_fall):
            f, m = self.falling(s * self.n_fall + j)
            frames.append(f)
            mels.append(m)
        return torch.stack(frames), torch.stack(mels)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--stores", default="data")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--falling-share", type=float, default=0.25)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-cache", default="runs/event-eval.pt")
    ap.add_argument("--threshold", type=float, nargs="*", default=[])
    ap.add_argument("--fps", type=float, default=None,
                    help="the path's frame rate (default: the model's video.fps); at another rate it reads its own "
                         "frames (alignment.event_fps) and test-closed / test-open are not scored")
    ap.add_argument("--teacher", default=None,
                    help="a model whose onset track is the target instead of the audio's (distillation)")
    ap.add_argument("--in-pair", action="store_true",
                    help="WEIGHTS is a pair: fit the pair's track (the mean with its frozen coarse path), not the path's")
    ap.add_argument("--h264", action="store_true",
                    help="train on the clips' frames through the benchmark renders' H.264 and reader (LiveStore h264)")
    ap.add_argument("--no-eval", action="store_true", help="score nothing (no --eval-cache is built)")
    ap.add_argument("--checkpoint", default=None,
                    help="a .pt file: the run's state, written at every --eval-every; the same command continues")
    ap.add_argument("--stop-after", type=int, default=None,
                    help="stop at this step (its checkpoint written) without finishing the schedule of --steps")
    args = ap.parse_args(argv)
    if args.steps < 0 or args.batch < 1 or not 0 <= args.falling_share <= 1 or not 0 < args.ema < 1 \
            or args.eval_every < 1 or args.warmup < 0:
        print("error: --steps >= 0, --batch >= 1, --falling-share in [0, 1], --ema in (0, 1), --eval-every >= 1 "
              "and --warmup >= 0", file=sys.stderr)
        return 2
    if args.stop_after is not None and (args.checkpoint is None or not 0 < args.stop_after < args.steps):
        print("error: --stop-after needs --checkpoint and a step between 0 and --steps", file=sys.stderr)
        return 2
    try:
        weights_dir = resolve_model_dir(args.weights)
        if Path(args.out).resolve() == weights_dir.resolve():
            raise OpenFoleyError(f"{args.out}: is WEIGHTS; give a new folder")
        lw = load_weights(weights_dir)
        cfg = apply_overrides(lw.config, ["alignment.event_path=true"])
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model = FoleyModel(cfg)
    missing, unexpected = model.load_state_dict(lw.state, strict=False)
    if unexpected or any(not k.startswith("event_path.") for k in missing) or (missing and lw.config.alignment.event_path):
        print(f"error: {args.weights}: its tensors do not match its config", file=sys.stderr)
        return 2
    if not lw.config.alignment.event_path:
        model.event_path.copy_from(model.video_encoder, model.mma)  # the model's own video side, to the last bit
    model.eval()
    ck = None
    if args.checkpoint and Path(args.checkpoint).is_file():
        ck = torch.load(args.checkpoint, weights_only=False)
        if ck["settings"] | {"stop_after": None} != vars(args) | {"stop_after": None}:
            print(f"error: {args.checkpoint} was written with other settings (the same command continues it)",
                  file=sys.stderr)
            return 2
    thresholds = sorted({float(cfg.flow.onset_peak_threshold), *args.threshold})
    # the path's frame rate: --fps, else WEIGHTS' own (alignment.event_fps, else video.fps)
    fps = float(cfg.video.fps * cfg.event_rate) if args.fps is None else float(args.fps)
    try:  # what OUT's config says about it, and a config whose frames are the path's
        cfg_out = dataclasses.replace(cfg, alignment=dataclasses.replace(
            cfg.alignment, event_fps=None if fps == cfg.video.fps else fps))
        cfg_ev = cfg if fps == cfg.video.fps else dataclasses.replace(
            cfg_out, video=dataclasses.replace(cfg.video, fps=fps),
            alignment=dataclasses.replace(cfg.alignment, event_fps=None, event_pair=False))
    except ConfigError as e:
        print(f"error: --fps {args.fps}: {e}", file=sys.stderr)
        return 2
    if cfg_ev is not cfg:  # the same tensors, reading frames at another rate
        assert model.event_path is not None
        other = EventPath(cfg_ev)
        other.load_state_dict(model.event_path.state_dict())
        model.event_path = other
    path: EventPath = model.event_path
    coarse = model.coarse_event_path
    if args.in_pair and (coarse is None or cfg.event_rate < 2):
        print(f"error: --in-pair: {args.weights} is not a pair (alignment.event_pair with a faster event path)",
              file=sys.stderr)
        return 2

    def tracked(p: nn.Module) -> nn.Module:
        """What is trained against the target and scored: the path, or with --in-pair the pair around it."""
        return PairTrack(p, coarse.eval(), cfg.event_rate) if args.in_pair else p
    try:
        teacher, teacher_sha = (None, None) if args.teacher is None else load_teacher(args.teacher, fps)
        draws = Draws(args.bank, cfg_ev, args.seed, args.batch, args.falling_share, args.h264)
        sets = {} if args.no_eval else eval_sets(Path(args.eval_cache), args.bank, args.stores, cfg_ev,
                                                 with_stores=cfg_ev is cfg)
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    if ck is not None and ck.get("teacher") != teacher_sha:
        print(f"error: {args.checkpoint} was taught by another --teacher (its weights file changed)", file=sys.stderr)
        return 2

    def report(label: str, model_: nn.Module, names) -> None:
        if sets:
            show(label, score(model_, sets, names, thresholds, fps))

    trained = list(path.parameters())
    opt = torch.optim.Adam(trained, lr=args.lr)
    ema = EMA(path, args.ema)
    step = 0
    if ck is not None:
        path.load_state_dict(ck["path"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        print(f"continued from {args.checkpoint} at step {step}", flush=True)
    else:
        report("step 0", tracked(path), ("falling-tune", "live-tune"))
        if teacher is not None:
            report("teacher", teacher, ("falling-tune", "live-tune"))

    def lr_at(s: int) -> float:
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (s - args.warmup) / max(1, args.steps - args.warmup)))

    t0, losses = time.perf_counter(), []
    while step < args.steps:
        frames, mel = draws(step)
        with torch.no_grad():
            x = model.model_mel(mel)  # (b, f, m), normalised as the model's
        path.train()
        torch.manual_seed(args.seed * 100003 + step)  # dropout of step s, whatever came before
        if teacher is None and not args.in_pair:
            loss = path.loss(frames, x)
        else:
            track = tracked(path)(frames)  # (b, t)
            target = onset_target(x, track.shape[1]) if teacher is None else teacher(frames)
            loss = nn.functional.mse_loss(track.float(), target.float())
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        ema.update(path)
        losses.append(float(loss.detach()))
        step += 1
        if step % args.eval_every == 0 or step in (args.steps, args.stop_after):
            print(f"step {step}: loss {np.mean(losses):.5f}, {time.perf_counter() - t0:.0f} s", flush=True)
            losses = []
            report(f"step {step} ema", tracked(ema.model), ("falling-tune", "live-tune"))
            if args.checkpoint:
                tmp_file = Path(args.checkpoint).with_suffix(".tmp")
                torch.save({"settings": vars(args), "teacher": teacher_sha, "path": path.state_dict(), "ema": ema.state_dict(),
                            "opt": opt.state_dict(), "step": step}, tmp_file)
                tmp_file.replace(args.checkpoint)
        if step == args.stop_after:
            print(f"stopped at step {step} of {args.steps}; the same command without --stop-after continues", flush=True)
            return 0
    final = ema.model if args.steps > 0 else path
    report(f"final (step {step})", tracked(final), SETS if cfg_ev is cfg else SETS[:3])
    model.event_path = final
    save_weights(args.out, {k: v.detach().clone() for k, v in model.state_dict().items()}, cfg_out,
                 {**lw.meta, "event_path": {"from": args.weights, "steps": step, "settings": vars(args),
                                             **({"teacher_sha256": teacher_sha} if teacher_sha else {})}})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
