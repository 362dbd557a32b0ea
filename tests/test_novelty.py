"""benchmarks/novelty.py: exact values of its AUC and nearest-similarity helpers, and its refusals."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "novelty.py"
spec = importlib.util.spec_from_file_location("novelty", PATH)
nov = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nov)


def test_auc_counts_pairs_and_half_ties():
    assert nov.auc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0])) == 1.0
    assert nov.auc(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 0.0
    # pairs (1 vs 1: tie, 1 vs 0: win, 3 vs 1: win, 3 vs 0: win) -> (0.5 + 3) / 4
    assert nov.auc(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])) == pytest.approx(0.875, abs=0)


def test_nearest_similarity_standardises_by_the_library():
    lib = torch.tensor([[1.0, 10.0], [3.0, 10.0], [2.0, 12.0], [2.0, 8.0]])
    # library mean (2, 10), std (sqrt(2/3), sqrt(8/3)); the query (3, 10) standardises to (1.2247, 0)
    q = torch.tensor([[3.0, 10.0]])
    s = nov.nearest_similarity(lib, q, 4)
    assert s.shape == (1, 4)
    # library rows standardised: (-1, 0), (1, 0), (0, 1), (0, -1) up to scale -> cosines 1, 0, 0, -1
    torch.testing.assert_close(s, torch.tensor([[1.0, 0.0, 0.0, -1.0]]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("args, msg", [(["--clips", "0", "--out", "x"], "--clips must be at least 1"),
                                       (["--foleyworld", "no-such-dir", "--out", "x"], "no rendered clips")])
def test_refusals_are_one_line(tmp_path, args, msg):
    r = subprocess.run([sys.executable, str(PATH), *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_weights_digest_is_sha256_of_the_weights_file(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"abc")
    (tmp_path / "config.json").write_text("{}")  # not part of the digest
    assert nov.weights_digest(tmp_path) == "ba7816bf8f01cfea"  # sha256("abc")


def test_missing_weights_are_one_line(tmp_path):
    for split in ("test-closed", "test-open"):
        (tmp_path / "fw" / split).mkdir(parents=True)
        (tmp_path / "fw" / split / "a.mp4").write_bytes(b"")
    r = subprocess.run([sys.executable, str(PATH), "--weights", str(tmp_path / "nope"), "--foleyworld",
                        str(tmp_path / "fw"), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
