"""Loaders for datasets users bring: each turns its native listing into ``ClipRecord``s.

- ``vggsound_manifest(csv, media_dir)``: VGGSound listings in either published form, detected from
  the first data row: two columns ``ytid_start.mp4,label`` (as in the per-split test CSV) or four
  columns ``ytid,start,label,split`` (``vggsound.csv``). A clip's media is ``{ytid}_{start:06d}`` with
  any video extension, found anywhere under ``media_dir``; rows whose media are missing are skipped
  and reported (count and the first few), or raise with ``missing="error"``.
- ``folder_manifest(dir)``: every video file under a folder, optionally labelled by its sub-folder.
- ``load_clips(source, media)``: a JSON-lines manifest, a VGGSound CSV or a folder, whichever
  ``source`` is, with absolute media paths (what ``data extract`` reads).

FoleyWorld manifests are already ``ClipRecord`` JSON lines (``openfoley.data.manifest``).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from openfoley.data.manifest import ClipRecord, read_manifest
from openfoley.errors import DataError

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".ogv", ".ogg", ".mpg", ".mpeg", ".flv")
_TWO_COL = re.compile(r"^(?P<ytid>.+)_(?P<start>\d+)\.[A-Za-z0-9]+$")
_REPORT = 5  # missing rows listed by name


def _media_index(media_dir: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    """Map file stem -> path for every video under ``media_dir`` (one scan, any depth)."""
    if not media_dir.is_dir():
        raise DataError(f"{media_dir}: media folder not found")
    index: dict[str, Path] = {}
    for root, dirs, files in os.walk(media_dir):
        dirs.sort()
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() in exts and not name.startswith("."):
                index.setdefault(stem, Path(root, name).resolve())
    return index


def _class_groups(classes_csv: str | Path | None) -> dict[str, str]:
    """``label -> group`` from VGGSound's ``label,count,group`` class list, if given."""
    if classes_csv is None:
        return {}
    p = Path(classes_csv)
    if not p.is_file():
        raise DataError(f"{p}: class list not found")
    with open(p, newline="") as f:
        return {row[0].strip(): row[2].strip() for row in csv.reader(f) if len(row) >= 3}


def _parse_vggsound(csv_path: Path) -> list[tuple[int, str, int, str, str | None]]:
    """Rows as (line, ytid, start, label, split), the column layout detected from the first row."""
    with open(csv_path, newline="") as f:
        rows = [(i, r) for i, r in enumerate(csv.reader(f), 1) if r and any(c.strip() for c in r)]
    out: list[tuple[int, str, int, str, str | None]] = []
    layout = None
    for line, r in rows:
        r = [c.strip() for c in r]
        if len(r) == 2 and _TWO_COL.match(r[0]):
            kind = 2
        elif len(r) == 4 and r[1].isdigit():
            kind = 4
        elif layout is None and not out:  # a header line before the first data row
            continue
        else:
            raise DataError(f"{csv_path}:{line}: expected 'ytid_start.mp4,label' or "
                            f"'ytid,start,label,split', got {','.join(r)!r}")
        if layout is None:
            layout = kind
        elif kind != layout:
            raise DataError(f"{csv_path}:{line}: {kind}-column row in a {layout}-column VGGSound CSV")
        if kind == 2:
            m = _TWO_COL.match(r[0])
            assert m is not None  # matched above
            out.append((line, m["ytid"], int(m["start"]), r[1], None))
        else:
            out.append((line, r[0], int(r[1]), r[2], r[3] or None))
    if not out:
        raise DataError(f"{csv_path}: no VGGSound rows found")
    return out


def vggsound_manifest(
    csv_path: str | Path,
    media_dir: str | Path,
    classes_csv: str | Path | None = None,
    split: str | None = None,
    missing: str = "skip",
) -> list[ClipRecord]:
    """Clip records for a VGGSound CSV whose media are under ``media_dir``.

    ``classes_csv`` (``label,count,group``) fills ``group``; ``split`` overrides or fills the split
    (the two-column form has none); ``missing``: ``"skip"`` logs and drops rows without media,
    ``"error"`` raises. Each media file is a 10 s clip already cut at ``start``, so records select the
    whole file (``start=0``); ``extra`` keeps the YouTube id and start.
    """
    if missing not in ("skip", "error"):
        raise ValueError(f"missing must be 'skip' or 'error', got {missing!r}")
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: VGGSound CSV not found")
    groups = _class_groups(classes_csv)
    media = _media_index(Path(media_dir), VIDEO_EXTS)
    records, absent, seen = [], [], set()
    for line, ytid, start, label, row_split in _parse_vggsound(csv_path):
        cid = f"{ytid}_{start:06d}"
        if cid in seen:
            raise DataError(f"{csv_path}:{line}: clip {cid} listed twice")
        seen.add(cid)
        path = media.get(cid)
        if path is None:
            absent.append(f"{csv_path.name}:{line} {cid}")
            continue
        records.append(ClipRecord(
            id=cid, path=str(path), label=label, group=groups.get(label), split=split or row_split,
            source="vggsound", extra={"ytid": ytid, "yt_start": start},
        ))
    if absent:
        msg = (f"{csv_path}: {len(absent)} of {len(seen)} rows have no media under {media_dir} "
               f"(first: {', '.join(absent[:_REPORT])})")
        if missing == "error":
            raise DataError(msg)
        log.warning(msg)
    return records


def folder_manifest(
    directory: str | Path, exts: tuple[str, ...] = VIDEO_EXTS, label_from_folder: bool = False
) -> list[ClipRecord]:
    """One record per video file under ``directory`` (any depth, sorted).

    ``id`` is the path relative to ``directory`` without its extension (with it, where two files
    differ only in extension). ``label_from_folder``: the label is the first sub-folder's name
    (the ``class/clip.mp4`` layout).
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{root}: video folder not found")
    exts = tuple(e.lower() for e in exts)
    files = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        files += [Path(d, n) for n in names if Path(n).suffix.lower() in exts and not n.startswith(".")]
    if not files:
        raise DataError(f"{root}: no video files ({', '.join(exts)}) found")
    files.sort(key=lambda f: f.relative_to(root).as_posix())
    rels = [f.relative_to(root) for f in files]
    stems = [r.with_suffix("").as_posix() for r in rels]
    clashes = {s for s, c in Counter(stems).items() if c > 1}
    records = []
    for f, rel, stem in zip(files, rels, stems, strict=True):
        label = rel.parts[0] if label_from_folder and len(rel.parts) > 1 else None
        records.append(ClipRecord(id=rel.as_posix() if stem in clashes else stem, path=str(f.resolve()),
                                  label=label, source=root.name))
    return records


def load_clips(source: str | Path, media: str | Path | None = None) -> list[ClipRecord]:
    """Records from a JSON-lines manifest, a VGGSound ``.csv`` (media under ``media``, default its
    folder) or a folder of videos, with every path made absolute."""
    src = Path(source)
    if src.is_dir():
        records = folder_manifest(src)
    elif src.suffix.lower() == ".csv":
        records = vggsound_manifest(src, media if media is not None else src.parent)
    else:
        root = src.resolve().parent
        records = [replace(r, path=str(r.resolve(root))) for r in read_manifest(src)]
    if not records:
        raise DataError(f"{src}: no clips to read")
    dup = next((i for i, c in Counter(r.id for r in records).items() if c > 1), None)
    if dup is not None:
        raise DataError(f"{src}: clip id {dup!r} appears more than once")
    return records
