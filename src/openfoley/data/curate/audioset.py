"""Streaming readers for AudioSet segment CSVs: one physical line at a time, with byte offsets.

The published format (``balanced_train_segments.csv`` etc.)::

    # Segments csv created Sun Mar  5 10:54:31 2017
    # YTID, start_seconds, end_seconds, positive_labels
    --PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"

``iter_lines`` yields ``(line_number, end_offset, text)`` from any byte offset, so a run can stop and
resume exactly where it left off (``pipeline.curate``). Memory is bounded by one line. One record is
one physical line: a quoted field that spans lines is reported as malformed, not joined.

``parse_audioset`` turns a line into an ``AudioSetRow`` or raises ``RowError`` (the caller reports the
line number and skips it, or stops under ``--strict``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from openfoley.errors import DataError


class RowError(ValueError):
    """A malformed CSV row; the message says what is wrong (the caller adds file and line)."""


class AudioSetRow(NamedTuple):  # a NamedTuple: built millions of times, 3x cheaper than a dataclass
    ytid: str
    start: float  # seconds into the YouTube video
    end: float
    labels: tuple[str, ...]  # ontology ids, as written

    @property
    def clip_id(self) -> str:
        """VGGSound's naming (``<ytid>_<start seconds, 6 digits>``), also used for media lookup."""
        return f"{self.ytid}_{int(self.start):06d}"


def iter_lines(path: str | Path, offset: int = 0, line: int = 0) -> Iterator[tuple[int, int, str]]:
    """Yield ``(line_number, byte offset just past the line, text without newline)`` from ``offset``.

    ``line`` is the number of lines before ``offset`` (0 at the start of the file). Bytes that are not
    UTF-8 decode to U+FFFD, which the row parsers reject as malformed.
    """
    p = Path(path)
    try:
        f = open(p, "rb")
    except FileNotFoundError:
        raise DataError(f"{p}: CSV file not found") from None
    with f:
        f.seek(offset)
        for raw in f:
            offset += len(raw)
            line += 1
            yield line, offset, raw.decode("utf-8", errors="replace").rstrip("\r\n")


def is_skippable(text: str) -> bool:
    """Blank lines and ``#`` comment lines carry no row."""
    s = text.strip()
    return not s or s.startswith("#")


def _seconds(s: str, what: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise RowError(f"{what} {s.strip()!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise RowError(f"{what} {s.strip()!r} is not a finite non-negative number")
    return v


# A well-formed line in one C-level match (the common case); anything else takes the slow path, which
# also says what is wrong. Labels: ``/x/...`` ids, comma-separated, quoted (or a single unquoted id).
_FAST = re.compile(r'\s*([^\s,"/\ufffd]+)\s*,\s*([0-9.]+)\s*,\s*([0-9.]+)\s*,\s*'
                   r'(?:"(/[^\s,"\ufffd]+(?:,/[^\s,"\ufffd]+)*)"|(/[^\s,"\ufffd]+))\s*')


def parse_audioset(text: str) -> AudioSetRow:
    """One AudioSet segment line -> ``AudioSetRow`` (``RowError`` if malformed)."""
    m = _FAST.fullmatch(text)
    if m is not None:
        try:
            start, end = float(m[2]), float(m[3])
        except ValueError:
            pass  # e.g. "1.2.3": let the slow path word the error
        else:
            if start < end:
                return AudioSetRow(m[1], start, end, tuple((m[4] or m[5]).split(",")))
    return _parse_slow(text)


def _parse_slow(text: str) -> AudioSetRow:
    if "\ufffd" in text:
        raise RowError("not valid UTF-8")
    parts = text.split(",", 3)
    if len(parts) != 4:
        raise RowError(f"expected 4 fields (YTID, start_seconds, end_seconds, positive_labels), got {len(parts)}")
    ytid = parts[0].strip()
    if not ytid or any(c in ytid for c in ' "/'):
        raise RowError(f"bad YTID {parts[0]!r}")
    start = _seconds(parts[1], "start_seconds")
    end = _seconds(parts[2], "end_seconds")
    if end <= start:
        raise RowError(f"end_seconds {end} is not after start_seconds {start}")
    raw = parts[3].strip()
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"') or '"' in raw[1:-1]:
            raise RowError("unbalanced quotes in positive_labels")
        raw = raw[1:-1]
    elif '"' in raw or "," in raw:
        raise RowError("positive_labels with several ids must be quoted")
    labels = tuple(x.strip() for x in raw.split(","))
    if not labels or any(not x or not x.startswith("/") or " " in x for x in labels):
        raise RowError(f"bad positive_labels {parts[3].strip()!r}")
    return AudioSetRow(ytid, start, end, labels)
