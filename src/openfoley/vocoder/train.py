"""Training the neural vocoder on a sound bank (or generated audio), on CPU, resumable.

Data: every clip of a bank (``BANK/manifest.jsonl`` rows with an ``audio`` path relative to BANK, or
any folder of ``.wav`` files), decoded once to mono at the model's rate and held in memory (the
FoleyWorld bank is ~20 minutes of 16 kHz audio, ~80 MB as float32). A fixed ~10% of clips, chosen by
a hash of the clip id, is held out for evaluation (``is_holdout``), so training and the benchmark
agree on the split without writing it down. Each step draws random crops (clips shorter than a crop
sit at a random place in silence) with a random gain, so the network sees every level it may be
asked to render.

Loss (``loss_fn``): log-mel L1 with the model's own mel + multi-resolution STFT loss (spectral
convergence + log-magnitude L1 at 512/1024/2048-point windows, ``metrics.TRAIN_RESOLUTIONS``). The
log-mel term is what the vocoder must honour; the multi-resolution terms need consistent phase across
overlapping frames and resolutions, which is what teaches the phase head. No discriminator (Vocos
adds one for perceptual sharpness; not tried within the CPU budget, docs/vocoder.md).

Loop: Adam, linear warm-up then cosine decay to 10%, gradient clipping at 1, an EMA of the weights
(shipped for inference). Every ``ckpt_every`` steps it writes the EMA weights (``OUT/weights``,
``weights.save_vocoder``) and a resume state (``OUT/checkpoints/step-*/resume.pt``: raw and EMA
weights, optimiser, step, generator state); a later call with the same ``OUT`` continues from the
newest resume state on the same random stream. Losses are appended to ``OUT/log.jsonl``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from openfoley.checkpoint import list_resume, load_resume, save_resume
from openfoley.config import AudioConfig, get_preset
from openfoley.errors import ConfigError, DataError, ModelError
from openfoley.features.mel import log_mel
from openfoley.io.audio import read_audio
from openfoley.io.jsonl import iter_jsonl
from openfoley.vocoder.metrics import stft_loss
from openfoley.vocoder.neural import VocosNet, vocoder_preset
from openfoley.vocoder.synth import synth_clip
from openfoley.vocoder.weights import save_vocoder, state_copy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """One training run. ``preset`` names both the audio front end (a ``Config`` preset) and the net size."""

    preset: str = "small"
    steps: int = 3000
    batch_size: int = 16
    crop_frames: int = 32  # mel frames per crop (32 x 20 ms = 0.64 s at the small preset)
    lr: float = 2e-3
    warmup: int = 50
    ema_decay: float = 0.995
    grad_clip: float = 1.0
    gain_db: tuple[float, float] = (-18.0, 6.0)  # random gain per crop (peaks kept <= 0.99)
    holdout: float = 0.1
    seed: int = 0
    ckpt_every: int = 100
    log_every: int = 10
    time_limit_s: float | None = None  # stop (and save) once this much training time has passed in total
    synthetic_clips: int = 256  # clips of generated audio when no bank is given


@dataclass(frozen=True)
class TrainResult:
    out: Path
    step: int
    loss: float
    seconds: float  # training time over all sessions
    resumed_from: int | None
    train_clips: int


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    mel: torch.Tensor
    sc: torch.Tensor
    mag: torch.Tensor


# --- data ----------------------------------------------------------------------------------------

def is_holdout(clip_id: str, fraction: float) -> bool:
    """Whether a clip belongs to the held-out set: a fixed hash of its id, independent of order."""
    h = int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16)
    return h / 2**32 < fraction


def bank_files(bank: str | Path) -> list[tuple[str, Path]]:
    """(id, wav path) of every clip: from ``BANK/manifest.jsonl`` if present, else every ``*.wav`` below."""
    bank = Path(bank)
    if not bank.is_dir():
        raise DataError(f"{bank}: sound bank folder not found")
    manifest = bank / "manifest.jsonl"
    out = []
    if manifest.is_file():
        for i, row in iter_jsonl(manifest):
            try:
                rel = row.get("audio") or row["path"]
            except (KeyError, AttributeError):
                raise DataError(f"{manifest}:{i}: not a JSON object with an 'audio' path") from None
            out.append((Path(rel).stem, bank / rel))
    else:
        out = [(p.stem, p) for p in sorted(bank.rglob("*.wav"))]
    if not out:
        raise DataError(f"{bank}: no manifest.jsonl and no .wav files; nothing to train on")
    return out


def load_clips(files: list[tuple[str, Path]], sample_rate: int, min_samples: int = 1) -> list[torch.Tensor]:
    """Decode each file to mono float32 (s,) at ``sample_rate``; clips shorter than ``min_samples`` are dropped."""
    clips = []
    for _, path in files:
        wav = read_audio(path, sample_rate)
        if wav.shape[0] >= min_samples and float(wav.abs().max()) > 0:
            clips.append(wav)
    return clips


def synthetic_clips(n: int, samples: int, sample_rate: int, seed: int) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(synth_clip(samples, sample_rate, rng)) for _ in range(n)]


def sample_batch(clips: list[torch.Tensor], n: int, length: int, gain_db: tuple[float, float],
                 generator: torch.Generator) -> torch.Tensor:
    """n random crops of ``length`` samples with random gain: (b, s)."""
    out = torch.zeros(n, length)
    idx = torch.randint(len(clips), (n,), generator=generator)
    gains = gain_db[0] + (gain_db[1] - gain_db[0]) * torch.rand(n, generator=generator)
    for j, i in enumerate(idx.tolist()):
        c = clips[i]
        if c.shape[0] >= length:
            off = int(torch.randint(c.shape[0] - length + 1, (1,), generator=generator))
            out[j] = c[off:off + length]
        else:
            off = int(torch.randint(length - c.shape[0] + 1, (1,), generator=generator))
            out[j, off:off + c.shape[0]] = c
        out[j] *= 10 ** (float(gains[j]) / 20)
        peak = float(out[j].abs().max())
        if peak > 0.99:
            out[j] *= 0.99 / peak
    return out


# --- objective -----------------------------------------------------------------------------------

def loss_fn(net: VocosNet, wav: torch.Tensor) -> LossParts:
    """Vocode the log-mel of ``wav`` (b, s) and compare: log-mel L1 + MR-STFT (SC + log-magnitude)."""
    cfg = net.cfg.audio
    m = wav.shape[-1] // cfg.hop_length
    wav = wav[:, : m * cfg.hop_length]
    target = log_mel(wav, cfg)  # (b, f, m)
    est = net(target)  # (b, s)
    mel = (log_mel(est, cfg) - target).abs().mean()
    sc, mag = stft_loss(wav, est)
    return LossParts(total=mel + sc + mag, mel=mel, sc=sc, mag=mag)


def _lr(step: int, s: TrainSettings) -> float:
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    frac = min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))
    return s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def preset_audio(preset: str) -> AudioConfig:
    try:
        return get_preset(preset).audio
    except ConfigError:
        raise ConfigError(f"unknown vocoder preset {preset!r}; choose tiny or small") from None


# --- loop ----------------------------------------------------------------------------------------

def train_vocoder(out: str | Path, bank: str | Path | None = None, settings: TrainSettings = TrainSettings(),
                  on_log: Callable[[dict], None] | None = None) -> TrainResult:
    """Train (or resume) a vocoder in ``out``; returns where it stopped. See the module docstring."""
    out = Path(out)
    s = settings
    audio = preset_audio(s.preset)
    vcfg = vocoder_preset(s.preset, audio)
    crop = s.crop_frames * audio.hop_length

    # data
    if bank is None:
        clips = synthetic_clips(s.synthetic_clips, 2 * crop, audio.sample_rate, s.seed)
        source = "synthetic"
    else:
        files = [f for f in bank_files(bank) if not is_holdout(f[0], s.holdout)]
        clips = load_clips(files, audio.sample_rate, min_samples=audio.hop_length)
        source = str(bank)
        if not clips:
            raise DataError(f"{bank}: no usable training clips after the hold-out split")
    log.info("vocoder: %d training clips (%.1f s) from %s", len(clips),
             sum(c.shape[0] for c in clips) / audio.sample_rate, source)

    # model, optimiser, EMA
    torch.manual_seed(s.seed)  # parameter init only; the data stream uses ``gen``
    net = VocosNet(vcfg)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    gen = torch.Generator().manual_seed(s.seed)
    step, elapsed, resumed_from = 0, 0.0, None
    found = list_resume(out)
    if found:
        state = load_resume(found[-1])
        if state.get("settings", {}).get("preset") != s.preset:
            raise ModelError(f"{found[-1]}: resume state is for preset {state.get('settings', {}).get('preset')!r}, "
                             f"not {s.preset!r}; use another --out")
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        step, elapsed, resumed_from = int(state["step"]), float(state["elapsed"]), int(state["step"])
        log.info("vocoder: resumed from %s (step %d)", found[-1], step)

    out.mkdir(parents=True, exist_ok=True)

    def checkpoint(loss: float) -> None:
        meta = {"step": step, "train_seconds": round(elapsed, 1), "loss": loss, "source": source,
                "settings": dataclasses.asdict(s)}
        save_vocoder(out / "weights", ema, meta)
        save_resume(out, step, {"net": state_copy(net), "ema": state_copy(ema), "opt": opt.state_dict(),
                                "gen": gen.get_state(), "step": step, "elapsed": elapsed,
                                "settings": dataclasses.asdict(s)}, keep_last=2)

    last = float("nan")
    net.train()
    with open(out / "log.jsonl", "a") as logf:
        t0 = time.perf_counter()
        start_elapsed = elapsed
        while step < s.steps and (s.time_limit_s is None or elapsed < s.time_limit_s):
            for g in opt.param_groups:
                g["lr"] = _lr(step, s)
            wav = sample_batch(clips, s.batch_size, crop, s.gain_db, gen)
            parts = loss_fn(net, wav)
            opt.zero_grad(set_to_none=True)
            parts.total.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), s.grad_clip)
            opt.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                    pe.lerp_(p, 1 - s.ema_decay)
            step += 1
            elapsed = start_elapsed + time.perf_counter() - t0
            last = float(parts.total.detach())
            if step % s.log_every == 0 or step == s.steps:
                row = {"step": step, "loss": last, "mel": float(parts.mel.detach()), "sc": float(parts.sc.detach()),
                       "mag": float(parts.mag.detach()), "lr": opt.param_groups[0]["lr"], "seconds": round(elapsed, 1)}
                logf.write(json.dumps(row) + "\n")
                logf.flush()
                log.info("vocoder step %d: %s", step, row)
                if on_log is not None:
                    on_log(row)
            if step % s.ckpt_every == 0:
                checkpoint(last)
        if not (out / "weights").is_dir() or step % s.ckpt_every:
            checkpoint(last)
    return TrainResult(out=out, step=step, loss=last, seconds=elapsed, resumed_from=resumed_from,
                       train_clips=len(clips))
