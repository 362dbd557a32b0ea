"""Where the lite runtime's files live: built once per model, then reused by every later run.

    lite_files(weights_folder) -> the folder with condition.onnx, velocity.onnx, lite.npz

The key is a hash of the model's weights and config and of the export format, so retrained weights or
a new OpenFoley export get new files and a stale export is never used. The cache root is
``$OPENFOLEY_CACHE`` if set, else ``$XDG_CACHE_HOME/openfoley``, else ``~/.cache/openfoley``; its
``lite/`` folder holds one folder per key (about 15 MB for the built-in model). A missing export is
built with ``lite.export.export_lite``, which imports torch: the first run of a model pays for that
import and the export once (about 10 s on 2 cores), said in one line through ``on_build``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from openfoley.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from openfoley.errors import ModelError

LITE_FORMAT = 1  # bump when the exported graphs or lite.npz change meaning (lite.export checks it)
FILES = ("condition.onnx", "velocity.onnx", "lite.npz")


def unsupported(cfg) -> str | None:
    """Why the lite runtime cannot run a model of ``cfg`` (a ``Config``), or None when it can."""
    if cfg.flow.kind != "cfm":
        return f"it runs flow.kind 'cfm' models only, this one is {cfg.flow.kind!r}"
    if cfg.audio.time_steps is not None:
        return "it does not resample mel time (audio.time_steps is set)"
    return None


def cache_root() -> Path:
    """The cache folder (not created here)."""
    if os.environ.get("OPENFOLEY_CACHE"):
        return Path(os.environ["OPENFOLEY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openfoley"


def model_key(folder: Path) -> str:
    """16 hex digits of sha256 over the export format, the config and the weights' bytes."""
    h = hashlib.sha256(f"lite-format-{LITE_FORMAT}\n".encode())
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        p = folder / name
        if not p.is_file():
            raise ModelError(f"{folder}: not a model folder (missing {name})")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - fh is the loop's own file
                h.update(block)
    return h.hexdigest()[:16]


def lite_files(folder: Path, on_build: Callable[[str], None] | None = None) -> Path:
    """The lite files of the weights folder ``folder``, exporting them into the cache when absent."""
    out = cache_root() / "lite" / model_key(folder)
    if all((out / f).is_file() for f in FILES):
        return out
    if on_build is not None:
        on_build(f"preparing {folder.name} for the fast CPU runtime (once per model, into {out})")
    from openfoley.lite.export import export_lite  # torch: only when the export must be built

    try:
        return export_lite(folder, out)
    except OSError as e:
        raise ModelError(f"{out}: cannot write the lite runtime's files ({e.strerror or e}); "
                         "set OPENFOLEY_CACHE to a writable folder or use --runtime torch") from None
