"""The neural vocoder's weights folder: ``vocoder.safetensors`` + ``vocoder.json`` + ``meta.json``.

Like ``openfoley.checkpoint`` (inference weights apart from resume state, written atomically), but the
JSON is the vocoder's own ``VocoderConfig`` (its audio front end and network size), not a model
``Config``: a vocoder is trained and shipped apart from any generator and serves every model whose
audio settings match. The folder is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from openfoley import __version__
from openfoley.checkpoint import load_state_into, write_weights_folder
from openfoley.errors import ModelError
from openfoley.vocoder.neural import VocoderConfig, VocosNet

FORMAT_VERSION = 1
WEIGHTS_FILE = "vocoder.safetensors"
CONFIG_FILE = "vocoder.json"
META_FILE = "meta.json"


def save_vocoder(folder: str | Path, net: VocosNet, meta: dict[str, Any] | None = None,
                 dtype: torch.dtype = torch.float32) -> Path:
    """Write ``net``'s weights, config and ``meta`` to ``folder`` atomically (replacing it).

    ``dtype=torch.float16`` halves the file (the shipped built-in: ~3 MB); ``load_vocoder`` always
    returns float32 parameters.
    """
    full = {"format_version": FORMAT_VERSION, "openfoley_version": __version__, **(meta or {})}
    return write_weights_folder(folder, {k: v.to(dtype) for k, v in net.state_dict().items()}, net.cfg.to_dict(),
                                full, weights_file=WEIGHTS_FILE, config_file=CONFIG_FILE, meta_file=META_FILE)


def read_meta(folder: str | Path) -> dict[str, Any]:
    """``meta.json`` of a vocoder folder ({} if absent)."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ModelError(f"{path}: not valid JSON") from None


def load_vocoder(folder: str | Path) -> VocosNet:
    """Rebuild the network from a folder written by ``save_vocoder`` (eval mode, on CPU)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: vocoder folder not found")
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: not a vocoder folder (missing {name})")
    meta = read_meta(folder)
    if meta.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(f"{folder}: vocoder format {meta['format_version']} is newer than this "
                         f"OpenFoley understands ({FORMAT_VERSION}); upgrade openfoley")
    try:
        raw = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError:
        raise ModelError(f"{folder / CONFIG_FILE}: not valid JSON") from None
    cfg = VocoderConfig.from_dict(raw, where=str(folder / CONFIG_FILE))
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as e:  # safetensors raises its own types for corrupt files
        raise ModelError(f"{folder / WEIGHTS_FILE}: unreadable weights ({e})") from None
    net = VocosNet(cfg)
    load_state_into(net, state, str(folder))
    return net.eval()


def state_copy(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state (for EMA and resume state)."""
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
