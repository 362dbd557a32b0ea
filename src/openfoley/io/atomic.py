"""Atomic output files: write to a temporary file beside the target, then ``os.replace`` it into place.

Every writer in ``openfoley.io`` (and every CLI command that writes a file) goes through
``atomic_output``, so a crash, a bad input or Ctrl-C never leaves a partial file at the output path, and
an existing file is only replaced when the caller asked for it (``force``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from openfoley.errors import OutputError

PathLike = str | os.PathLike


def check_output(path: PathLike, force: bool = False, inputs: Iterable[PathLike] = ()) -> Path:
    """Validate an output path without writing anything; returns it as a ``Path``.

    Raises ``OutputError`` (one line, naming the path) when the path equals one of ``inputs`` (after
    resolving links), is a directory, exists and ``force`` is false, or its folder is missing.
    """
    p = Path(path)
    if not p.name or p.name in (".", ".."):
        raise OutputError(f"{p}: output path must name a file")
    resolved = p.resolve()
    for other in inputs:
        q = Path(other)
        same = q.resolve() == resolved
        if not same and p.exists() and q.exists():
            same = os.path.samefile(p, q)
        if same:
            raise OutputError(f"{p}: output path is the same file as the input {q}; choose another name")
    if p.is_dir():
        raise OutputError(f"{p}: output path is a directory; give a file name")
    if p.exists() and not force:
        raise OutputError(f"{p}: output file exists (use --force / force=True to overwrite)")
    parent = p.parent
    if not parent.exists():
        raise OutputError(f"{p}: output folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{p}: output folder {parent} is not a directory")
    return p


@contextlib.contextmanager
def atomic_output(path: PathLike, force: bool = False, inputs: Iterable[PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary path in the target's folder (same suffix); on success move it to ``path``.

    The temporary file already exists (empty) when yielded, which proves the folder is writable. If the
    body raises, the temporary file is deleted and the exception propagates; ``path`` is untouched.

    >>> with atomic_output("out.wav") as tmp:  # doctest: +SKIP
    ...     soundfile.write(tmp, wav, 16000)
    """
    p = check_output(path, force=force, inputs=inputs)
    tmp = p.parent / f".{p.stem}.{secrets.token_hex(4)}.partial{p.suffix}"
    try:
        with open(tmp, "xb"):
            pass
    except OSError as e:
        raise OutputError(f"{p}: cannot write in folder {p.parent} ({e.strerror or e})") from None
    try:
        yield tmp
        try:
            os.replace(tmp, p)
        except OSError as e:
            raise OutputError(f"{p}: cannot move the finished file into place ({e.strerror or e})") from None
    finally:
        # Success: tmp was renamed and no longer exists. Failure (any exception, KeyboardInterrupt
        # included): remove the partial file.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
