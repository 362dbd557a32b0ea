"""``openfoley benchmark``: the paper's ablation tables on FoleyWorld (``--list`` names the rows)."""

from __future__ import annotations

import argparse
import shlex
import sys

from openfoley.cli.common import add_config_args, config_from_args
from openfoley.config.tools import LIVE_WALKER_SHARE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="the paper's ablation variants and reference rows on FoleyWorld",
                       description="Generate every row's audio for the clips of one FoleyWorld split, evaluate "
                                   "it against the real audio and print the tables (mean ± std over seeds). "
                                   "Variants load MODEL_ROOT/<variant>-seed<k>/weights or are trained on "
                                   "--train-store from the base config (--preset/--config/--set) plus the "
                                   "variant's overrides; `full` uses --full-model (default: the built-in "
                                   "model; `train` trains it like the other variants). Finished rows are "
                                   "kept, so a cut-off run resumes.")
    p.add_argument("--list", action="store_true", help="print the variant and reference-row names")
    p.add_argument("--report", action="store_true",
                   help="only print the tables of what OUT/SPLIT already holds (generate nothing)")
    p.add_argument("--split", default="test-closed",
                   help="the rendered split under FOLEYWORLD: test-closed or test-open; a rendered train split "
                        "gives an in-sample check (default: %(default)s)")
    p.add_argument("--foleyworld", default="data/foleyworld", help="rendered FoleyWorld folder")
    p.add_argument("--rows", "--variants", dest="rows", nargs="+", default=["full", "ground-truth", "shuffled"])
    p.add_argument("--out", default="runs/benchmark", help="where generated clips and metrics go (OUT/SPLIT/ROW)")
    p.add_argument("--model-root", default=None, help="trained variants' runs (default: OUT/models)")
    p.add_argument("--full-model", default="builtin", help="weights for `full`: builtin, a folder, or `train`")
    p.add_argument("--train-store", default=None, help="feature store to train missing variants on")
    p.add_argument("--train-live", metavar="BANK", default=None,
                   help="train missing variants on clips rendered on the fly from this sound bank (openfoley train "
                        "--live) instead of --train-store, which the retrieval row still reads")
    p.add_argument("--train-walkers", type=float, default=LIVE_WALKER_SHARE, metavar="SHARE",
                   help="--train-live: share of strike and impact sources drawn as walkers (default: %(default)s)")
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--retrieval-videos", default=None,
                   help="training clips' mp4 folder (the retrieval row; default: FOLEYWORLD/train)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: each model's config)")
    p.add_argument("--solver", default=None,
                   help="ODE solver for the model rows: euler, midpoint or heun (default: each model's config)")
    p.add_argument("--cfg-scale", type=float, default=None,
                   help="classifier-free guidance scale for the model rows (default: each model's config)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds: SEED .. SEED+N-1 (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--evaluators", default=None, help="evaluators folder (default: the shipped ones)")
    p.add_argument("--markdown", default=None, help="append the tables to this Markdown file")
    add_config_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from openfoley.benchmark import collect_results, list_variants, paper_tables, run_benchmark
    from openfoley.errors import ConfigError

    if args.list:
        for v in list_variants():
            print(f"{v.name:15s} {v.description}")
        return 0
    if args.seeds < 1 or args.seed < 0:
        raise ConfigError(f"--seeds must be >= 1 and --seed >= 0, got {args.seeds} and {args.seed}")
    out = Path(args.out) / args.split
    if not args.report:
        run_benchmark(Path(args.foleyworld) / args.split, out, args.rows, base_cfg=config_from_args(args),
                      model_root=args.model_root or Path(args.out) / "models",
                      full_model=None if args.full_model == "train" else args.full_model,
                      train_store=args.train_store, train_steps=args.train_steps, steps=args.steps, solver=args.solver,
                      cfg_scale=args.cfg_scale, seeds=list(range(args.seed, args.seed + args.seeds)), evaluators=args.evaluators,
                      limit=args.limit,
                      retrieval_videos=args.retrieval_videos or Path(args.foleyworld) / "train",
                      train_live=args.train_live, train_walkers=args.train_walkers)
    results = collect_results(out)
    if not results:
        raise ConfigError(f"{out}: no finished rows to report")
    tables = paper_tables(args.split, results)
    command = "openfoley " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"`{command}`\n\n{tables}")
    summary = {row: {"per_seed": {str(k): v for k, v in per.items()}} for row, per in results.items()}
    from openfoley.io import atomic_output

    with atomic_output(out / "results.json", force=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n" + tables)
    return 0
