"""The torch-free inference runtime: numpy + ONNX Runtime (``openfoley generate``'s default on a CPU).

    runtime.py   LitePipeline / LiteModel: the torch pipeline's generation, step for step, in numpy
                 around two ONNX Runtime sessions (no torch import)
    vocoder.py   PGHI + fast Griffin-Lim in numpy, equal to ``features.mel``'s up to float rounding
    cache.py     where the exported files live (content-keyed), and which models lite can run
    export.py    torch -> condition.onnx + velocity.onnx + lite.npz (imports torch; run once per model)

Submodules are imported by name; this package imports none of them. docs/generate.md, "Runtimes".
"""
