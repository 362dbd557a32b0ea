"""benchmarks/video_views.py: exact values of its view helpers, and its refusals."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "video_views.py"
spec = importlib.util.spec_from_file_location("video_views", PATH)
vv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vv)


def test_the_odd_track_on_the_base_frames():
    # base frame i sits between odd frames i - 1 and i; frame 0 has only odd frame 0 around it
    np.testing.assert_allclose(vv.odd_on_base(np.array([1.0, 3.0, 0.0, 2.0])), [1.0, 2.0, 1.5, 1.0])


def test_views_combine_as_documented():
    base, odd, flip = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.5, 1.0])
    v = vv.combine(base, odd, flip)
    assert list(v) == list(vv.VIEWS)
    assert v["odd"][1] == 0.5 and all(v[k][1] == 0.0 for k in vv.VIEWS if k != "odd")
    np.testing.assert_allclose(v["flip-mean"][0], [0.0, 0.75, 0.5])
    np.testing.assert_allclose(v["odd-mean"][0], [0.0, 0.625, 0.25])  # odd on base: 0, 0.25, 0.5
    np.testing.assert_allclose(v["all-mean"][0], [0.0, 1.75 / 3, 1.5 / 3])


def test_parse_seeds():
    assert vv.parse_seeds("7-9,20") == [7, 8, 9, 20]
    assert vv.parse_seeds("3") == [3]
    with pytest.raises(ValueError):
        vv.parse_seeds("a-b")


@pytest.mark.parametrize("args", [["--seeds", "x"], ["--bank", "/nonexistent/bank"]])
def test_bad_input_is_refused_in_one_line(args):
    r = subprocess.run([sys.executable, str(PATH), *args], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
