"""Inference end to end: video in, waveform out (``FoleyPipeline``), and the ``--plot`` figure.

    core.py      FoleyPipeline (from_pretrained, __call__, windows), FoleyResult, device selection
    windows.py   the overlapping window plan, the crossfading stitcher, onset detection
    plot.py      plot_result: key frames with their times, the generated spectrogram, detected onsets

Muxing the result under the original video is ``openfoley.io.mux`` (the CLI does it, ``cli/generate``).
See docs/generate.md for the window stitching and the readings chosen.
"""

from openfoley.pipeline.core import (
    BUILTIN,
    FoleyPipeline,
    FoleyResult,
    WindowOutput,
    builtin_model_dir,
    resolve_device,
    resolve_model_dir,
)
from openfoley.pipeline.plot import plot_result
from openfoley.pipeline.windows import Stitcher, WindowPlan, detect_onsets, plan_windows

__all__ = [
    "BUILTIN", "FoleyPipeline", "FoleyResult", "Stitcher", "WindowOutput", "WindowPlan", "builtin_model_dir",
    "detect_onsets", "plan_windows", "plot_result", "resolve_device", "resolve_model_dir",
]
