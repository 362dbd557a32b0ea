"""The ``openfoley`` command line: one module per subcommand, each a thin layer over one library call.

Each module named in ``COMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. ``main`` turns every ``OpenFoleyError`` into one line on stderr and exit code 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from openfoley.errors import OpenFoleyError

# Subcommand name -> (module in openfoley.cli, one-line help). Only the chosen command's module is
# imported (most pull in torch, scipy or gradio), so `openfoley --help` and every command start fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "probe": ("probe", "show the container, video and audio streams of media files"),
    "generate": ("generate", "generate Foley sound for a video (or a folder of videos)"),
    "data": ("data", "build and inspect datasets: sound bank, FoleyWorld, feature store"),
    "train": ("train", "train a model (Algorithm 1) on a feature store"),
    "evaluate": ("evaluate", "score generated audio against reference audio (FAD, KLD, Align Acc, onsets)"),
    "evaluators": ("evaluate", "train OpenFoley's own evaluator networks"),
    "benchmark": ("benchmark", "the paper's ablation variants and reference rows on FoleyWorld"),
    "info": ("info", "print parameters and FLOPs per forward pass for each component"),
    "curate": ("curate", "build the paper's open-set benchmark from AudioSet + Panda-70M metadata"),
    "vocoder": ("vocoder", "train the neural vocoder; compare it with Griffin-Lim"),
    "serve": ("serve", "web page: upload a video, generate its sound, watch it back"),
}

_argv: list[str] = []
_lazy = False  # True while main() builds the parser for one command line


def chosen(level: int = 0) -> str | None:
    """The subcommand named at ``level`` in the current command line (0: top level), if any."""
    words = [a for a in _argv if not a.startswith("-")]
    return words[level] if len(words) > level else None


class _Version(argparse.Action):
    """``--version``: reads the package metadata only when asked (``openfoley.__version__`` is lazy)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from openfoley import __version__

        print(f"openfoley {__version__}")  # on stdout, as argparse's own "version" action does
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser (``only`` None), or one where only command ``only`` is loaded ("" = none)."""
    parser = argparse.ArgumentParser(
        prog="openfoley", description="Generate synchronised Foley sound for silent video."
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_lazily(sub, COMMANDS, only)
    return parser


def register_lazily(sub: argparse._SubParsersAction, table: dict[str, tuple[str, str]], only: str | None) -> None:
    """Register the modules of ``table`` (all if ``only`` is None, else ``only``'s), then a one-line
    placeholder for every other name: listed in --help, its options load when it is chosen."""
    modules = dict.fromkeys(m for n, (m, _) in table.items() if only is None or n == only)
    for module in modules:
        importlib.import_module(f"openfoley.cli.{module}").register(sub)
    for name, (_, help_text) in table.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text)


def main(argv: list[str] | None = None) -> int:
    global _argv, _lazy
    _argv = list(sys.argv[1:] if argv is None else argv)
    name = chosen()
    _lazy = True
    try:
        parser = build_parser(only=name if name in COMMANDS else "")
    finally:
        _lazy = False
    args = parser.parse_args(_argv)
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


def entry() -> int:
    """The ``openfoley`` console script and ``python -m openfoley``: process settings, then ``main``.

    Process-wide settings belong to the process that runs a command, not to callers of ``main`` (tests,
    notebooks), so they are applied here.
    """
    from openfoley.runtime import keep_freed_memory

    keep_freed_memory()  # fewer page faults per training/sampling step (openfoley/runtime.py)
    return main()
