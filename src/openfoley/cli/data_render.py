"""``openfoley data render | splits | contact-sheet``: FoleyWorld commands (thin layers over the library).

    openfoley data splits --bank DIR --out SPLITS.json [--seed K] [--markdown FILE]
    openfoley data render --bank DIR --out DIR --split S --clips N [--seconds T] [--seed K] [--workers N]
    openfoley data contact-sheet --clips OUT/SPLIT --out SHEET.png [--n 4]
"""

from __future__ import annotations

import argparse

from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.contact import contact_sheet_from_dir, write_contact_sheet
from openfoley.data.foleyworld.describe import licence_markdown, splits_markdown
from openfoley.data.foleyworld.render import RENDER_PRESET, render_split
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.splits import SPLITS, SplitRule, Splits, check_splits, make_splits
from openfoley.errors import ConfigError
from openfoley.io.atomic import atomic_output, check_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("splits", help="assign bank clips to train / test-closed / test-open and check them",
                       description="Cluster near-duplicate fingerprints, hold out whole groups and fine classes "
                                   "(test-open), hold out recordings of seen classes (test-closed), write the "
                                   "assignment and print the disjointness check. Exit 1 if the check fails.")
    p.add_argument("--bank", required=True, help="sound bank folder (openfoley data sound-bank)")
    p.add_argument("--out", default=None, help="splits JSON to write (omit with --check)")
    p.add_argument("--check", default=None, metavar="SPLITS.json", help="only check an existing splits file")
    p.add_argument("--seed", type=int, default=0, help="split seed (default: %(default)s)")
    p.add_argument("--near-ber", type=float, default=SplitRule.near_ber,
                   help="bit error rate at or below which two clips are near-duplicates (default: %(default)s)")
    p.add_argument("--open-fraction", type=float, default=SplitRule.open_fraction)
    p.add_argument("--markdown", default=None, help="also write class lists and licences as Markdown")
    p.add_argument("--force", action="store_true", help="overwrite --out / --markdown")
    p.set_defaults(func=_splits)

    r = sub.add_parser("render", help="render FoleyWorld clips (mp4 + ground truth + manifest) for one split",
                       description="Render clips whose visual events cause real bank sounds at sample-exact "
                                   "times, drawing bank clips from the split only. Resumable: rerun to continue.")
    r.add_argument("--bank", required=True, help="sound bank folder")
    r.add_argument("--out", required=True, help="output folder; clips go to OUT/SPLIT/")
    r.add_argument("--split", required=True, help=f"one of {', '.join(SPLITS)}")
    r.add_argument("--clips", type=int, required=True, help="number of clips")
    r.add_argument("--seconds", type=float, default=RenderConfig.seconds)
    r.add_argument("--fps", type=float, default=RenderConfig.fps)
    r.add_argument("--size", type=int, default=RenderConfig.size)
    r.add_argument("--seed", type=int, default=0, help="render seed (default: %(default)s)")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--splits", default=None, help="splits JSON (default: BANK/splits.json, else the rule, seed 0)")
    r.add_argument("--max-sources", type=int, default=RenderConfig.max_sources)
    r.add_argument("--preset", default=RENDER_PRESET, help="libx264 preset (default: %(default)s)")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=_render)

    c = sub.add_parser("contact-sheet", help="a PNG of a few rendered clips: frames, spectrogram, event marks")
    c.add_argument("--clips", required=True, help="a rendered split folder (OUT/SPLIT)")
    c.add_argument("--out", required=True, help="PNG to write")
    c.add_argument("--n", type=int, default=4, help="clips to show (default: %(default)s)")
    c.add_argument("--ids", default=None, help="comma-separated clip ids instead of the first N")
    c.add_argument("--thumbs", type=int, default=8, help="frames per clip (default: %(default)s)")
    c.add_argument("--force", action="store_true")
    c.set_defaults(func=_contact)


def _splits(args: argparse.Namespace) -> int:
    bank = load_bank(args.bank)
    if args.check:
        splits = Splits.load(args.check)
    else:
        if not args.out:
            raise ConfigError("give --out SPLITS.json to write splits, or --check SPLITS.json to check one")
        check_output(args.out, force=args.force)
        rule = SplitRule(open_fraction=args.open_fraction, near_ber=args.near_ber)
        splits = make_splits(bank, seed=args.seed, rule=rule)
        splits.save(args.out, force=args.force)
        print(f"{args.out}: splits written (seed {args.seed})")
    report = check_splits(bank, splits)
    print(report.format())
    if args.markdown:
        with atomic_output(args.markdown, force=args.force) as tmp:
            tmp.write_text(splits_markdown(bank, splits, report) + "\n" + licence_markdown(bank))
    return 0 if report.ok else 1


def _render(args: argparse.Namespace) -> int:
    bank = load_bank(args.bank)
    cfg = RenderConfig(seconds=args.seconds, fps=args.fps, size=args.size, sample_rate=bank.sample_rate,
                       max_sources=args.max_sources)
    s = render_split(bank.root, args.out, args.split, args.clips, seed=args.seed, cfg=cfg, workers=args.workers,
                     splits=args.splits, preset=args.preset, progress=not args.no_progress)
    print(f"{s.out}: {s.clips} clips ({s.rendered} rendered, {s.skipped} already done) in {s.seconds:.1f} s, "
          f"{s.clips_per_second:.2f} clips/s with {args.workers} worker(s); manifest {s.out / 'manifest.jsonl'}")
    return 0


def _contact(args: argparse.Namespace) -> int:
    check_output(args.out, force=args.force)
    ids = [x.strip() for x in args.ids.split(",")] if args.ids else None
    image = contact_sheet_from_dir(args.clips, n=args.n, ids=ids, thumbs=args.thumbs)
    write_contact_sheet(args.out, image, force=args.force)
    print(f"{args.out}: contact sheet, {image.shape[1]}x{image.shape[0]} px")
    return 0
