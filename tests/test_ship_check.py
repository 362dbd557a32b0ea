"""scripts/ship-check.sh refuses bad input with one line and exit status 2, before it writes anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ship-check.sh"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_usage_without_arguments():
    r = run()
    assert r.returncode == 2
    assert r.stderr.strip() == "usage: scripts/ship-check.sh WEIGHTS OUT [THRESHOLD]"


def test_folder_without_weights(tmp_path):
    (tmp_path / "w").mkdir()
    r = run(str(tmp_path / "w"), str(tmp_path / "out"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tmp_path / 'w'} has no config.json (give a weights folder)"
    assert not (tmp_path / "out").exists()


def test_missing_test_renders(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    for name in ("config.json", "meta.json", "model.safetensors"):
        (w / name).write_text("{}")
    r = run(str(w), str(tmp_path / "out"), env={"FW": str(tmp_path / "fw")})
    assert r.returncode == 2
    assert r.stderr.strip().startswith(f"error: no {tmp_path / 'fw'}/test-closed renders")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_threshold_must_be_a_number_in_unit_interval(tmp_path):
    for bad in ("x", "1.5", "-0.1", "0.3.2"):
        r = run(str(tmp_path / "w"), str(tmp_path / "out"), bad)
        assert r.returncode == 2
        assert r.stderr.strip() == f"error: THRESHOLD must be a number in [0, 1], not '{bad}'"


def test_out_made_for_other_weights_is_refused(tmp_path):
    """A rerun into OUT must score the same weights and threshold (finished rows are reused)."""
    w = tmp_path / "w"
    w.mkdir()
    for name in ("config.json", "meta.json", "model.safetensors"):
        (w / name).write_text("{}")
    for split in ("test-closed", "test-open"):
        (tmp_path / "fw" / split).mkdir(parents=True)
        (tmp_path / "fw" / split / "manifest.jsonl").write_text("")
    (tmp_path / "out" / "model").mkdir(parents=True)
    (tmp_path / "out" / "model" / "source.txt").write_text(f"{w} threshold 0.32\n")
    r = run(str(w), str(tmp_path / "out"), "0.3", env={"FW": str(tmp_path / "fw")})
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tmp_path / 'out'} already scores {w} threshold 0.32; give another OUT"


def test_relative_paths_are_the_callers(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), "w", "out"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tmp_path / 'w'} has no config.json (give a weights folder)"
