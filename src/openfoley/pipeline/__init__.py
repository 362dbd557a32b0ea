"""Inference end to end: video in, waveform out (``FoleyPipeline``), and the ``--plot`` figure.

    core.py      FoleyPipeline (from_pretrained, __call__, windows), device selection (torch)
    result.py    FoleyResult: the sound and what the plot needs (numpy; both runtimes return it)
    folders.py   "builtin" / weights folder / run folder -> the weights folder
    windows.py   the overlapping window plan, the crossfading stitcher, onset detection
    plot.py      plot_result: key frames with their times, the generated spectrogram, detected onsets

Muxing the result under the original video is ``openfoley.io.mux`` (the CLI does it, ``cli/generate``).
See docs/generate.md for the window stitching and the readings chosen. The names below are loaded
on first use, so ``import openfoley.pipeline.windows`` (the torch-free lite runtime does) does not
import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openfoley.pipeline.core import FoleyPipeline, WindowOutput, resolve_device
    from openfoley.pipeline.folders import BUILTIN, builtin_model_dir, resolve_model_dir
    from openfoley.pipeline.plot import plot_result
    from openfoley.pipeline.result import FoleyResult
    from openfoley.pipeline.windows import Stitcher, WindowPlan, detect_onsets, plan_windows

_WHERE = {
    "FoleyPipeline": "core", "WindowOutput": "core", "resolve_device": "core",
    "BUILTIN": "folders", "builtin_model_dir": "folders", "resolve_model_dir": "folders",
    "plot_result": "plot", "FoleyResult": "result",
    "Stitcher": "windows", "WindowPlan": "windows", "detect_onsets": "windows", "plan_windows": "windows",
}

__all__ = [
    "BUILTIN", "FoleyPipeline", "FoleyResult", "Stitcher", "WindowOutput", "WindowPlan", "builtin_model_dir",
    "detect_onsets", "plan_windows", "plot_result", "resolve_device", "resolve_model_dir",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'openfoley.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(f"openfoley.pipeline.{_WHERE[name]}"), name)
