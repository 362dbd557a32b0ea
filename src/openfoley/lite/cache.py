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
from openfoley.errors import ConfigError, ModelError

LITE_FORMAT = 3  # 2: the stabiliser's warp without GridSample; 3: the prepared condition's glob (flow.global_cond). Bump when the exported graphs or lite.npz change meaning (lite.export checks it)
FILES = ("condition.onnx", "velocity.onnx", "lite.npz")


def unsupported(cfg) -> str | None:
    """Why the lite runtime cannot run a model of ``cfg`` (a ``Config``), or None when it can."""
    if cfg.flow.kind != "cfm":
        return f"it runs flow.kind 'cfm' models only, this one is {cfg.flow.kind!r}"
    if cfg.audio.time_steps is not None:
        return "it does not resample mel time (audio.time_steps is set)"
    return None


def gpu_present() -> bool:
    """Whether an NVIDIA GPU driver is loaded (where ``device="auto"`` may pick CUDA), without torch."""
    return Path("/proc/driver/nvidia/version").exists()


def pick_runtime(runtime: str, model: str | os.PathLike, device: str = "auto", vocoder: str = "auto") -> str:
    """"lite" or "torch" for ``openfoley generate --runtime/--model/--device/--vocoder`` (and the web page).

    "auto" picks lite where it gives the same generation: a CPU (``device`` "cpu", or "auto" on a
    machine without an NVIDIA driver), the Griffin-Lim vocoder ("griffinlim", or "auto" with no built-in
    neural vocoder) and a model lite runs (``unsupported``). "lite" with a GPU device, the neural
    vocoder or such a model is a ConfigError; ModelError for a folder that is not a model.
    """
    from importlib import resources

    from openfoley.checkpoint import load_config
    from openfoley.pipeline.folders import resolve_model_dir

    if runtime not in ("auto", "lite", "torch"):
        raise ConfigError(f"unknown runtime {runtime!r}; use auto, lite or torch")
    if runtime == "torch":
        return "torch"
    why = unsupported(load_config(resolve_model_dir(model)))
    if runtime == "lite":
        if device not in ("auto", "cpu"):
            raise ConfigError(f"--runtime lite runs on the CPU only; drop --device {device} or use --runtime torch")
        if vocoder == "neural":
            raise ConfigError("--runtime lite has the Griffin-Lim vocoder only; use --runtime torch for --vocoder neural")
        if why is not None:
            raise ConfigError(f"--runtime lite cannot run {model}: {why}; use --runtime torch")
        return "lite"
    cpu = device == "cpu" or (device == "auto" and not gpu_present())
    neural = vocoder == "neural" or (
        vocoder == "auto" and (Path(str(resources.files("openfoley"))) / "assets" / "vocoder-small").is_dir())
    return "lite" if cpu and not neural and why is None else "torch"


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
