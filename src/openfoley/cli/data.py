"""``openfoley data ...``: dataset commands (sound-bank, splits, render, contact-sheet, extract, example).

Each ``cli/data_*.py`` module exposes ``register(subparsers)`` for its ``data`` subcommands. As at the
top level, only the chosen subcommand's module is imported.
"""

from __future__ import annotations

import argparse

import openfoley.cli as cli
from openfoley.cli import chosen

# data subcommand -> (module, one-line help)
DATA_COMMANDS: dict[str, tuple[str, str]] = {
    "sound-bank": ("data_soundbank", "build the sound bank of real recordings from Debian packages"),
    "splits": ("data_render", "assign bank clips to train / test-closed / test-open and check them"),
    "render": ("data_render", "render FoleyWorld clips (mp4 + ground truth + manifest) for one split"),
    "contact-sheet": ("data_render", "a PNG of a few rendered clips: frames, spectrogram, event marks"),
    "extract": ("data_extract", "decode clips once into a memory-mapped feature store for training"),
    "example": ("data_example", "render a silent FoleyWorld-style example video (no downloads)"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build and inspect datasets: sound bank, FoleyWorld, feature store")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    want = (chosen(1) or "") if cli._lazy and chosen(0) == "data" else None
    cli.register_lazily(data_sub, DATA_COMMANDS, want)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
