"""Clip manifests: the one record format every dataset loader yields and ``data extract`` reads.

A manifest is a JSON-lines file, one ``ClipRecord`` per line. Paths are stored as given; relative
paths are resolved against the manifest's own folder (``resolve``), so a dataset folder can move.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from openfoley.errors import DataError
from openfoley.io.jsonl import iter_jsonl


@dataclass(frozen=True)
class ClipRecord:
    """One audio-visual clip: where its media are and what it is.

    ``start``/``duration`` select a section of the file in seconds (``duration`` None: to the end).
    ``label``/``group`` are the fine class and coarse group where known. ``extra`` holds
    dataset-specific fields (ground-truth events, source ids) as plain JSON.
    """

    id: str
    path: str
    start: float = 0.0
    duration: float | None = None
    label: str | None = None
    group: str | None = None
    split: str | None = None
    source: str | None = None  # dataset or package the clip came from
    licence: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def resolve(self, root: str | Path) -> Path:
        """Absolute media path: ``path`` if absolute, else relative to ``root`` (the manifest's folder)."""
        p = Path(self.path)
        return p if p.is_absolute() else Path(root) / p


_FIELDS = {f.name for f in fields(ClipRecord)}


def record_from_dict(d: dict[str, Any], where: str = "record") -> ClipRecord:
    missing = {"id", "path"} - set(d)
    if missing:
        raise DataError(f"{where}: missing field(s) {sorted(missing)}")
    unknown = set(d) - _FIELDS
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)}")
    return ClipRecord(**d)


def write_manifest(path: str | Path, records: Iterable[ClipRecord]) -> int:
    """Write records as JSON lines, atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    try:
        with open(tmp, "w") as f:
            for r in records:
                f.write(json.dumps(asdict(r), sort_keys=True) + "\n")
                n += 1
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


def iter_manifest(path: str | Path) -> Iterator[ClipRecord]:
    """Stream records from a JSON-lines manifest (bounded memory)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    for i, d in iter_jsonl(path):
        yield record_from_dict(d, f"{path}:{i}")


def read_manifest(path: str | Path) -> list[ClipRecord]:
    return list(iter_manifest(path))
