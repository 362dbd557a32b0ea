"""Vocoder quality and speed: Griffin-Lim at 16/32/64 iterations vs the neural vocoder, on held-out bank clips.

Usage: python benchmarks/vocoder.py --bank /work/cache/bank [--weights DIR] [--max-clips 200]
                                    [--threads 1,2] [--preset small]

Prints (1) a Markdown table of quality on the bank's held-out clips (``train.is_holdout``: clips the
vocoder never trained on): log-mel L1 with the model's mel, multi-resolution spectral convergence and
log-spectral distance at STFT resolutions the vocoder was not trained on (``vocoder.metrics``), all
phase-blind; and (2) seconds of compute per second of audio for one 10 s log-mel, at each thread
count, as the median of 3 runs, next to a plain 512x512 matmul's GFLOP/s measured in the same run so
that numbers from a loaded machine can be scaled.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", required=True)
    ap.add_argument("--weights", help="neural vocoder folder (default: the built-in one)")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--max-clips", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--holdout", type=float, default=0.1)
    args = ap.parse_args()
    cfg = preset_audio(args.preset)
    vocoders = [GriffinLimVocoder(cfg, iters=i) for i in (16, 32, 64)]
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
