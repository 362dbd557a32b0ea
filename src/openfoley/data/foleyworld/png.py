"""PNG pictures: a small zlib writer (contact sheets, test banks) and a reader through PyAV's decoder.

Writing is the minimal valid PNG (8-bit RGB or RGBA, filter 0 on every row, one IDAT chunk): enough for
contact sheets and for the pictures tests put in generated banks. Reading goes through FFmpeg's PNG
decoder (PyAV), which handles every colour type, bit depth and interlacing the packages use, at C speed.

Shapes: images are (h, w, c) uint8 with c = 3 (RGB) or 4 (RGBA).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from openfoley.errors import DataError
from openfoley.io.atomic import atomic_output

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """Encode an (h, w, 3|4) uint8 image as PNG bytes."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"encode_png wants (h, w, 3|4) uint8, got {image.shape} {image.dtype}")
    h, w, c = image.shape
    colour_type = 2 if c == 3 else 6
    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)  # filter 0
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
            + _chunk(b"IEND", b""))


def write_png(path: str | Path, image: np.ndarray, force: bool = True) -> Path:
    """Write ``image`` (h, w, 3|4) uint8 to ``path`` atomically; returns the path."""
    data = encode_png(image)
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def read_png(path: str | Path) -> np.ndarray:
    """Decode a picture file (PNG, or anything FFmpeg reads as an image) to (h, w, 4) uint8 RGBA."""
    import av  # local: only pictures need the decoder

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: picture not found")
    try:
        with av.open(str(p)) as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgba")
    except av.FFmpegError as e:
        raise DataError(f"{p}: cannot decode picture ({e})") from None
    raise DataError(f"{p}: picture has no image")
