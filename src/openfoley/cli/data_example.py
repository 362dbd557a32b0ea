"""``openfoley data example --out VIDEO.mp4``: render a silent example video (the README's main job)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("example", help="render a silent FoleyWorld-style example video (no downloads)")
    p.add_argument("--out", required=True, help="mp4 to write (ground-truth events go to the same name .json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from openfoley.data.foleyworld.example import render_example

    out = render_example(args.out, seed=args.seed, seconds=args.seconds, size=args.size, force=args.force)
    print(f"example video: {out} (silent; ground-truth events in {out.with_suffix('.json')})")
    return 0
