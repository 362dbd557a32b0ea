"""The ``openfoley`` command line: one module per subcommand, each a thin layer over one library call.

Each module in ``COMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. ``main`` turns every ``OpenFoleyError`` into one line on stderr and exit code 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from openfoley import __version__
from openfoley.errors import OpenFoleyError

# Subcommand modules, in the order ``--help`` lists them. A module is added here with its issue.
COMMANDS: list[str] = ["probe", "data", "train", "generate", "info", "curate", "vocoder", "evaluate", "serve"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openfoley", description="Generate synchronised Foley sound for silent video."
    )
    parser.add_argument("--version", action="version", version=f"openfoley {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"openfoley.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except OpenFoleyError as e:
        if args.debug:
            raise
        print(f"openfoley {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("openfoley: interrupted", file=sys.stderr)
        return 130
