"""``openfoley probe FILE...``: print what a media file holds (container, video and audio streams).

A thin layer over ``openfoley.io.probe``. A readable table per file by default, ``--json`` for machines,
``-o report.json`` to write the JSON to a file (atomically; only when every file could be read). A bad
file among several is reported on stderr and the others are still probed; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from openfoley.errors import OpenFoleyError
from openfoley.io import ProbeResult, atomic_output, check_output, probe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="show the container, video and audio streams of media files",
                       description="Show the container, video and audio streams of media files.")
    p.add_argument("files", nargs="+", metavar="FILE", help="video or audio files")
    p.add_argument("--json", action="store_true", help="print JSON (a list, one object per file)")
    p.add_argument("-o", "--output", metavar="PATH", help="write the JSON report to PATH")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--no-count-frames", dest="count_frames", action="store_false",
                   help="estimate frame counts the container does not store instead of counting packets")
    p.set_defaults(func=run)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def format_table(r: ProbeResult) -> str:
    """The human-readable block for one file."""
    lines = [str(r.path), f"  container  {r.container}, {r.duration:.3f} s, {_size(r.size_bytes)}"]
    v = r.video
    if v is not None:
        rot = f", rotated {v.rotation} deg (shown {v.display_size[0]}x{v.display_size[1]})" if v.rotation else ""
        lines.append(f"  video      {v.codec} {v.width}x{v.height} {v.pix_fmt}, {v.fps:.3f} fps, "
                     f"{v.frames} frames, {v.duration:.3f} s{rot}")
    else:
        lines.append("  video      none")
    a = r.audio
    if a is not None:
        lines.append(f"  audio      {a.codec} {a.sample_rate} Hz, {a.channels} ch, {a.duration:.3f} s")
    else:
        lines.append("  audio      none")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.output:  # refuse a bad output path before doing any work
        check_output(args.output, force=args.force, inputs=args.files)
    results: list[dict] = []
    failed = False
    for i, path in enumerate(args.files):
        try:
            r = probe(path, count_frames=args.count_frames)
        except OpenFoleyError as e:
            if args.debug:
                raise
            print(f"openfoley probe: error: {e}", file=sys.stderr)
            results.append({"path": str(path), "error": str(e)})
            failed = True
            continue
        results.append(r.to_dict())
        if not args.json and not args.output:
            print(("\n" if i else "") + format_table(r))
    if args.json:
        print(json.dumps(results, indent=2))
    if args.output:
        if failed:
            print(f"openfoley probe: error: {args.output} not written because some files could not be read",
                  file=sys.stderr)
        else:
            with atomic_output(args.output, force=args.force, inputs=args.files) as tmp:
                tmp.write_text(json.dumps(results, indent=2) + "\n")
    return 2 if failed else 0
