"""``openfoley benchmark``: the paper's ablation tables on FoleyWorld (``--list`` names the rows)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="the paper's ablation variants and reference rows (--list)",
                       description="List the variants and reference rows of the paper's Tables 3-5.")
    p.add_argument("--list", action="store_true", help="print the variant and reference-row names")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from openfoley.benchmark import list_variants

    for v in list_variants():
        print(f"{v.name:15s} {v.description}")
    return 0
