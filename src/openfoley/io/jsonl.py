"""JSON-lines files: the one reader every manifest, index and resume log goes through.

    iter_jsonl(path) -> (line number, value) for every non-blank line; bad JSON is a DataError naming
                        path:line, or (skip_bad=True, for resume logs an interruption may have cut) skipped
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openfoley.errors import DataError


def iter_jsonl(path: str | Path, *, skip_bad: bool = False) -> Iterator[tuple[int, Any]]:
    """Stream ``(line number, parsed value)`` from a JSON-lines file (bounded memory; blank lines skipped)."""
    path = Path(path)
    try:
        f = open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    with f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                if skip_bad:
                    continue
                raise DataError(f"{path}:{i}: not valid JSON ({e.msg})") from None
            yield i, value
