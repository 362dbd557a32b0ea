"""A silent example video for the README's main command, rendered here (no third-party media).

``render_example(out)`` builds a small synthetic sound bank whose class names are FoleyWorld training
classes (so the visuals are the ones the built-in model learned: a falling arrow on a metal plate, a
stick on a snare drum, a hammer on wood...), renders one FoleyWorld clip from it and writes the frames
as an mp4 *without* audio: the input a user would bring. The clip's ground-truth event times are
written beside it (``.json``) so the generated sound can be checked by eye and ear.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.render import render_clip
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.io import atomic_output, write_video

# Seen (training) classes of the real bank at split seed 0, one per kind of visual event.
EXAMPLE_CLASSES = [("arrow on metal", "impact"), ("snare drum", "drum"), ("hammering wood", "tool"),
                   ("glass breaking", "break"), ("door closing", "door"), ("dog", "animal")]


def render_example(out: str | Path, seed: int = 0, seconds: float = 8.0, size: int = 128, fps: float = 25.0,
                   force: bool = False) -> Path:
    """Write a silent FoleyWorld-style mp4 to ``out`` (and its ground truth to ``out`` with .json)."""
    out = Path(out)
    cfg = RenderConfig(seconds=seconds, fps=fps, size=size)
    with tempfile.TemporaryDirectory(prefix="openfoley-example-") as tmp:
        bank = load_bank(make_synth_bank(Path(tmp) / "bank", seed=seed, classes=EXAMPLE_CLASSES,
                                         near_copies=0, recordings=0))
        pool = bank.clips_by_class(list(bank.clips))
        clip = render_clip(bank, pool, cfg, seed=seed, split="test-closed", index=0)
    write_video(out, clip.frames, fps, force=force)
    truth = {k: v for k, v in clip.truth.items() if k in ("events", "seconds", "fps", "size")}
    with atomic_output(out.with_suffix(".json"), force=True) as tmp_json:
        Path(tmp_json).write_text(json.dumps(truth, indent=1))
    return out
