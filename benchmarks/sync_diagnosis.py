"""Why does the built-in model not synchronise? Small decisive experiments (docs/sync-diagnosis.md).

    python benchmarks/sync_diagnosis.py data    [--store data/store-small-test-closed --bank data/bank]
    python benchmarks/sync_diagnosis.py probe   [--train 300 --test 100 --weights builtin]
    python benchmarks/sync_diagnosis.py oracle  [--steps 400 --eval 40 --out runs/diag-oracle]
    python benchmarks/sync_diagnosis.py sampler [--clips 40 --weights builtin]

Every part prints a table and appends a JSON line to ``--log`` (default runs/sync-diagnosis.jsonl).

- ``data``: on the feature store the benchmark reads (encoded mp4 -> extract) and on live renders,
  the mean cross-correlation between the true event train and (a) the audio onset strength of the
  stored log-mel (positive spectral flux, 20 ms hop), (b) the frames' change energy (|first| and
  |second| temporal differences, 80 ms grid), at lags -5..5 frames. The argmax lag is the offset.
- ``probe``: a logistic-regression probe per frame ("is a true event within +-40 ms of this frame's
  time?") on held-out live renders, for raw pixels, frame differences, the trained model's video
  encoder and MMA-aligned features, at 12.5 fps and 25 fps, with and without +-2 frames of context.
  Metric: average precision (AP; the positive rate is the chance level) and the best frame-level F1.
- ``oracle``: the small preset's CFM generator trained alone on live renders, conditioned on the
  true event track at the audio token rate (one channel: 1 where an event starts in the token) instead
  of video features; event-time F1 of Griffin-Lim audio of its samples against the truth, at several
  step counts, beside the same clips' real audio through Griffin-Lim (the ceiling).
- ``sampler``: the shipped model's event-time F1 and detected-onset count on test-closed clips
  against CFG scale, steps and the Eq. 7 refinement.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly

from openfoley.config import get_preset as preset
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld.live import LiveStore, frames_on_grid, stack_event_frames
from openfoley.evaluation.metrics import ONSET_SR, event_time_error, onset_detect
from openfoley.features.mel import log_mel_to_wav


def load_model(path: str):
    from openfoley.pipeline.core import FoleyPipeline

    return FoleyPipeline.from_pretrained(path, device="cpu", vocoder="griffinlim").model.eval()


def log_line(path: str, rec: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def event_f1(wav16k: np.ndarray, events: np.ndarray, sr: int = 16000) -> tuple[float, int]:
    """Event-time F1 (tol 0.1 s) of onsets detected at 22.05 kHz, and the number of detected onsets."""
    w = resample_poly(np.asarray(wav16k, dtype=np.float64), ONSET_SR, sr) if sr != ONSET_SR else wav16k
    det = onset_detect(w, ONSET_SR)
    return event_time_error(det, np.asarray(events, dtype=np.float64)).f1, len(det)


def event_track(events: np.ndarray, n: int, step: float, half_width: float | None = None,
                centre: bool = True) -> np.ndarray:
    """(n,) 0/1: frame i (time (i+0.5)*step if centre else i*step) has an event within half_width
    (default: the event starts inside the frame's own interval [i*step, (i+1)*step))."""
    out = np.zeros(n, dtype=np.float32)
    for e in np.asarray(events, dtype=np.float64):
        if half_width is None:
            i = int(np.floor(e / step))
            if 0 <= i < n:
                out[i] = 1
        else:
            c = (np.arange(n) + (0.5 if centre else 0.0)) * step
            out[np.abs(c - e) <= half_width + 1e-9] = 1
    return out


# --- data -----------------------------------------------------------------------------------------
def _xcorr(a: np.ndarray, b: np.ndarray, lags: range) -> np.ndarray:
    """Normalised cross-correlation of a and b at each lag (b shifted: positive lag = b later)."""
    a = (a - a.mean()) / (a.std() + 1e-9)
    b = (b - b.mean()) / (b.std() + 1e-9)
    out = []
    for L in lags:
        if L >= 0:
            out.append(float((a[: len(a) - L] * b[L:]).mean()))
        else:
            out.append(float((a[-L:] * b[: len(b) + L]).mean()))
    return np.asarray(out)


def _onset_strength(mel: np.ndarray) -> np.ndarray:
    """log-mel (f, m) -> (m,) positive flux summed over bins, at the mel frame of the rise."""
    d = np.clip(np.diff(mel, axis=1), 0, None).sum(0)
    return np.concatenate([[0.0], d])


def _change(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = frames.astype(np.float32) / 255.0
    d1 = np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))
    d1 = np.concatenate([[0.0], d1])
    d2 = np.abs(np.diff(x, n=2, axis=0)).mean(axis=(1, 2, 3))
    d2 = np.concatenate([[0.0], d2, [0.0]])
    return d1, d2


def part_data(args) -> None:
    from openfoley.features.store import FeatureStore

    cfg = preset("small")
    hop = cfg.audio.hop_length / cfg.audio.sample_rate
    rows = []
    sources = []
    if args.store and Path(args.store).exists():
        st = FeatureStore(args.store)
        recs = st.records
        sources.append(("store (mp4 -> extract)", st, lambda i: np.asarray([e["time"] for e in recs[i]["extra"]["events"]])))
    live = LiveStore(args.bank, cfg, split="test-closed", seed=7)
    sources.append(("live render", live, None))
    lags_a, lags_v = range(-5, 6), range(-3, 4)
    for name, st, ev_of in sources:
        ca, cv1, cv2, n = np.zeros(len(lags_a)), np.zeros(len(lags_v)), np.zeros(len(lags_v)), 0
        first_err = []
        for i in range(min(args.clips, len(st))):
            it = st[i]
            ev = ev_of(i) if ev_of else it["events"]
            if len(ev) == 0:
                continue
            mel = it["mel"].numpy()
            m = mel.shape[1]
            train_a = np.zeros(m)
            for e in ev:
                k = int(round(e / hop))
                if 0 <= k < m:
                    train_a[k] = 1
            on = _onset_strength(mel)
            ca += _xcorr(train_a, on, lags_a)
            # per event: the lag of the strongest onset within +-100 ms
            for e in ev:
                k = int(round(e / hop))
                lo, hi = max(0, k - 5), min(m, k + 6)
                if hi > lo:
                    first_err.append((lo + int(np.argmax(on[lo:hi])) - k) * hop)
            fr = it["frames"].numpy()
            t = fr.shape[0]
            step = 1.0 / cfg.video.fps
            train_v = event_track(ev, t, step)  # event inside frame interval i
            d1, d2 = _change(fr)
            cv1 += _xcorr(train_v, d1, lags_v)
            cv2 += _xcorr(train_v, d2, lags_v)
            n += 1
        ca, cv1, cv2 = ca / n, cv1 / n, cv2 / n
        rec = {"part": "data", "source": name, "clips": n,
               "audio_lag_ms": float(list(lags_a)[int(np.argmax(ca))] * hop * 1000),
               "audio_xcorr": [round(float(v), 3) for v in ca],
               "event_to_onset_median_ms": float(np.median(first_err) * 1000),
               "event_to_onset_iqr_ms": [float(np.percentile(first_err, 25) * 1000), float(np.percentile(first_err, 75) * 1000)],
               "video_d1_lag_frames": int(list(lags_v)[int(np.argmax(cv1))]), "video_d1_xcorr": [round(float(v), 3) for v in cv1],
               "video_d2_lag_frames": int(list(lags_v)[int(np.argmax(cv2))]), "video_d2_xcorr": [round(float(v), 3) for v in cv2]}
        rows.append(rec)
        log_line(args.log, rec)
    for r in rows:
        print(f"{r['source']:24s} clips {r['clips']:4d}  audio onset lag {r['audio_lag_ms']:+6.1f} ms "
              f"(median per event {r['event_to_onset_median_ms']:+.0f} ms, IQR {r['event_to_onset_iqr_ms']})  "
              f"xcorr@0 {r['audio_xcorr'][5]:.3f}")
        print(f"{'':24s} video |d1| lag {r['video_d1_lag_frames']:+d} fr xcorr {r['video_d1_xcorr']}  "
              f"|d2| lag {r['video_d2_lag_frames']:+d} fr xcorr {r['video_d2_xcorr']}")


# --- probe ----------------------------------------------------------------------------------------
def _pool(x: torch.Tensor, s: int = 8) -> torch.Tensor:
    """(t, 3, H, W) float -> (t, 3*s*s)."""
    return F.adaptive_avg_pool2d(x, s).flatten(1)


def _context(x: torch.Tensor, c: int) -> torch.Tensor:
    """(t, e) -> (t, (2c+1) e): each frame with its c neighbours on each side (edge-padded)."""
    if c == 0:
        return x
    pad = torch.cat([x[:1].expand(c, -1), x, x[-1:].expand(c, -1)])
    return torch.cat([pad[i: i + x.shape[0]] for i in range(2 * c + 1)], 1)


def _fit_probe(xtr, ytr, xte, yte, iters: int = 300) -> dict:
    from openfoley.evaluation.metrics import average_precision

    mu, sd = xtr.mean(0), xtr.std(0) + 1e-5
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = torch.zeros(xtr.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    pos = float(ytr.mean())
    opt = torch.optim.Adam([w, b], lr=0.05)
    pw = torch.tensor((1 - pos) / max(pos, 1e-6))
    for _ in range(iters):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xtr @ w + b, ytr, pos_weight=pw) + 1e-3 * w.pow(2).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        s = (xte @ w + b).numpy()
    y = yte.numpy().astype(bool)
    ap = average_precision(y, s)
    best = 0.0
    for th in np.quantile(s, np.linspace(0.5, 0.995, 60)):
        p = s >= th
        tp = (p & y).sum()
        if tp:
            pr, rc = tp / p.sum(), tp / y.sum()
            best = max(best, 2 * pr * rc / (pr + rc))
    return {"ap": float(ap), "f1": float(best), "pos_rate": float(y.mean())}


def part_probe(args) -> None:
    cfg = preset("small")
    model = load_model(args.weights) if args.weights else None
    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    feats: dict[str, dict[str, list]] = {}
    labels: dict[str, dict[str, list]] = {}

    def add(split, name, x, y):
        feats.setdefault(name, {}).setdefault(split, []).append(x)
        labels.setdefault(name, {}).setdefault(split, []).append(y)

    t0 = time.perf_counter()
    for split, n in (("train", args.train), ("test-closed", args.test)):
        live = LiveStore(args.bank, cfg, split=split, seed=11, render=render)
        for i in range(n):
            clip = live.clip(i)
            ev = np.asarray([e["time"] for e in clip.truth["events"]])
            for fps in (12.5, 25.0):
                fr = torch.from_numpy(frames_on_grid(clip.frames, render.fps, fps, cfg.video.size)).float() / 255
                t = fr.shape[0]
                y = torch.from_numpy(event_track(ev, t, 1.0 / fps, half_width=0.04))
                raw = _pool(fr)
                diff = torch.cat([torch.zeros_like(raw[:1]), _pool((fr[1:] - fr[:-1]).abs())])
                sdiff = torch.cat([torch.zeros_like(raw[:1]), _pool(fr[1:] - fr[:-1])])
                tag = f"{fps:g}fps"
                add(split, f"raw pixels 8x8 {tag}", raw, y)
                add(split, f"raw + |diff| 8x8 {tag}", torch.cat([raw, diff, sdiff], 1), y)
                add(split, f"raw + |diff| 8x8 +-2 ctx {tag}", _context(torch.cat([raw, diff, sdiff], 1), 2), y)
                add(split, f"|diff| 16x16 +-2 ctx {tag}", _context(torch.cat([torch.zeros(1, 768), _pool((fr[1:] - fr[:-1]).abs(), 16)]), 2), y)
                if fps == cfg.video.fps and model is not None:
                    with torch.no_grad():
                        u8 = (fr * 255).round().to(torch.uint8)[None]
                        enc = model.video_encoder(u8).features[0]
                        ali = model.align(u8)[0]
                    add(split, f"model video encoder {tag}", enc, y)
                    add(split, f"model video encoder +-2 ctx {tag}", _context(enc, 2), y)
                    add(split, f"model MMA-aligned {tag}", ali, y)
                    add(split, f"model MMA-aligned +-2 ctx {tag}", _context(ali, 2), y)
    print(f"features of {args.train}+{args.test} clips in {time.perf_counter() - t0:.0f} s")
    print(f"{'features':40s} {'dim':>5s} {'AP':>6s} {'chance':>6s} {'best F1':>7s}")
    for name in feats:
        xtr, xte = torch.cat(feats[name]["train"]), torch.cat(feats[name]["test-closed"])
        ytr, yte = torch.cat(labels[name]["train"]), torch.cat(labels[name]["test-closed"])
        r = _fit_probe(xtr, ytr, xte, yte)
        rec = {"part": "probe", "features": name, "dim": int(xtr.shape[1]), **r,
               "train_clips": args.train, "test_clips": args.test, "weights": args.weights}
        log_line(args.log, rec)
        print(f"{name:40s} {xtr.shape[1]:5d} {r['ap']:6.3f} {r['pos_rate']:6.3f} {r['f1']:7.3f}")


# --- oracle ---------------------------------------------------------------------------------------
def part_oracle(args) -> None:
    from openfoley.flow import FlowCondition, build_generator
    from openfoley.nn.patches import patchify, unpatchify
    from openfoley.training.optim import build_optimizer

    cfg = preset("small")
    cfg = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, refine=False, net=args.net))
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    gen = build_generator(cfg)
    d = cfg.cond_dim
    n = cfg.audio_tokens
    p = cfg.encoder.audio_patch
    tok_s = cfg.seconds / n
    frozen = load_model(args.weights) if args.cond in ("aligned", "onset") else None
    # the frozen model's frames; for an event path at its own rate (cfg.event_rate > 1) its frames too
    wanted = frozen is not None and args.cond == "onset"
    live = LiveStore(args.bank, frozen.cfg if wanted else cfg, split="train", seed=3, event_frames=wanted)
    test = LiveStore(args.bank, frozen.cfg if wanted else cfg, split="test-closed", seed=5, event_frames=wanted)
    mels = torch.stack([live.mel(i) for i in range(64)])
    mean, std = mels.mean(dim=(0, 2)), mels.std(dim=(0, 2)).clamp_min(1e-3)

    def cond_of(events_list, items=None) -> FlowCondition:
        if frozen is not None and args.cond == "aligned":  # the frozen model's own condition (aligned + keys)
            with torch.no_grad():
                return frozen.video_condition(torch.stack([it["frames"] for it in items]), track=False).flow
        b = len(events_list)
        tokens = torch.zeros(b, n, d)
        if frozen is not None:  # "onset": the frozen model's onset head on its aligned features, one channel
            with torch.no_grad():
                fr = torch.stack([it["frames"] for it in items])
                ev = stack_event_frames(items)
                # (b, k t): the head's, or the event path's (from its own frames at k > 1)
                pred = frozen.onset_track(fr, frozen.align(fr), event_frames=ev)
                pred = F.interpolate(pred[:, None], size=n, mode="linear", align_corners=False)[:, 0]
            tokens[:, :, 0] = pred * 3.0
        for j, ev in enumerate(events_list if frozen is None else []):
            tokens[j, :, 0] = torch.from_numpy(event_track(ev, n, tok_s)) * 3.0
        return FlowCondition(tokens=tokens, keys=torch.zeros(b, 1, d), key_times=torch.zeros(b, 1),
                             key_mask=torch.zeros(b, 1, dtype=torch.bool))

    def latents(items):
        x = torch.stack([it["mel"] for it in items])
        x = (x - mean[:, None]) / std[:, None]
        return patchify(x, p)

    tc = dataclasses.replace(cfg.train, warmup_steps=50)
    opt = build_optimizer(gen.parameters(), tc)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / tc.warmup_steps))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evals = sorted({int(s) for s in args.eval_at.split(",")})
    test_items = [test[i] for i in range(args.eval)]
    real = [event_f1(log_mel_to_wav(it["mel"][None], cfg.audio, generator=torch.Generator().manual_seed(0))[0].numpy(), it["events"])
            for it in test_items]
    print(f"real audio via Griffin-Lim on these {args.eval} clips: event-time F1 {np.mean([r[0] for r in real]):.3f}, "
          f"onsets/clip {np.mean([r[1] for r in real]):.1f}, true events/clip {np.mean([len(it['events']) for it in test_items]):.1f}")
    log_line(args.log, {"part": "oracle", "row": "real audio (Griffin-Lim)", "f1": float(np.mean([r[0] for r in real])),
                        "onsets": float(np.mean([r[1] for r in real])),
                        "events": float(np.mean([len(it['events']) for it in test_items]))})
    bs = args.batch
    t0 = time.perf_counter()
    for step in range(1, max(evals) + 1):
        gen.train()
        items = [live[(step - 1) * bs + j] for j in range(bs)]
        x1 = latents(items)
        cond = cond_of([it["events"] for it in items], items)
        g = torch.Generator().manual_seed(step)
        loss = gen.loss(x1, cond, g).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            print(f"step {step} loss {float(loss):.4f} ({(time.perf_counter() - t0) / step:.2f} s/step)", flush=True)
        if step in evals:
            gen.eval()
            res = []
            for i0 in range(0, len(test_items), 8):
                chunk = test_items[i0: i0 + 8]
                with torch.no_grad():
                    x = gen.sample(cond_of([it["events"] for it in chunk], chunk), torch.Generator().manual_seed(i0),
                                   steps=cfg.flow.steps, cfg_scale=cfg.flow.cfg_scale)
                    mel = unpatchify(x, p, cfg.audio.n_mels) * std[:, None] + mean[:, None]
                    wav = log_mel_to_wav(mel, cfg.audio, generator=torch.Generator().manual_seed(0))
                for it, w in zip(chunk, wav, strict=True):
                    res.append(event_f1(w.numpy(), it["events"]))
            rec = {"part": "oracle", "row": f"{args.cond} condition -> CFM ({args.net})", "weights": args.weights if frozen else None, "step": step, "loss": float(loss.detach()),
                   "f1": float(np.mean([r[0] for r in res])), "onsets": float(np.mean([r[1] for r in res])),
                   "seconds": time.perf_counter() - t0}
            log_line(args.log, rec)
            print(f"[eval] step {step}: event-time F1 {rec['f1']:.3f}, onsets/clip {rec['onsets']:.1f}", flush=True)
            torch.save(gen.state_dict(), out / "generator.pt")


# --- sampler --------------------------------------------------------------------------------------
def part_sampler(args) -> None:
    from sync_check import store_event_frames  # benchmarks/ is on the path when run as a script

    from openfoley.features.store import FeatureStore

    model = load_model(args.weights)
    cfg = model.cfg
    st = FeatureStore(args.store)
    recs = st.records
    idx = list(range(min(args.clips, len(st))))
    frames = torch.stack([st[i]["frames"] for i in idx])
    ev_frames = store_event_frames(st, idx, cfg)  # the event path's own frames (k > 1), else None
    events = [np.asarray([e["time"] for e in recs[i]["extra"]["events"]]) for i in idx]
    settings = [("default (cfg 2, 8 steps, refine)", dict()),
                ("cfg 1 (no guidance)", dict(cfg_scale=1.0)),
                ("cfg 4", dict(cfg_scale=4.0)),
                ("4 steps", dict(steps=4)),
                ("32 steps", dict(steps=32)),
                ("refine off", dict(refine=False))]
    if model.mma is not None and model.mma.onset_head is not None:
        settings += [(f"onset guidance {g:g}", dict(onset_guidance=g)) for g in args.guidance]
        settings += [(f"onset guide {kind}", dict(onset_guide=kind)) for kind in ("soft", "peaks")]
        settings += [(f"onset guide lead {k}", dict(onset_guide_lead=k)) for k in range(4)]
    if args.default_only:
        settings = settings[:1]
    if args.only:
        settings = [s for s in settings if s[0] in args.only]
    print(f"{'setting':36s} {'F1':>6s} {'onsets/clip':>11s}  (true events/clip {np.mean([len(e) for e in events]):.1f})")
    base_cfg = model.cfg
    for name, kw in settings:
        kw = dict(kw)  # model settings, not sample_latent arguments:
        kind = kw.pop("onset_guide", base_cfg.flow.onset_guide)
        lead = kw.pop("onset_guide_lead", base_cfg.flow.onset_guide_lead)
        model.cfg = dataclasses.replace(base_cfg, flow=dataclasses.replace(base_cfg.flow, onset_guide=kind,
                                                                           onset_guide_lead=lead))
        res = []
        for i0 in range(0, len(idx), 8):
            fr = frames[i0: i0 + 8]
            with torch.no_grad():
                c = model.video_condition(fr, event_frames=None if ev_frames is None else ev_frames[i0: i0 + 8])
                x = model.sample_latent(c, torch.Generator().manual_seed(i0), **kw)
                wav = log_mel_to_wav(model.latent_to_mel(x), cfg.audio, generator=torch.Generator().manual_seed(0))
            for j, w in enumerate(wav):
                res.append(event_f1(w.numpy(), events[i0 + j]))
        rec = {"part": "sampler", "setting": name, "weights": args.weights, "clips": len(idx),
               "f1": float(np.mean([r[0] for r in res])), "onsets": float(np.mean([r[1] for r in res]))}
        log_line(args.log, rec)
        print(f"{name:36s} {rec['f1']:6.3f} {rec['onsets']:11.1f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["data", "probe", "oracle", "sampler"])
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--store", default="data/store-small-test-closed")
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--eval", type=int, default=40)
    ap.add_argument("--eval-at", default="100,200,400")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cond", default="oracle", choices=["oracle", "aligned", "onset"],
                    help="oracle: the true event track; aligned: the frozen --weights model's video condition; "
                         "onset: the frozen model's onset-head output as the one condition channel (x3)")
    ap.add_argument("--default-only", action="store_true", help="sampler: only the model's own settings")
    ap.add_argument("--guidance", type=float, nargs="*", default=[1.0, 3.0, 10.0],
                    help="sampler: onset guidance scales to try (models with an onset head)")
    ap.add_argument("--only", nargs="*", help="sampler: only the settings with these names")
    ap.add_argument("--net", default="transformer", help="oracle: the velocity network (transformer | unet)")
    ap.add_argument("--out", default="runs/diag-oracle")
    ap.add_argument("--log", default="runs/sync-diagnosis.jsonl")
    args = ap.parse_args(argv)
    {"data": part_data, "probe": part_probe, "oracle": part_oracle, "sampler": part_sampler}[args.part](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
