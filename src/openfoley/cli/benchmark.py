"""``openfoley benchmark``: the paper's ablation tables on FoleyWorld (``--list`` names the rows)."""

from __future__ import annotations

import argparse
import shlex
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="the paper's ablation variants and reference rows on FoleyWorld",
                       description="Generate every row's audio for the clips of one FoleyWorld split, evaluate "
                                   "it against the real audio and print a table. Variants load "
                                   "MODEL_ROOT/<variant>-seed<k>/weights or are trained (--train-store); "
                                   "`full` uses --full-model (default: the built-in model).")
    p.add_argument("--list", action="store_true", help="print the variant and reference-row names")
    p.add_argument("--split", default="test-closed", help="test-closed or test-open (default: %(default)s)")
    p.add_argument("--foleyworld", default="data/foleyworld", help="rendered FoleyWorld folder")
    p.add_argument("--rows", nargs="+", default=["full", "ground-truth", "shuffled"])
    p.add_argument("--out", default="runs/benchmark", help="where generated clips go")
    p.add_argument("--model-root", default="runs/benchmark/models")
    p.add_argument("--full-model", default="builtin")
    p.add_argument("--train-store", default=None, help="feature store to train missing variants on")
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--retrieval-videos", default=None,
                   help="training clips' mp4 folder (the retrieval row; default: FOLEYWORLD/train)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: each model's config)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--evaluators", default=None, help="evaluators folder (default: the shipped ones)")
    p.add_argument("--markdown", default=None, help="append the table to this Markdown file")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from openfoley.benchmark import list_variants, results_markdown, run_benchmark

    if args.list:
        for v in list_variants():
            print(f"{v.name:15s} {v.description}")
        return 0
    out = Path(args.out) / args.split
    res = run_benchmark(Path(args.foleyworld) / args.split, out, args.rows, model_root=args.model_root,
                        builtin_for_full=args.full_model, train_store=args.train_store,
                        train_steps=args.train_steps, steps=args.steps, seed=args.seed,
                        evaluators=args.evaluators, limit=args.limit,
                        retrieval_videos=args.retrieval_videos or Path(args.foleyworld) / "train")
    command = "openfoley " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    table = results_markdown(args.split, res, command)
    print(table)
    import json

    path = out / "results.json"  # rows accumulate across runs into one file per split
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(res)
    path.write_text(json.dumps(merged, indent=1))
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n" + table)
    return 0
