"""``openfoley data extract --manifest M --out STORE``: decode clips once into a feature store."""

from __future__ import annotations

import argparse

from openfoley.cli.common import add_config_args, config_from_args
from openfoley.data.extract import extract


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract", help="decode clips once into a memory-mapped feature store for training",
        description="Read every clip of a manifest (JSON lines, a VGGSound CSV, or a folder of videos), cut "
                    "or pad it to the config's clip length, and store frames (uint8) and log-mel (float16) "
                    "in sharded .npy files. Resumable: rerun the same command to continue. Under torchrun "
                    "each rank extracts a disjoint share.",
    )
    p.add_argument("--manifest", required=True, help="manifest .jsonl, VGGSound .csv, or a folder of videos")
    p.add_argument("--out", required=True, help="feature store folder (created; resumed if it exists)")
    p.add_argument("--media", default=None, help="VGGSound media folder (default: the CSV's folder)")
    add_config_args(p)
    p.add_argument("--workers", type=int, default=1, help="processes in this rank (default: %(default)s)")
    p.add_argument("--shard-clips", type=int, default=None, help="clips per shard (default: ~512 MiB)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    r = extract(args.manifest, args.out, cfg, workers=args.workers, media=args.media,
                shard_clips=args.shard_clips, progress=not args.no_progress)
    print(f"{r.out}: {r.store_clips} clips in store; rank {r.rank}/{r.world_size}: {r.added} added, "
          f"{r.skipped} already present, {len(r.failed)} unreadable, "
          f"{r.clips_per_second:.2f} clips/s over {r.seconds:.1f} s")
    for cid, _path, msg in r.failed[:5]:
        print(f"  unreadable {cid}: {msg}")
    if len(r.failed) > 5:
        print(f"  ... {len(r.failed) - 5} more in {r.out / f'failed-r{r.rank}.jsonl'}")
    return 0
