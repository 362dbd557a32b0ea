"""``openfoley data ...``: dataset commands (sound-bank, render, splits, extract, contact-sheet).

Each ``cli/data_*.py`` module exposes ``register(subparsers)`` for one ``data`` subcommand; they are
found by name so that each lives beside the library code it wraps.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import openfoley.cli as _cli_pkg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build and inspect datasets: sound bank, FoleyWorld, feature store")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    names = sorted(m.name for m in pkgutil.iter_modules(_cli_pkg.__path__) if m.name.startswith("data_"))
    for name in names:
        importlib.import_module(f"openfoley.cli.{name}").register(data_sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
