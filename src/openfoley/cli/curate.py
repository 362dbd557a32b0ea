"""``openfoley curate``: build the open-set benchmark (AudioSet + Panda-70M minus VGGSound's classes).

Thin layer over ``openfoley.data.curate.curate``; every rule is documented in
docs/open-set-benchmark.md. Prints the stage table; writes the manifest and a JSON report.
"""

from __future__ import annotations

import argparse
import logging

from openfoley.data.curate import CurateConfig, MediaRule, curate, format_table
from openfoley.data.curate.media import default_workers

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curate",
        help="build the open-set benchmark manifest from AudioSet/Panda-70M metadata",
        description="Remove every clip overlapping VGGSound's 309 classes (AudioSet labels via the "
        "ontology mapping, Panda-70M captions via class terms), then keep clips of 8-12 s, >= 224p and "
        "audio SNR > 15 dB when --media is given. Resumable: rerun the same command after an interruption.",
    )
    p.add_argument("--audioset", nargs="+", default=[], metavar="CSV", help="AudioSet segment CSV(s)")
    p.add_argument("--panda", nargs="+", default=[], metavar="CSV", help="Panda-70M metadata CSV(s)")
    p.add_argument("--media", metavar="DIR", help="folder of downloaded clips named <clip_id>.<ext>")
    p.add_argument("--out", required=True, metavar="JSONL", help="output manifest")
    p.add_argument("--report", metavar="JSON", help="report path (default: <out>.report.json)")
    p.add_argument("--ontology", metavar="JSON", help="AudioSet ontology.json (default: shipped copy)")
    p.add_argument("--mapping", metavar="TSV", help="VGGSound->AudioSet table (default: shipped, reviewed)")
    p.add_argument("--exclude-ancestors", action=argparse.BooleanOptionalAction, default=True,
                   help="also remove clips labelled with an ancestor of a mapped node (default: on)")
    p.add_argument("--ancestor-rule", choices=("unexplained", "any"), default="unexplained",
                   help="unexplained: only when no finer label under that ancestor is present (default)")
    d = MediaRule()
    p.add_argument("--min-duration", type=float, default=d.min_duration, metavar="S")
    p.add_argument("--max-duration", type=float, default=d.max_duration, metavar="S")
    p.add_argument("--min-height", type=int, default=d.min_height, metavar="PX")
    p.add_argument("--min-snr-db", type=float, default=d.min_snr_db, metavar="DB")
    p.add_argument("--workers", type=int, default=None,
                   help="media probing processes (default: half the CPUs; 0 = in-process)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed CSV row")
    p.add_argument("--restart", action="store_true", help="discard an unfinished run's state")
    p.add_argument("--force", action="store_true", help="overwrite an existing manifest/report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = CurateConfig(
        audioset=tuple(args.audioset), panda=tuple(args.panda), ontology=args.ontology,
        mapping=args.mapping, media_dir=args.media, exclude_ancestors=args.exclude_ancestors,
        ancestor_rule=args.ancestor_rule,
        media=MediaRule(min_duration=args.min_duration, max_duration=args.max_duration,
                        min_height=args.min_height, min_snr_db=args.min_snr_db),
        strict=args.strict, workers=default_workers() if args.workers is None else args.workers,
    )
    res = curate(cfg, args.out, args.report, force=args.force, restart=args.restart,
                 progress=lambda n: log.info("%d rows read", n))
    print(format_table(res.report))
    print(f"wrote {res.kept:,} clips to {res.manifest} (report: {res.report_path})")
    return 0
