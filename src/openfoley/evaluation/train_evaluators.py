"""Training OpenFoley's evaluator networks (``evaluators.py``) on real data only, never generated audio.

Audio classifier (``train_audio_classifier``): every clip of the sound bank, every class (test-open
included). A held-out part of each class (``val_fraction``, at least one clip of classes with three or
more) measures accuracy; the rest trains. Examples are crops of 1-3 s (one length per batch; shorter
clips are placed at a random offset in silence), with a random gain and a noise floor like the
FoleyWorld renderer's (-65..-45 dBFS), so that the classifier sees bank sounds the way they appear in
rendered clips. Classes are sampled uniformly, then a clip within the class (the bank's classes have
5 to ~120 clips). Loss: cross-entropy.

Sync classifier (``train_sync_classifier``): clips of a feature store (FoleyWorld train split). Each
example is a window of ``SyncConfig.window`` seconds at a random position: a real pair (label 1,
probability ``1 - p_shift - p_swap``), or a negative (label 0): the same clip's audio shifted by
``+-U(shift)`` seconds (circularly within the clip, so loudness and content are those of the real
audio and only the timing differs), or the audio of another clip at the same position. Loss: binary
cross-entropy. Held-out accuracy (``sync_heldout_accuracy``) is measured on whole clips exactly as
``evaluate`` scores them: one real pair, one shifted and one swapped pair per held-out clip;
``accuracy`` is the balanced mean ``(acc_real + acc_negative) / 2``.

Both loops run a fixed number of steps (deterministic for a seed: data from a numpy Generator, weights
and dropout from a forked, seeded torch RNG) and stop early at ``max_seconds`` of wall time if given
(then the result depends on the machine's speed; the report says so).

Shapes: b batch, t video frames, f mel bins, m mel frames, s samples, C classes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from openfoley.config import AudioConfig
from openfoley.data.foleyworld.bank import load_bank
from openfoley.errors import DataError, OutputError
from openfoley.evaluation.evaluators import (
    AUDIO_DIR,
    SYNC_DIR,
    AudioClassifier,
    AudioClassifierConfig,
    SyncClassifier,
    SyncConfig,
    audio_clip_outputs,
    save_evaluator,
    sync_clip_score,
)
from openfoley.features.mel import log_mel
from openfoley.features.store import FeatureStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioTrainSpec:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    crop: tuple[float, float] = (1.0, 3.0)  # seconds per training example (one length per batch)
    gain_db: tuple[float, float] = (-12.0, 0.0)
    noise_db: tuple[float, float] = (-65.0, -45.0)  # noise floor, dBFS (the renderer's range)
    val_fraction: float = 0.1
    max_clip_seconds: float = 10.0
    seed: int = 0
    max_seconds: float | None = None


@dataclass(frozen=True)
class SyncTrainSpec:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    shift: tuple[float, float] = (0.2, 2.0)  # |offset| of shifted negatives, seconds
    p_shift: float = 0.25
    p_swap: float = 0.25
    val_fraction: float = 0.1  # of the store, when no held-out store is given
    seed: int = 0
    max_seconds: float | None = None


def _lr(spec, step: int) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to 5% of the peak."""
    warm = max(1, spec.steps // 20)
    if step < warm:
        return spec.lr * (step + 1) / warm
    p = (step - warm) / max(1, spec.steps - warm)
    return spec.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


def _loop(net: torch.nn.Module, spec, batch_fn, loss_fn) -> dict[str, Any]:
    """Adam over ``spec.steps`` steps of ``loss_fn(net, *batch_fn(step))``; returns a small report."""
    opt = torch.optim.AdamW(net.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    t0, losses, step = time.monotonic(), [], 0
    net.train()
    for step in range(spec.steps):
        if spec.max_seconds is not None and time.monotonic() - t0 > spec.max_seconds:
            log.warning("stopping at step %d of %d: max_seconds=%s reached", step, spec.steps, spec.max_seconds)
            break
        for g in opt.param_groups:
            g["lr"] = _lr(spec, step)
        loss = loss_fn(net, *batch_fn(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if step % 25 == 0:
            log.info("step %d loss %.4f", step, losses[-1])
    else:
        step = spec.steps
    net.eval()
    tail = losses[-50:] or [float("nan")]
    return {"steps_done": step, "steps_planned": spec.steps, "final_loss": float(np.mean(tail)),
            "wall_seconds": round(time.monotonic() - t0, 1), "stopped_by_time": step < spec.steps}


# ---------------------------------------------------------------------------------------------------
# Audio classifier


def audio_loss(net: AudioClassifier, mel: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of log-mel (b, f, m) against class indices (b,)."""
    return F.cross_entropy(net(mel).logits, labels)


def _db(db: float) -> float:
    return 10.0 ** (db / 20.0)


def audio_batch(wavs: list[np.ndarray], labels: np.ndarray, by_class: list[np.ndarray], spec: AudioTrainSpec,
                audio: AudioConfig, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """-> log-mel (b, f, m), class indices (b,): class-balanced crops with gain and a noise floor."""
    sr = audio.sample_rate
    n = int(round(rng.uniform(*spec.crop) * sr / audio.hop_length)) * audio.hop_length  # whole frames
    batch = np.zeros((spec.batch_size, n), np.float32)
    ys = np.zeros(spec.batch_size, np.int64)
    for k in range(spec.batch_size):
        c = int(rng.integers(len(by_class)))
        i = int(rng.choice(by_class[c]))
        w = wavs[i]
        if len(w) >= n:
            a = int(rng.integers(len(w) - n + 1))
            batch[k] = w[a:a + n]
        else:
            a = int(rng.integers(n - len(w) + 1))
            batch[k, a:a + len(w)] = w
        batch[k] *= _db(rng.uniform(*spec.gain_db))
        batch[k] += _db(rng.uniform(*spec.noise_db)) * rng.standard_normal(n).astype(np.float32)
        ys[k] = labels[i]
    return log_mel(torch.from_numpy(batch), audio), torch.from_numpy(ys)


def train_audio_classifier(bank_dir: str | Path, spec: AudioTrainSpec = AudioTrainSpec(),
                           cfg: AudioClassifierConfig | None = None) -> tuple[AudioClassifier, dict[str, Any]]:
    """Train the audio classifier on a sound bank; -> (network in eval mode, report with val accuracy)."""
    bank = load_bank(bank_dir)
    classes = tuple(sorted({c.cls for c in bank.clips.values()}))
    cfg = dataclasses.replace(cfg or AudioClassifierConfig(), classes=classes)
    if bank.sample_rate != cfg.audio.sample_rate:
        raise DataError(f"{bank_dir}: bank sample rate {bank.sample_rate} Hz, the audio classifier reads "
                        f"{cfg.audio.sample_rate} Hz")
    cls_index = {c: i for i, c in enumerate(classes)}
    ids = list(bank.clips)  # sorted by id
    max_n = int(spec.max_clip_seconds * cfg.audio.sample_rate)
    wavs = [np.asarray(bank.audio(i), np.float32)[:max_n] for i in ids]
    labels = np.array([cls_index[bank.clips[i].cls] for i in ids])

    rng = np.random.default_rng(spec.seed)
    train_idx, val_idx = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.nonzero(labels == c)[0])
        n_val = max(1, round(spec.val_fraction * len(members))) if len(members) >= 3 else 0
        val_idx += members[:n_val].tolist()
        train_idx += members[n_val:].tolist()
    by_class = [np.array([i for i in train_idx if labels[i] == c]) for c in range(len(classes))]
    by_class = [b for b in by_class if len(b)]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        net = AudioClassifier(cfg)
        report = _loop(net, spec, lambda step: audio_batch(wavs, labels, by_class, spec, cfg.audio, rng),
                       audio_loss)
    val_rng = np.random.default_rng(spec.seed + 1)
    correct = top5 = 0
    for i in val_idx:
        w = wavs[i] + _db(-55.0) * val_rng.standard_normal(len(wavs[i])).astype(np.float32)
        probs, _ = audio_clip_outputs(net, torch.from_numpy(w))
        order = torch.argsort(probs, descending=True)
        correct += int(order[0] == labels[i])
        top5 += int(labels[i] in order[:5].tolist())
    n_val = max(1, len(val_idx))
    report.update({"classes": len(classes), "train_clips": len(train_idx), "val_clips": len(val_idx),
                   "val_accuracy": correct / n_val, "val_top5_accuracy": top5 / n_val,
                   "spec": asdict(spec)})
    return net, report


# ---------------------------------------------------------------------------------------------------
# Sync classifier


def sync_loss(net: SyncClassifier, frames: torch.Tensor, mel: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of in-sync logits for (frames (b, t, 3, H, W), mel (b, f, m)) vs labels (b,)."""
    return F.binary_cross_entropy_with_logits(net(frames, mel), labels.float())


def sync_config_for_store(store: FeatureStore, window: float = 4.0, **kw) -> SyncConfig:
    """A SyncConfig that reads what ``store`` holds (its mel settings and video grid)."""
    sub = store.config_subset
    a, v = sub["audio"], sub["video"]
    audio = AudioConfig(sample_rate=a["sample_rate"], n_fft=a["n_fft"], win_length=a["win_length"],
                        hop_length=a["hop_length"], n_mels=a["n_mels"], f_min=a["f_min"], f_max=a["f_max"],
                        log_floor=a["log_floor"])
    return SyncConfig(audio=audio, fps=v["fps"], size=v["size"], resize=v["resize"],
                      window=min(window, float(sub["seconds"])), **kw)


def _load_clips(store: FeatureStore, idx: list[int], cfg: SyncConfig) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Frames pooled to ``cfg.frame_size`` (uint8, to bound memory) and mels of the chosen clips."""
    frames, mels = [], []
    for i in idx:
        item = store[i]
        f = item["frames"]
        if f.shape[-1] != cfg.frame_size:
            f = F.adaptive_avg_pool2d(f.float(), cfg.frame_size).round().to(torch.uint8)
        frames.append(f)
        mels.append(item["mel"])
    return frames, mels


def _shift_frames(spec: SyncTrainSpec, cfg: SyncConfig, m_total: int, rng: np.random.Generator) -> int:
    """A signed mel-frame offset with |offset| in ``spec.shift`` seconds, kept short of a full cycle."""
    top = min(spec.shift[1], m_total / cfg.audio.mel_fps - spec.shift[0])
    sec = rng.uniform(spec.shift[0], max(spec.shift[0], top))
    return int(round(sec * cfg.audio.mel_fps)) * (1 if rng.random() < 0.5 else -1)


def sync_batch(frames: list[torch.Tensor], mels: list[torch.Tensor], spec: SyncTrainSpec, cfg: SyncConfig,
               rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> frames (b, t, 3, S, S) uint8, mel (b, f, m), labels (b,): real pairs and the two negatives."""
    tw, mw = cfg.window_frames, cfg.window_mels
    fb, mb, yb = [], [], []
    for _ in range(spec.batch_size):
        i = int(rng.integers(len(frames)))
        t_total, m_total = frames[i].shape[0], mels[i].shape[-1]
        a = int(rng.integers(max(1, t_total - tw + 1)))
        am = min(round(a * cfg.mel_per_frame), max(0, m_total - mw))
        u = rng.random()
        if u < spec.p_shift:
            cols = (am + _shift_frames(spec, cfg, m_total, rng) + np.arange(mw)) % m_total
            mel, y = mels[i][:, cols], 0
        elif u < spec.p_shift + spec.p_swap and len(frames) > 1:
            j = int(rng.integers(len(frames) - 1))
            j += j >= i
            am_j = min(am, max(0, mels[j].shape[-1] - mw))
            mel, y = mels[j][:, am_j:am_j + mw], 0
        else:
            mel, y = mels[i][:, am:am + mw], 1
        fb.append(frames[i][a:a + tw])
        mb.append(mel)
        yb.append(y)
    return torch.stack(fb), torch.stack(mb), torch.tensor(yb)


def sync_heldout_accuracy(net: SyncClassifier, frames: list[torch.Tensor], mels: list[torch.Tensor],
                          spec: SyncTrainSpec, seed: int = 12345) -> dict[str, Any]:
    """Whole-clip accuracy on held-out clips: one real, one shifted, one swapped pair per clip."""
    if len(frames) < 2:
        raise DataError(f"need at least 2 held-out clips to measure the sync classifier, got {len(frames)}")
    rng = np.random.default_rng(seed)
    real, shifted, swapped = [], [], []
    n = len(frames)
    perm = (np.arange(n) + 1 + rng.integers(n - 1)) % n  # a derangement: no clip paired with itself
    for i in range(n):
        m_total = mels[i].shape[-1]
        real.append(sync_clip_score(net, frames[i], mels[i]))
        cols = (np.arange(m_total) + _shift_frames(spec, net.cfg, m_total, rng)) % m_total
        shifted.append(sync_clip_score(net, frames[i], mels[i][:, cols]))
        other = mels[int(perm[i])]
        other = other[:, :m_total] if other.shape[-1] >= m_total else F.pad(
            other, (0, m_total - other.shape[-1]), value=math.log(net.cfg.audio.log_floor))
        swapped.append(sync_clip_score(net, frames[i], other))
    acc_real = float(np.mean(np.array(real) > 0.5))
    acc_shift = float(np.mean(np.array(shifted) <= 0.5))
    acc_swap = float(np.mean(np.array(swapped) <= 0.5))
    return {"accuracy": (acc_real + (acc_shift + acc_swap) / 2) / 2, "acc_real": acc_real,
            "acc_shifted": acc_shift, "acc_swapped": acc_swap, "clips": n,
            "mean_score_real": float(np.mean(real)), "mean_score_shifted": float(np.mean(shifted)),
            "mean_score_swapped": float(np.mean(swapped))}


def check_sync_classifier(net: SyncClassifier, store_dir: str | Path,
                          spec: SyncTrainSpec = SyncTrainSpec()) -> dict[str, Any]:
    """The held-out measurement of ``sync_heldout_accuracy`` on every clip of another feature store
    (same settings as the classifier's); e.g. a test split the classifier was not trained on."""
    store = FeatureStore(store_dir)
    sub = sync_config_for_store(store, net.cfg.window)
    if (sub.audio, sub.fps, sub.size, sub.resize) != (net.cfg.audio, net.cfg.fps, net.cfg.size, net.cfg.resize):
        raise DataError(f"{store_dir}: store settings (audio, fps {sub.fps}, size {sub.size}) differ from the "
                        f"sync classifier's (fps {net.cfg.fps}, size {net.cfg.size})")
    frames, mels = _load_clips(store, list(range(len(store))), net.cfg)
    return sync_heldout_accuracy(net, frames, mels, spec)


def train_sync_classifier(store_dir: str | Path, spec: SyncTrainSpec = SyncTrainSpec(), *,
                          heldout_store: str | Path | None = None, window: float = 4.0,
                          **cfg_kw) -> tuple[SyncClassifier, dict[str, Any]]:
    """Train the sync classifier on a feature store; -> (network in eval mode, report with held-out
    accuracy). Held out: ``heldout_store`` if given (it must have the same settings), else a
    ``val_fraction`` of the store's clips chosen by the seed."""
    store = FeatureStore(store_dir)
    cfg = sync_config_for_store(store, window, **cfg_kw)
    rng = np.random.default_rng(spec.seed)
    order = rng.permutation(len(store)).tolist()
    if heldout_store is not None:
        held = FeatureStore(heldout_store)
        if held.config_subset != store.config_subset:
            raise DataError(f"{heldout_store}: held-out store settings differ from {store_dir}'s")
        train_idx, held_store, held_idx = order, held, list(range(len(held)))
    else:
        n_val = max(2, round(spec.val_fraction * len(store)))
        if len(store) - n_val < 2:
            raise DataError(f"{store_dir}: {len(store)} clips are too few to train and hold out a sync classifier")
        train_idx, held_store, held_idx = sorted(order[n_val:]), store, sorted(order[:n_val])
    frames, mels = _load_clips(store, train_idx, cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        net = SyncClassifier(cfg)
        report = _loop(net, spec, lambda step: sync_batch(frames, mels, spec, cfg, rng), sync_loss)
    hf, hm = _load_clips(held_store, held_idx, cfg)
    report.update({"train_clips": len(train_idx), "heldout": sync_heldout_accuracy(net, hf, hm, spec),
                   "heldout_source": str(heldout_store) if heldout_store else f"{spec.val_fraction} of the store",
                   "store": str(store_dir), "spec": asdict(spec)})
    return net, report


# ---------------------------------------------------------------------------------------------------
# Both, into one folder


def train_evaluators(bank_dir: str | Path | None, store_dir: str | Path | None, out: str | Path, *,
                     heldout_store: str | Path | None = None, audio_spec: AudioTrainSpec = AudioTrainSpec(),
                     sync_spec: SyncTrainSpec = SyncTrainSpec(), window: float = 4.0,
                     force: bool = False, only: str | None = None) -> dict[str, Any]:
    """Train the evaluators and write ``out/audio`` and ``out/sync`` (each atomically); -> reports.

    ``only`` ("audio" or "sync") trains and writes just that one; the other's input may then be None.
    """
    if only not in (None, AUDIO_DIR, SYNC_DIR):
        raise DataError(f"only must be {AUDIO_DIR!r} or {SYNC_DIR!r}, got {only!r}")
    kinds = [k for k in (SYNC_DIR, AUDIO_DIR) if only in (None, k)]
    need = {AUDIO_DIR: ("a sound bank", bank_dir), SYNC_DIR: ("a feature store", store_dir)}
    out = Path(out)
    for sub in kinds:
        if need[sub][1] is None:
            raise DataError(f"training the {sub} evaluator needs {need[sub][0]}")
        if (out / sub).exists() and not force:
            raise OutputError(f"{out / sub}: exists (use --force to replace it)")
    reports: dict[str, Any] = {}
    if SYNC_DIR in kinds:
        assert store_dir is not None  # checked above
        sync, s_report = train_sync_classifier(store_dir, sync_spec, heldout_store=heldout_store, window=window)
        reports["sync"] = {"version": save_evaluator(out / SYNC_DIR, sync, {"report": s_report}), **s_report}
    if AUDIO_DIR in kinds:
        assert bank_dir is not None  # checked above
        audio, a_report = train_audio_classifier(bank_dir, audio_spec)
        a_ver = save_evaluator(out / AUDIO_DIR, audio, {"report": a_report, "bank": str(bank_dir)})
        reports["audio"] = {"version": a_ver, **a_report}
    return reports
