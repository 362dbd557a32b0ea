"""Vocoder quality and speed: the Griffin-Lim settings and the neural vocoder, on held-out bank clips or on
the real clips of a feature store.

Usage: python benchmarks/vocoder.py --bank /work/cache/bank [--weights DIR] [--max-clips 200]
                                    [--threads 1,2] [--preset small]
       python benchmarks/vocoder.py --store data/store-small-test-closed [--max-clips 100]

``--bank`` prints (1) a Markdown table of quality on the bank's held-out clips (``train.is_holdout``:
clips the vocoder never trained on): log-mel L1 with the model's mel, multi-resolution spectral
convergence and log-spectral distance at STFT resolutions the vocoder was not trained on
(``vocoder.metrics``), all phase-blind; and (2) seconds of compute per second of audio for one 10 s
log-mel, at each thread count, as the median of 3 runs, next to a plain 512x512 matmul's GFLOP/s
measured in the same run so that numbers from a loaded machine can be scaled.

``--store`` compares the old default Griffin-Lim (random phases, 32 iterations, momentum 0.99) with
the current default (``AudioConfig``: phases from ``pghi_phase``, 4 iterations) and a few neighbours,
on the store's real rendered clips: each clip's stored log-mel is vocoded and scored against the
clip's real audio (read from its mp4) by multi-resolution spectral convergence (``vocoder.metrics``, at
resolutions other than the model's), by spectral convergence at the model's own STFT (the one Griffin-Lim
makes consistent, so more iterations favour it), and by the event-time
F1 of onsets detected in the vocoded audio against the renderer's event times (the benchmark's
ground-truth row: ``event_time_error``, tolerance 0.1 s, onsets by ``onset_detect`` at 22.05 kHz).
The last column is the mean per-clip difference in F1 from the old default, with its standard error, so
a difference can be told from the noise of the onset detector. Speed is the median of 5 calls on one 10 s log-mel (the clips end to end), one thread, every setting
timed in turn in the same rounds, so the ratios come from one run even on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from openfoley.config import AudioConfig
from openfoley.features.mel import log_mel
from openfoley.vocoder import GriffinLimVocoder, build_vocoder, builtin_available
from openfoley.vocoder.evaluate import evaluate_vocoders, format_table, heldout_clips
from openfoley.vocoder.train import preset_audio


def matmul_gflops(reps: int = 20) -> float:
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return reps * 2 * 512**3 / (time.perf_counter() - t) / 1e9


def speed(voc, logmel: torch.Tensor, seconds: float) -> float:
    voc(logmel[..., :50])  # warm-up
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        voc(logmel)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) / seconds


def event_f1(wav: np.ndarray, events: np.ndarray, sr: int) -> float:
    """Event-time F1 (tolerance 0.1 s) of the onsets detected in ``wav`` against ``events`` (seconds)."""
    from scipy.signal import resample_poly

    from openfoley.evaluation.metrics import ONSET_SR, event_time_error, onset_detect

    w = resample_poly(np.asarray(wav, dtype=np.float64), ONSET_SR, sr) if sr != ONSET_SR else wav
    return event_time_error(onset_detect(w, ONSET_SR), np.asarray(events, dtype=np.float64)).f1


def store_settings(cfg: AudioConfig) -> list[GriffinLimVocoder]:
    """Old default first, new default second, then neighbours that show what each part buys."""
    new = GriffinLimVocoder(cfg)
    rows = [GriffinLimVocoder(cfg, iters=32, momentum=0.99, init="random"), new,
            GriffinLimVocoder(cfg, iters=new.iters, init="random"),  # the same iterations, random start
            GriffinLimVocoder(cfg, iters=0, init="pghi"), GriffinLimVocoder(cfg, iters=2 * new.iters, init="pghi"),
            GriffinLimVocoder(cfg, iters=32, momentum=0.0, init="random")]  # classic Griffin-Lim
    seen: set[str] = set()
    return [v for v in rows if not (v.name in seen or seen.add(v.name))]  # type: ignore[func-returns-value]


def store_table(store: str, max_clips: int) -> None:
    """Old vs new default Griffin-Lim on a feature store's real clips (see the module docstring)."""
    from openfoley.features.store import FeatureStore
    from openfoley.io import read_audio
    from openfoley.vocoder.metrics import spectral_convergence

    st = FeatureStore(store)
    cfg = AudioConfig(**{k: v for k, v in st.meta["config"]["audio"].items()})
    seconds = st.meta["config"]["seconds"]
    n = min(max_clips, len(st))
    mels, refs, events = [], [], []
    for i in range(n):
        rec = st.records[i]
        mels.append(st[i]["mel"])
        refs.append(read_audio(rec["path"], cfg.sample_rate, duration=seconds))
        events.append(np.asarray([e["time"] for e in rec["extra"]["events"]]))
    vocs = store_settings(cfg)
    real_f1 = float(np.mean([event_f1(r.numpy(), e, cfg.sample_rate) for r, e in zip(refs, events, strict=True)]))
    # Speed: one 10 s log-mel, all settings timed in the same rounds (median of 5).
    ten = torch.cat(mels, dim=-1)[..., : round(10 * cfg.mel_fps)][None]
    times: dict[str, list[float]] = {v.name: [] for v in vocs}
    for v in vocs:
        v(ten[..., :50])  # warm-up
    for _ in range(5):
        for v in vocs:
            t = time.perf_counter()
            v(ten)
            times[v.name].append(time.perf_counter() - t)
    base = statistics.median(times[vocs[0].name])
    print(f"{n} real clips of {store} ({n * seconds:g} s of audio); 1 torch thread; load average "
          f"{os.getloadavg()[0]:.1f}; plain 512x512 matmul {matmul_gflops():.1f} GFLOP/s; event F1 of the real "
          f"audio itself {real_f1:.3f}\n")
    print("| vocoder | init | iterations | momentum | s per 10 s of audio | speed-up vs old | MR spectral "
          "convergence | SC at the model's STFT | event F1 | F1 - old's (paired, +- s.e.) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    old_f1: list[float] = []
    for j, v in enumerate(vocs):
        sc, sc_own, f1 = [], [], []
        for i0 in range(0, n, 16):  # batches of 16 clips
            out = v(torch.stack(mels[i0 : i0 + 16]))
            ref = torch.stack(refs[i0 : i0 + 16])
            sc += spectral_convergence(ref, out).tolist()
            sc_own += spectral_convergence(ref, out, resolutions=((cfg.n_fft, cfg.hop_length),)).tolist()
            f1 += [event_f1(w.numpy(), e, cfg.sample_rate) for w, e in zip(out, events[i0 : i0 + 16], strict=True)]
        t = statistics.median(times[v.name])
        label = "old default" if j == 0 else "**new default**" if j == 1 else v.name
        old_f1 = old_f1 or f1
        diff = np.asarray(f1) - np.asarray(old_f1)  # per clip, so clip difficulty cancels
        print(f"| {label} ({v.name}) | {v.init} | {v.iters} | {v.momentum:g} | {t:.3f} | {base / t:.1f}x | "
              f"{np.mean(sc):.4f} | {np.mean(sc_own):.4f} | {np.mean(f1):.3f} | "
              f"{diff.mean():+.4f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--bank", help="sound bank: held-out clips, Griffin-Lim 16/32/64 vs the neural vocoder")
    group.add_argument("--store", help="feature store of real clips: old vs new default Griffin-Lim")
    ap.add_argument("--weights", help="neural vocoder folder (default: the built-in one)")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--max-clips", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--holdout", type=float, default=0.1)
    args = ap.parse_args()
    if args.store:
        torch.set_num_threads(1)
        store_table(args.store, args.max_clips)
        return
    cfg = preset_audio(args.preset)
    vocoders = [GriffinLimVocoder(cfg, iters=i, init="random") for i in (16, 32, 64)] + [GriffinLimVocoder(cfg)]
    if args.weights is not None or builtin_available(cfg):
        vocoders.append(build_vocoder("neural", cfg, args.weights))

    threads = [int(t) for t in args.threads.split(",")]
    torch.set_num_threads(threads[0])
    clips = heldout_clips(args.bank, cfg, args.holdout, max_clips=args.max_clips)
    secs = sum(c.shape[0] for c in clips) / cfg.sample_rate
    print(f"quality on {len(clips)} held-out clips ({secs:.1f} s of audio), {threads[0]} thread(s):\n")
    print(format_table(evaluate_vocoders(vocoders, clips)))

    # Speed on one 10 s mel: the held-out clips end to end (tiled if they are shorter).
    wav = torch.cat(clips)
    n = 10 * cfg.sample_rate
    wav = wav.repeat(n // wav.shape[0] + 1)[:n]
    logmel = log_mel(wav[None], cfg)
    print("\nseconds of compute per second of audio (10 s log-mel, median of 3):\n")
    print("| vocoder | " + " | ".join(f"{t} thread{'s' * (t > 1)}" for t in threads) + " |")
    print("|---|" + "---:|" * len(threads))
    rows = {v.name: [] for v in vocoders}
    flops = []
    for t in threads:
        torch.set_num_threads(t)
        flops.append(matmul_gflops())
        for v in vocoders:
            rows[v.name].append(speed(v, logmel, 10.0))
    for name, vals in rows.items():
        print(f"| {name} | " + " | ".join(f"{x:.4f}" for x in vals) + " |")
    print("| (512x512 matmul GFLOP/s) | " + " | ".join(f"{f:.1f}" for f in flops) + " |")


if __name__ == "__main__":
    main()
