"""The torch-free inference runtime: numpy + ONNX Runtime (``openfoley generate``'s default on a CPU).

    runtime.py   LitePipeline / LiteModel: the torch pipeline's generation, step for step, in numpy
                 around two ONNX Runtime sessions (no torch import)
    vocoder.py   PGHI + fast Griffin-Lim in numpy, equal to ``features.mel``'s up to float rounding
    cache.py     where the exported files live (content-keyed), and which models lite can run
    export.py    torch -> condition.onnx + velocity.onnx + lite.npz (imports torch; run once per model)

Submodules are imported by name; this package imports none of them (it only switches ONNX Runtime's
telemetry off, below). docs/generate.md, "Runtimes".
"""

import os

# ONNX Runtime 1.29+ sends usage telemetry from Linux and macOS, and writes a session file into the temp
# folder, unless this is set before it initialises. An offline Foley tool sends nothing anywhere: off
# by default (a user who wants it sets ORT_DISABLE_TELEMETRY=0). Every import of onnxruntime in
# OpenFoley is inside this package, so this line always runs first.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
