"""benchmarks/memorise.py: the identification rate (exact answers) and the one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from memorise import identification_rate  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "memorise.py"


def test_identification_rate_exact():
    real = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert identification_rate(real, real) == 1.0
    gen = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 9.0]])  # clip 1 sits next to clip 0's real audio
    assert identification_rate(gen, real) == 2 / 3
    tie = np.array([[5.0, 0.0], [10.0, 0.0], [0.0, 10.0]])  # clip 0 equally far from real 0 and 1: a miss
    assert identification_rate(tie, real) == 2 / 3
    assert identification_rate(real[::-1].copy(), real) == 1 / 3  # only the middle clip stays in place


def test_bad_arguments_are_refused_in_one_line(tmp_path):
    for args in (["--clips", "1"], ["--lr", "0"], ["--bank", str(tmp_path)]):
        r = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr
