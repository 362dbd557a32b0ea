"""benchmarks/level_profile.py: exact values of its level, body and stratum-share helpers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "level_profile.py"
spec = importlib.util.spec_from_file_location("level_profile", PATH)
lp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lp)


def test_window_levels_are_rms_in_dbfs():
    wav = np.concatenate([np.full(4, 0.1), np.full(4, -1.0), np.full(3, 0.5)])  # the partial last window is dropped
    np.testing.assert_allclose(lp.window_levels(wav, 4), [-20.0, 0.0], atol=1e-6)


def test_peak_and_body():
    # four frames at 0, -10, -30 and -25 dBFS: peak 0; two of four within 20 dB of it
    wav = np.concatenate([np.full(10, a) for a in (1.0, 10 ** -0.5, 10 ** -1.5, 10 ** -1.25)])
    peak, body = lp.peak_and_body(wav, 10)
    assert peak == pytest.approx(0.0, abs=1e-6) and body == 0.5


def test_stratum_shares_split_the_mean_difference():
    real = np.zeros((4, 2))
    gen = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    levels = np.array([-60.0, -40.0, -30.0, -10.0])  # one window in each stratum
    # D = (1, 1); |D|^2 = 2; the windows' differences . D: 0, 2, 2, 4; over N |D|^2 = 8
    assert lp.stratum_shares(real, gen, levels) == pytest.approx([0.0, 0.25, 0.25, 0.5])
    assert lp.stratum_shares(real, real, levels) == [0.0] * 4


def test_an_empty_reference_is_refused(tmp_path):
    r = subprocess.run([sys.executable, str(PATH), str(tmp_path), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == f"error: {tmp_path}: no mp4 files"
