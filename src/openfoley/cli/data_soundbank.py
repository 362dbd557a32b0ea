"""``openfoley data sound-bank --out DIR``: build the sound bank from Debian packages (thin CLI layer)."""

from __future__ import annotations

import argparse
import json

from openfoley.data.soundbank import PACKAGES, BankSettings, build_sound_bank


def register(sub: argparse._SubParsersAction) -> None:
    d = BankSettings()
    p = sub.add_parser(
        "sound-bank", help="build the sound bank (real recordings from Debian packages)",
        description="Fetch (apt-get download) or take (--from) the Debian packages, unpack them, and write "
                    "labelled, de-duplicated 16 kHz event clips with manifest.jsonl, classes.json, bank.json. "
                    "Resumable: rerun the same command to continue.",
    )
    p.add_argument("--out", required=True, help="bank folder (created; resumed if it exists)")
    p.add_argument("--from", dest="from_dir", default=None, help="folder of already-downloaded .deb files")
    p.add_argument("--cache", default=None, help="download + unpack folder (default ~/.cache/openfoley)")
    p.add_argument("--packages", default=",".join(PACKAGES),
                   help="comma-separated Debian packages, in processing order (default: %(default)s)")
    p.add_argument("--sample-rate", type=int, default=d.sample_rate)
    p.add_argument("--max-seconds", type=float, default=d.max_seconds)
    p.add_argument("--min-clips", type=int, default=d.min_clips, help="rare-class threshold")
    p.add_argument("--dedupe-ber", type=float, default=d.dedupe_ber,
                   help="fingerprint bit error rate at or below which two clips are duplicates")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = BankSettings(sample_rate=args.sample_rate, max_seconds=args.max_seconds,
                            min_clips=args.min_clips, dedupe_ber=args.dedupe_ber)
    bank = build_sound_bank(
        args.out, packages=[p.strip() for p in args.packages.split(",") if p.strip()],
        from_dir=args.from_dir, cache=args.cache, settings=settings, progress=not args.no_progress,
    )
    print(json.dumps({k: bank[k] for k in ("clips", "hours", "classes", "groups", "duplicates")}, indent=2))
    return 0
