"""Scoring vocoders on held-out audio: each clip -> log-mel -> vocoder -> magnitude measures vs the clip.

The measures are in ``metrics`` (log-mel L1, multi-resolution spectral convergence, log-spectral
distance; all phase-blind, see there). Each is averaged over clips; ``compute_per_second`` is the
vocoder's wall time divided by the audio's duration (the threads are whatever torch is set to).

    heldout_clips(bank, cfg, holdout) -> list of (s,) waveforms, the clips ``train`` never saw
    evaluate_vocoders(vocoders, clips) -> list[EvalRow]
    format_table(rows) -> a Markdown table
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from openfoley.config import AudioConfig
from openfoley.errors import DataError
from openfoley.features.mel import log_mel
from openfoley.vocoder.metrics import log_mel_l1, log_spectral_distance, spectral_convergence
from openfoley.vocoder.train import bank_files, is_holdout, load_clips


@dataclass(frozen=True)
class EvalRow:
    name: str
    clips: int
    mel_l1: float
    sc: float
    lsd_db: float
    compute_per_second: float  # seconds of compute per second of audio


def heldout_clips(bank: str | Path, cfg: AudioConfig, holdout: float = 0.1, min_seconds: float = 0.25,
                  max_clips: int | None = None) -> list[torch.Tensor]:
    """The held-out clips of a bank (``train.is_holdout``), at least ``min_seconds`` long, cut to whole hops."""
    files = [f for f in bank_files(bank) if is_holdout(f[0], holdout)]
    clips = load_clips(files, cfg.sample_rate, min_samples=max(int(min_seconds * cfg.sample_rate), cfg.n_fft))
    clips = [c[: c.shape[0] // cfg.hop_length * cfg.hop_length] for c in clips]
    if max_clips is not None:
        clips = clips[:max_clips]
    if not clips:
        raise DataError(f"{bank}: no held-out clips of at least {min_seconds} s (hold-out fraction {holdout})")
    return clips


def evaluate_vocoders(vocoders, clips: list[torch.Tensor]) -> list[EvalRow]:
    """Score each vocoder on each clip (s,); all vocoders must share one AudioConfig."""
    rows = []
    for voc in vocoders:
        cfg = voc.cfg
        mel, sc, lsd, spent, dur = [], [], [], 0.0, 0.0
        for clip in clips:
            ref = clip[None].float()  # (1, s)
            lm = log_mel(ref, cfg)
            t0 = time.perf_counter()
            est = voc(lm)
            spent += time.perf_counter() - t0
            dur += ref.shape[-1] / cfg.sample_rate
            assert est.shape == ref.shape, f"{voc.name}: vocoded {tuple(est.shape)} for clip {tuple(ref.shape)}"
            mel.append(float(log_mel_l1(ref, est, cfg)))
            sc.append(float(spectral_convergence(ref, est)))
            lsd.append(float(log_spectral_distance(ref, est)))
        n = len(clips)
        rows.append(EvalRow(voc.name, n, sum(mel) / n, sum(sc) / n, sum(lsd) / n, spent / dur))
    return rows


def format_table(rows: list[EvalRow]) -> str:
    head = ("| vocoder | clips | log-mel L1 | MR spectral convergence | LSD (dB) | compute s / audio s |\n"
            "|---|---:|---:|---:|---:|---:|")
    lines = [f"| {r.name} | {r.clips} | {r.mel_l1:.3f} | {r.sc:.3f} | {r.lsd_db:.2f} | {r.compute_per_second:.4f} |"
             for r in rows]
    return "\n".join([head, *lines])
