"""A real tiny weights folder for pipeline/generate tests: ``openfoley train --preset tiny --smoke``.

Trained once per test session (per xdist worker) and shared by the test files that need it.
"""

from __future__ import annotations

from pathlib import Path

from openfoley.cli import main


def smoke_weights(tmp_path_factory) -> Path:
    run = tmp_path_factory.getbasetemp() / "smoke-tiny-run"
    weights = run / "weights"
    if not (weights / "model.safetensors").is_file():
        assert main(["train", "--preset", "tiny", "--smoke", "--no-progress", "--out", str(run)]) == 0
    return weights
