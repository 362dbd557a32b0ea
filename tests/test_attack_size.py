"""benchmarks/attack_size.py: exact values of its event and rise helpers, and its refusals."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "attack_size.py"
spec = importlib.util.spec_from_file_location("attack_size", PATH)
ak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ak)


def test_rises_at_the_guides_mel_frame_and_near_it():
    # 4 video frames over 16 mel frames: frame k's first mel frame is 4 k
    flux = torch.zeros(16)
    flux[4], flux[6], flux[13] = 0.5, 0.9, 1.5
    at, near = ak.rises(flux, torch.tensor([1, 3]), 4)
    np.testing.assert_allclose(at, [0.5, 0.0])  # mel frames 4 and 12
    np.testing.assert_allclose(near, [0.9, 1.5])  # mel frames 2-6 and 10-14
    at, near = ak.rises(flux, torch.tensor([0]), 4)  # the window is cut at the clip's start
    np.testing.assert_allclose([at[0], near[0]], [0.0, 0.0])


def test_missing_folders_are_refused_in_one_line(tmp_path):
    for args in (["--store", str(tmp_path / "nope")], ["--store", str(tmp_path), str(tmp_path / "gone")],
                 ["--store", str(tmp_path), "--every", "0"], ["--store", str(tmp_path)]):  # not a store
        r = subprocess.run([sys.executable, str(PATH), *args], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
