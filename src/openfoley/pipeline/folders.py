"""Model folders by name: "builtin" (shipped in the package), a weights folder, or a training run.

Torch-free, so both runtimes (``FoleyPipeline`` and ``openfoley.lite``) resolve ``--model`` alike.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from openfoley.checkpoint import WEIGHTS_FILE
from openfoley.errors import ModelError

PathLike = str | os.PathLike
BUILTIN = "builtin"


def builtin_model_dir() -> Path:
    """The built-in weights folder inside the installed package (never relative to the CWD)."""
    return Path(str(resources.files("openfoley"))) / "assets" / "model-small"


def resolve_model_dir(path: PathLike | None) -> Path:
    """A weights folder from "builtin"/None, a weights folder, or a training run folder (RUN/weights)."""
    if path is None or str(path) == BUILTIN:
        folder = builtin_model_dir()
        if not (folder / WEIGHTS_FILE).is_file():
            raise ModelError(f"{folder}: the built-in model is not in this install; train one "
                             "(`openfoley train`) and pass --model RUN_FOLDER")
        return folder
    p = Path(path)
    if p.is_file():
        raise ModelError(f"{p}: not a model folder (a file; give a weights folder or a training run folder)")
    if p.is_dir() and not (p / WEIGHTS_FILE).exists() and (p / "weights" / WEIGHTS_FILE).is_file():
        return p / "weights"
    return p
