"""benchmarks/onset_head_fit.py: video-event F1 of a track (exact answers) and head fitting on a known target."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from onset_head_fit import fit_head, head_from_state, video_event_f1  # noqa: E402

from openfoley.alignment.mma import build_onset_head  # noqa: E402


def test_video_event_f1_exact():
    tracks = np.zeros((3, 20), np.float32)
    tracks[0, 5] = 0.9   # one peak at frame 5: centre 0.44 s at 12.5 fps
    tracks[1, 5] = 0.2   # the same peak below the threshold: no event
    tracks[2, [5, 12]] = 0.5  # two peaks, one true (0.44 s) and one extra (1.0 s)
    truth = [np.array([0.44]), np.array([0.44]), np.array([0.44])]
    f1 = video_event_f1(tracks, truth, 0.32, 12.5)
    np.testing.assert_allclose(f1, [1.0, 0.0, 2 / 3])
    assert video_event_f1(tracks[:1], [np.array([0.56])], 0.32, 12.5)[0] == 0.0  # 0.12 s off: a miss


def test_a_conv_head_fits_what_only_neighbours_show_and_a_linear_head_cannot():
    # the target is the feature of the frame before: one frame of input cannot say it, three frames can
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(64, 30, 4, generator=g)
    target = torch.nn.functional.pad(feats[:, :-1, 0], (1, 0))  # (c, t): feature 0 one frame earlier
    torch.manual_seed(0)
    lin = fit_head(torch.nn.Linear(4, 1), feats, target, 300, 1e-2, 16, 0)
    conv = fit_head(build_onset_head(4, 3, 16), feats, target, 300, 1e-2, 16, 0)
    with torch.no_grad():
        mse_lin = float(torch.nn.functional.mse_loss(lin(feats)[..., 0], target))
        mse_conv = float(torch.nn.functional.mse_loss(conv(feats)[..., 0], target))
    assert mse_conv < 0.1 < 0.8 < mse_lin, (mse_conv, mse_lin)


def test_the_models_own_head_is_rebuilt_from_its_state():
    for kernel in (1, 3):
        torch.manual_seed(kernel)
        head = build_onset_head(8, kernel, 5)
        again = head_from_state(head.state_dict(), 8)
        x = torch.randn(2, 10, 8)
        assert type(again) is type(head) and torch.equal(again(x), head(x))
