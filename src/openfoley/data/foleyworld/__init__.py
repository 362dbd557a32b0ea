"""FoleyWorld: a benchmark of real sound effects caused by rendered visual events.

Clips are drawn with numpy: visible physical events (an object striking a material, feet landing, a
stick on a drum, a door shutting, a picture of an animal calling, glass shattering, engines, fire and
water moving with their loudness) whose sounds are real recordings from the sound bank, mixed so that
each sound starts on the sample where its contact frame begins. Distractors, camera shake and noise
keep synchronisation from being solvable by a trivial cue. Map of the package:

    bank.py        read a sound bank (manifest.jsonl, classes.json, bank.json, audio, pictures)
    splits.py      the split rule (train / test-closed / test-open) and the check that proves it
    looks.py       visual identity per class: materials, procedural objects, drums, animals, pictures
    draw.py        vectorised drawing primitives on a float canvas
    sources.py     sounding event kinds (impact, walk, strike, call, door, shatter, flash)
    continuous.py  continuous sources driven by their loudness envelope; silent distractors
    scenes.py      RenderConfig, kind_of, build_scene, draw_frames, mix
    render.py      render_clip (pure) and render_split (mp4 + ground truth + manifest, parallel, resumable)
    contact.py     contact sheets: frame strip, spectrogram, event marks
    describe.py    Markdown tables for docs/benchmark.md
    png.py         PNG writer (zlib) and reader (PyAV)
    synthbank.py   a small synthetic bank in the real layout, for tests and demos

Docs: docs/benchmark.md.
"""

from openfoley.data.foleyworld.bank import Bank, BankClip, load_bank
from openfoley.data.foleyworld.render import RenderedClip, RenderSummary, render_clip, render_split
from openfoley.data.foleyworld.scenes import RenderConfig, kind_of
from openfoley.data.foleyworld.splits import SPLITS, SplitReport, SplitRule, Splits, check_splits, make_splits

__all__ = ["Bank", "BankClip", "load_bank", "RenderConfig", "RenderedClip", "RenderSummary", "render_clip",
           "render_split", "kind_of", "SPLITS", "SplitReport", "SplitRule", "Splits", "check_splits",
           "make_splits"]
