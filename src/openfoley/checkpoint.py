"""Checkpoints: inference weights (safetensors + JSON config) and resume state, written atomically.

Two artefacts, as in DiT/MMAudio:

* **Weights folder** (what ``generate`` loads): ``model.safetensors`` (EMA weights by default),
  ``config.json`` (the resolved ``Config``), ``meta.json`` (format version, code version, step, notes).
* **Resume state** (what ``train --resume`` loads): one ``torch.save`` file holding the raw model,
  optimiser, scheduler, EMA, step, data position and RNG states. Loaded with ``weights_only=True``.

Atomicity: every folder is written under a temporary name in the same parent and renamed into place,
so a crash or a full disk while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openfoley.config import Config
from openfoley.errors import ConfigError, ModelError

if TYPE_CHECKING:  # torch is imported where it is used: the lite runtime reads folder names from here
    import torch

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
META_FILE = "meta.json"
RESUME_FILE = "resume.pt"


@dataclass(frozen=True)
class LoadedWeights:
    state: dict[str, torch.Tensor]
    config: Config
    meta: dict[str, Any]


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def replace_dir(tmp: Path, final: Path) -> None:
    """Move folder ``tmp`` to ``final``, replacing an existing ``final`` with two renames."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_weights_folder(folder: str | Path, tensors: dict[str, torch.Tensor], config: dict[str, Any],
                         meta: dict[str, Any], weights_file: str = WEIGHTS_FILE, config_file: str = CONFIG_FILE,
                         meta_file: str = META_FILE) -> Path:
    """Write a weights folder (safetensors + JSON config + JSON meta) atomically, replacing ``folder``.

    The one writer behind the model's, the vocoder's and the evaluators' weight folders.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(folder)
    tmp.mkdir()
    try:
        from safetensors.torch import save_file

        save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp / weights_file))
        (tmp / config_file).write_text(json.dumps(config, indent=2, sort_keys=True))
        (tmp / meta_file).write_text(json.dumps(meta, indent=2, sort_keys=True))
        replace_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def save_weights(folder: str | Path, state: dict[str, torch.Tensor], config: Config,
                 meta: dict[str, Any] | None = None) -> Path:
    """Write an inference weights folder atomically. ``state`` values must be tensors."""
    from openfoley import __version__

    full_meta = {"format_version": FORMAT_VERSION, "openfoley_version": __version__, **(meta or {})}
    return write_weights_folder(folder, state, config.to_dict(), full_meta)


def load_config(folder: str | Path) -> Config:
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: not a model folder (no {CONFIG_FILE})")
    try:
        return Config.from_json(path.read_text())
    except (json.JSONDecodeError, ConfigError) as e:
        raise ModelError(f"{path}: config does not match this version of OpenFoley ({e})") from None


def load_weights(folder: str | Path) -> LoadedWeights:
    """Read a weights folder; ModelError if it is missing, malformed, or from an unknown format."""
    folder = Path(folder)
    if not folder.exists():
        raise ModelError(f"{folder}: model folder not found")
    if not folder.is_dir():
        raise ModelError(f"{folder}: not a model folder (expected a directory)")
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: not a model folder (missing {name})")
    meta: dict[str, Any] = {}
    if (folder / META_FILE).is_file():
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except json.JSONDecodeError:
            raise ModelError(f"{folder / META_FILE}: not valid JSON") from None
    if meta.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(f"{folder}: weights format {meta['format_version']} is newer than this "
                         f"OpenFoley understands ({FORMAT_VERSION}); upgrade openfoley")
    config = load_config(folder)
    try:
        from safetensors.torch import load_file

        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ModelError(f"{folder / WEIGHTS_FILE}: unreadable weights ({e})") from None
    return LoadedWeights(state=state, config=config, meta=meta)


def read_state_file(path: str | Path, what: str = "") -> dict[str, torch.Tensor]:
    """Tensors from a local ``.safetensors`` or torch (``.pt``/``.pth``/``.bin``) weights file.

    For published pretrained weights (SigLIP, AudioMAE, VGGish, CNN14...). A torch file may hold the
    state dict itself or wrap it under ``"model"`` or ``"state_dict"``; a DDP ``module.`` prefix is
    dropped. Loaded with ``weights_only=True``: no code is executed. ModelError names the file.
    """
    import torch
    from safetensors.torch import load_file

    label = f"{what} weights" if what else "weights"
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: {label} file not found")
    sd: Any  # a flat state dict, or a torch file's wrapper around one
    try:
        if p.suffix == ".safetensors":
            sd = load_file(str(p), device="cpu")
        else:
            sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any decoding failure is the file's fault
        raise ModelError(f"{p}: cannot read {label} ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    if isinstance(sd, dict):
        for key in ("model", "state_dict"):
            if isinstance(sd.get(key), dict):
                sd = sd[key]
                break
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelError(f"{p}: {label} must be a state dict of names to tensors, got {type(sd).__name__}")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_state_into(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load ``state`` strictly, turning key/shape mismatches into a one-line ModelError."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} with wrong shapes (e.g. {k}: {tuple(state[k].shape)} vs "
                         f"{tuple(own[k].shape)})")
        raise ModelError(f"{where}: weights do not match the model: " + ", ".join(parts))
    module.load_state_dict(state, strict=True)


# --- resume state ------------------------------------------------------------------------------

def step_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:08d}"


def save_resume(run_dir: str | Path, step: int, state: dict[str, Any], keep_last: int = 3) -> Path:
    """Write ``checkpoints/step-XXXXXXXX/resume.pt`` atomically and keep only the newest ``keep_last``."""
    final = step_dir(run_dir, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    tmp.mkdir()
    try:
        import torch

        torch.save(state, tmp / RESUME_FILE)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_resume(run_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_resume(run_dir: str | Path) -> list[Path]:
    """Complete resume checkpoints, oldest first (temporary folders are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / RESUME_FILE).is_file())


def load_resume(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    file = path / RESUME_FILE if path.is_dir() else path
    import torch

    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{file}: resume state not found") from None
    except Exception as e:
        raise ModelError(f"{file}: unreadable resume state ({e})") from None
