"""Shared test setup and helpers.

One torch thread per test process: `make test` runs two processes on two cores, and torch's default of
one thread per core would oversubscribe them (measured: a tiny VGGish forward took 0.7 s with 2 threads
under load and 0.003 s with 1).

``OPENFOLEY_CACHE`` (the lite runtime's cache) is set for the session, see below.

Fixtures: ``unwritable_folder`` (a folder this process cannot create files in) and ``moving_square``
(the helper that makes a small synthetic video: a bright square bouncing on a dark background).
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

# The lite runtime's exported model files (openfoley.lite.cache) go to one folder per machine user for
# every test process and CLI subprocess, not into ~/.cache; its keys are content hashes, so a file
# from an earlier run is the same file. tests/test_lite.py builds its own into a fresh folder.
os.environ.setdefault("OPENFOLEY_CACHE", str(Path(tempfile.gettempdir()) / f"openfoley-test-cache-{os.getuid()}"))


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: ``tmp_path/ro`` with mode 0555, or ``/proc`` for
    root, who ignores permission bits."""
    if os.geteuid() == 0:
        return Path("/proc")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    return d


def _moving_square(n: int, h: int = 48, w: int | None = None, fps: float = 12.5, speed: float = 2.1) -> np.ndarray:
    """uint8 (n, 3, h, w) frames (w defaults to h): a bright square of side h // 6, a third of the way
    across, bouncing between the top and the bottom at ``speed`` radians per second (|sin| of time)."""
    w = h if w is None else w
    fr = np.full((n, 3, h, w), 30, np.uint8)
    side = h // 6
    ys = ((h - side) * np.abs(np.sin(np.arange(n) / fps * speed))).astype(int)
    for i, y in enumerate(ys):
        fr[i, :, y : y + side, w // 3 : w // 3 + side] = 230
    return fr


@pytest.fixture(scope="session")
def moving_square():
    """``moving_square(n, h=48, w=None, fps=12.5, speed=2.1)`` -> uint8 (n, 3, h, w) video frames."""
    return _moving_square
