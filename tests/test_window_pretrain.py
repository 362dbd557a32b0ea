"""Window-path pretraining (openfoley.training.window, scripts/pretrain-window-path.py): real live renders
of a synthetic bank, real training steps, on the tiny preset."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import get_preset
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import ConfigError
from openfoley.evaluation.metrics import average_precision
from openfoley.model import FoleyModel, generation_difference
from openfoley.training.window import WindowHead, WindowPretrainConfig, event_frames, pretrain_window, window_loss

ROOT = Path(__file__).resolve().parents[1]
TINY = get_preset("tiny")
WINDOW = dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, video="window"))
RUN = dict(batch=1, workers=0, eval_clips=2, eval_every=2, log_every=1, ckpt_every=2)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_synth_bank(tmp_path_factory.mktemp("wp") / "bank", seed=0, sample_rate=TINY.audio.sample_rate)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = FoleyModel(WINDOW)
    out = tmp_path_factory.mktemp("wp") / "w"
    save_weights(out, model.state_dict(), WINDOW, {"step": 0})
    return out


def test_event_frames_by_hand():
    y = event_frames([torch.tensor([0.0, 0.25]), torch.tensor([0.79])], t=10, fps=12.5)
    # 0.0 -> frame 0; 0.25 s * 12.5 = 3.125 -> frame 3; 0.79 * 12.5 = 9.875 -> frame 9
    assert y.tolist() == [[1, 0, 0, 1, 0, 0, 0, 0, 0, 0], [0] * 9 + [1]]
    late = event_frames([torch.tensor([0.25])], t=5, fps=12.5, late=1)
    assert late.tolist() == [[0, 0, 0, 1, 1]]


def test_window_loss_exact_values_with_a_zero_head():
    enc = FoleyModel(WINDOW).video_encoder
    head = WindowHead(enc.pooled_width)
    torch.nn.init.zeros_(head.net[-1].weight)
    torch.nn.init.zeros_(head.net[-1].bias)
    frames = torch.randint(0, 256, (2, WINDOW.video_frames, 3, 32, 32), dtype=torch.uint8)
    target = torch.rand(2, WINDOW.video_frames)
    assert window_loss(enc, head, frames, target, "audio").item() == pytest.approx(target.pow(2).mean().item(), rel=1e-6)
    assert window_loss(enc, head, frames, target.round(), "labels").item() == pytest.approx(0.6931472, rel=1e-6)


def test_pretraining_trains_only_the_window_convolutions_and_keeps_the_outputs(bank, weights, tmp_path):
    last = pretrain_window(weights, bank, tmp_path / "run", WindowPretrainConfig(steps=3, **RUN), average_precision)
    assert set(last) >= {"ap", "chance"} and last["step"] == 3
    before, after = load_weights(weights).state, load_weights(tmp_path / "run" / "weights").state
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("video_encoder.win_convs.") for k in changed)
    assert not after["video_encoder.win_out.weight"].any()  # untouched, still zero
    a, b = FoleyModel(WINDOW).eval(), FoleyModel(WINDOW).eval()
    a.load_state_dict(before)
    b.load_state_dict(after)
    assert generation_difference(a, b) == 0.0  # the path's output layer is zero: the same model
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3


def test_a_resumed_run_equals_an_uninterrupted_one(bank, weights, tmp_path):
    pretrain_window(weights, bank, tmp_path / "a", WindowPretrainConfig(steps=4, **RUN))
    pretrain_window(weights, bank, tmp_path / "b", WindowPretrainConfig(steps=4, **{**RUN, "ckpt_every": 2}))
    # b again, as if stopped after its step-2 checkpoint: drop the step-4 state and resume
    import shutil

    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step-00000004")
    pretrain_window(weights, bank, tmp_path / "b", WindowPretrainConfig(steps=4, **RUN))
    sa, sb = load_weights(tmp_path / "a" / "weights").state, load_weights(tmp_path / "b" / "weights").state
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_a_model_without_the_window_path_is_refused(bank, tmp_path):
    out = tmp_path / "motion"
    save_weights(out, FoleyModel(TINY).state_dict(), TINY, {"step": 0})
    with pytest.raises(ConfigError, match="window pretraining needs"):
        pretrain_window(out, bank, tmp_path / "run", WindowPretrainConfig(steps=1, **RUN))
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretrain-window-path.py"), str(out), str(tmp_path / "r"),
                        "--bank", str(bank), "--steps", "1"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "weights").exists()


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="target"):
        WindowPretrainConfig(target="pixels")
    with pytest.raises(ConfigError, match="steps"):
        WindowPretrainConfig(steps=0)


def test_frame_aps_by_hand():
    from openfoley.training.window import frame_aps

    # 10 frames at 12.5 fps; a landing at 0.0 s (frames 0, 1 with the one-frame lateness) and an impact at
    # 0.4 s (frame 5, and 6); frame 2 is an event-free frame that outscores the landing's frame 1
    items = [{"events": [0.0, 0.4], "event_kinds": ["walk", "impact"]}]
    s = np.array([[0.9, 0.5, 0.6, 0, 0, 0.8, 0.7, 0, 0, 0]])
    out = frame_aps(s, items, 12.5, average_precision)
    # all events: ranks 0+ 5+ 6+ 2- 1+ -> (1 + 1 + 1 + 4/5) / 4
    assert out["ap"] == pytest.approx(0.95) and out["chance"] == pytest.approx(0.4)
    # landings against event-free frames (5 and 6 are left out): 0+ 2- 1+ -> (1 + 2/3) / 2, 2 of 8 frames
    assert out["walk_ap"] == pytest.approx(5 / 6) and out["walk_chance"] == pytest.approx(0.25)
