"""OpenFoley: sound for silent video by modality-aware masking alignment and flow generation.

The folder tree is the architecture; each layer imports only from layers below it
(``tests/test_layering.py`` checks this):

    cli/          every subcommand: thin argument parsing, then one library call
    serve.py      the web page (optional ``[demo]`` extra)
    benchmark.py  trains/loads ablation variants and prints the paper's tables
    evaluation/   metrics (pure functions), evaluator networks, evaluate command
    lite/         the same generation in numpy + ONNX Runtime, no torch import (generate's CPU default)
    pipeline/     FoleyPipeline: video in, waveform out; long-video windows, stitching, plots
    training/     Algorithm 1: loop, distributed helpers, EMA, optimiser/schedule
    model.py      assembles encoders + alignment + generator from a Config
    encoders/ alignment/ flow/ vocoder/
                  video/audio encoders | MMA masks, key frames, cross-modal transformer |
                  paths, solvers, guidance, generators (cfm, coupling, nf, ddpm) | Griffin-Lim, neural
    data/         sound bank, FoleyWorld renderer, manifests, splits, curation
    features/ checkpoint.py
                  log-mel and its inverse, memory-mapped feature store | weights + resume state
    io/           bytes to tensors and back: probe, read/write video and audio, mux
    config/ errors.py runtime.py
                  frozen dataclasses: the model's Config and presets, the tools' settings (config/tools.py)
                  | user-facing error types | process settings applied by the CLI (malloc)

Shape alphabet (used in docstrings and einops patterns across the package):

    b batch          t video frames        k key frames         n audio tokens
    m mel frames     f mel bins            p mel frames/token   d model width
    s audio samples  c channels            h, w frame height/width

Masks: ``True`` means valid/visible everywhere. Flow time: t=0 is noise, t=1 is data
(``openfoley.flow.path``).
"""



def __getattr__(name: str) -> str:
    """``openfoley.__version__``, read from the installed package's metadata on first use: importing
    ``importlib.metadata`` costs 0.06-0.15 s, a tenth of a short clip's ``openfoley generate``."""
    if name != "__version__":
        raise AttributeError(f"module 'openfoley' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:  # pyproject.toml is the one place the version is written
        v = version("openfoley")
    except PackageNotFoundError:  # a source tree on sys.path without an install
        v = "0+unknown"
    globals()["__version__"] = v
    return v
