"""Evaluator networks: the sync classifier learns synthetic clips, the audio classifier learns a small
generated sound bank, training is deterministic, weights round-trip, and bad weight folders fail cleanly.

``make_bank`` (a generated sound bank in the real bank's layout) is shared with test_evaluate_cmd.py.
"""

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from openfoley.config import get_preset
from openfoley.errors import DataError, ModelError
from openfoley.evaluation.evaluators import (
    AudioClassifier,
    AudioClassifierConfig,
    SyncClassifier,
    SyncConfig,
    audio_clip_outputs,
    load_evaluators,
    save_evaluator,
    sync_windows,
)
from openfoley.evaluation.train_evaluators import (
    AudioTrainSpec,
    SyncTrainSpec,
    train_audio_classifier,
    train_sync_classifier,
)
from openfoley.training.synthetic import make_synthetic_store

BANK_CLASSES = {"low tone": "tone", "high tone": "tone", "noise burst": "noise", "chirp": "sweep"}
TINY_AUDIO = dict(channels=(8, 16, 32), embed_dim=8)
TINY_SYNC = dict(frame_size=8, grid=4, width=32, k=8, lags=2)


def _sound(cls: str, rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(rng.uniform(0.3, 1.2) * sr)
    t = np.arange(n) / sr
    env = np.exp(-t / rng.uniform(0.1, 0.3))
    if cls == "low tone":
        x = np.sin(2 * math.pi * rng.uniform(250, 350) * t)
    elif cls == "high tone":
        x = np.sin(2 * math.pi * rng.uniform(2500, 3500) * t)
    elif cls == "noise burst":
        x = 0.5 * rng.standard_normal(n)
    else:
        f0, f1 = rng.uniform(400, 600), rng.uniform(3000, 5000)
        x = np.sin(2 * math.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1])))
    return (0.6 * env * x).astype(np.float32)


def make_bank(root: Path, per_class: int = 10, seed: int = 0, sr: int = 16000) -> Path:
    """A sound bank of four easily told apart classes, in the layout of ``openfoley data sound-bank``."""
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for cls, group in BANK_CLASSES.items():
        for k in range(per_class):
            cid = f"{cls.replace(' ', '-')}-{k:02d}"
            x = _sound(cls, rng, sr)
            with wave.open(str(root / "audio" / f"{cid}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(sr)
                w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
            rows.append({"id": cid, "class": cls, "group": group, "duration": len(x) / sr, "package": "test",
                         "path": "", "licence": "CC0-1.0", "fingerprint": "00", "audio": f"audio/{cid}.wav",
                         "image": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "classes.json").write_text(json.dumps(
        {c: {"group": g, "clips": per_class, "images": []} for c, g in BANK_CLASSES.items()}))
    return root


def train_tiny_audio(bank: Path, steps: int = 70, seed: int = 0):
    spec = AudioTrainSpec(steps=steps, batch_size=16, lr=5e-3, crop=(0.5, 1.0), val_fraction=0.25, seed=seed)
    return train_audio_classifier(bank, spec, AudioClassifierConfig(**TINY_AUDIO))


def train_tiny_sync(store: Path, heldout: Path | None, steps: int = 80, seed: int = 0):
    spec = SyncTrainSpec(steps=steps, batch_size=16, lr=3e-3, seed=seed)
    return train_sync_classifier(store, spec, heldout_store=heldout, window=2.0, **TINY_SYNC)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("sync")
    cfg = get_preset("tiny")
    return make_synthetic_store(d / "train", cfg, 40, seed=0), make_synthetic_store(d / "held", cfg, 16, seed=1)


def test_sync_classifier_separates_aligned_from_shifted(stores):
    # Measured (80 steps, batch 16, tiny preset clips): held-out balanced accuracy 1.0 (mean score
    # real 0.96, shifted 0.003, swapped 0.009) on 16 clips of another seed. Chance is 0.5 (the untrained
    # network scores below 0.65, next test); 0.8 leaves room for float differences between machines.
    net, report = train_tiny_sync(*stores)
    h = report["heldout"]
    assert h["clips"] == 16 and report["steps_done"] == 80
    assert h["accuracy"] >= 0.8, h
    assert h["acc_real"] >= 0.7 and h["acc_shifted"] >= 0.7, h
    assert h["mean_score_real"] > h["mean_score_shifted"] + 0.5, h


def test_untrained_sync_classifier_is_near_chance(stores):
    """The same measurement on an untrained network: the accuracy above is learned, not built in."""
    from openfoley.evaluation.train_evaluators import _load_clips, sync_config_for_store, sync_heldout_accuracy
    from openfoley.features.store import FeatureStore

    store = FeatureStore(stores[1])
    cfg = sync_config_for_store(store, 2.0, **TINY_SYNC)
    torch.manual_seed(0)
    net = SyncClassifier(cfg).eval()
    f, m = _load_clips(store, list(range(len(store))), cfg)
    h = sync_heldout_accuracy(net, f, m, SyncTrainSpec())
    assert h["accuracy"] <= 0.65, h


def test_audio_classifier_learns_generated_bank(tmp_path):
    # Measured: 70 steps reach val accuracy 1.0 on 12 held-out clips (chance 0.25).
    bank = make_bank(tmp_path / "bank", per_class=12)
    net, report = train_tiny_audio(bank)
    assert report["classes"] == 4 and report["val_clips"] == 12 and report["train_clips"] == 36
    assert report["val_accuracy"] >= 0.75, report
    assert net.cfg.classes == tuple(sorted(BANK_CLASSES))


def test_training_is_deterministic_and_weights_round_trip(tmp_path):
    bank = make_bank(tmp_path / "bank", per_class=4)
    a, rep_a = train_tiny_audio(bank, steps=4, seed=3)
    b, rep_b = train_tiny_audio(bank, steps=4, seed=3)
    c, _ = train_tiny_audio(bank, steps=4, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa) and rep_a["final_loss"] == rep_b["final_loss"]
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)

    torch.manual_seed(0)
    sync = SyncClassifier(SyncConfig(window=2.0, **TINY_SYNC)).eval()
    ver_a = save_evaluator(tmp_path / "ev" / "audio", a, {"report": rep_a})
    ver_s = save_evaluator(tmp_path / "ev" / "sync", sync, {"report": {"heldout": {"accuracy": 0.5}}})
    assert ver_a.startswith("audio-v1-") and ver_s.startswith("sync-v1-")
    ev = load_evaluators(tmp_path / "ev")
    assert ev.versions == {"audio": ver_a, "sync": ver_s}
    wav = torch.from_numpy(_sound("chirp", np.random.default_rng(0), 16000))
    pa, ea = audio_clip_outputs(a, wav)
    pb, eb = audio_clip_outputs(ev.audio, wav)
    assert torch.equal(pa, pb) and torch.equal(ea, eb)
    frames = torch.randint(0, 255, (1, 25, 3, 64, 64), dtype=torch.uint8)
    mel = torch.randn(1, 64, 100)
    assert torch.equal(sync(frames, mel), ev.sync(frames, mel))
    assert ev.sync_meta["report"]["heldout"]["accuracy"] == 0.5


def test_bad_evaluator_folders(tmp_path):
    with pytest.raises(ModelError, match="evaluators folder not found"):
        load_evaluators(tmp_path / "nope")
    (tmp_path / "ev" / "audio").mkdir(parents=True)
    with pytest.raises(ModelError, match="missing model.safetensors"):
        load_evaluators(tmp_path / "ev")
    torch.manual_seed(0)
    net = AudioClassifier(AudioClassifierConfig(classes=("a", "b"), **TINY_AUDIO))
    save_evaluator(tmp_path / "ev" / "audio", net)
    save_evaluator(tmp_path / "ev" / "sync", net)  # an audio network where the sync one belongs
    with pytest.raises(ModelError, match="holds a 'audio' evaluator, expected 'sync'"):
        load_evaluators(tmp_path / "ev")
    (tmp_path / "ev" / "audio" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="unreadable weights"):
        load_evaluators(tmp_path / "ev")


def test_sync_windows_cover_the_clip():
    cfg = SyncConfig(window=2.0, fps=12.5, **TINY_SYNC)  # 25 frames, 100 mel frames per window
    assert (cfg.window_frames, cfg.window_mels) == (25, 100)
    frames = torch.arange(60, dtype=torch.uint8)[:, None, None, None].expand(60, 3, 4, 4)  # frame i = i
    mel = torch.arange(240, dtype=torch.float32)[None].expand(64, 240)  # mel frame j = j
    fw, mw = sync_windows(frames, mel, cfg)
    # hop 12 frames: starts 0, 12, 24, then the end-aligned 35 (= 60 - 25)
    assert fw.shape == (4, 25, 3, 4, 4) and mw.shape == (4, 64, 100)
    assert fw[:, 0, 0, 0, 0].tolist() == [0, 12, 24, 35]
    assert mw[:, 0, 0].tolist() == [0, 48, 96, 140]  # 4 mel frames per video frame
    short_f, short_m = sync_windows(frames[:10], mel[:, :40], cfg)  # shorter than a window: padded
    assert short_f.shape == (1, 25, 3, 4, 4) and short_m.shape == (1, 64, 100)
    assert short_f[0, -1, 0, 0, 0] == 9 and short_m[0, 0, -1] == math.log(cfg.audio.log_floor)


def test_shape_checks_name_the_shapes():
    net = AudioClassifier(AudioClassifierConfig(classes=("a",), **TINY_AUDIO))
    with pytest.raises(AssertionError, match=r"\(b, 64, m >= 8\), got \(2, 32, 50\)"):
        net(torch.zeros(2, 32, 50))


def test_sync_training_needs_enough_clips(tmp_path):
    store = make_synthetic_store(tmp_path / "s", get_preset("tiny"), 3, seed=0)
    with pytest.raises(DataError, match="too few"):
        train_tiny_sync(store, None, steps=1)
