"""PNG images without an imaging library: a writer (zlib + CRC chunks) and tiny raster helpers.

A ``Canvas`` is an RGB uint8 array ``(h, w, 3)`` with a few drawing calls (filled rectangles, lines,
image blits with nearest-neighbour scaling, a 3x5 pixel font for numbers and short labels, and a
colour map for spectrograms), enough to draw the ``generate --plot`` figure. ``write_png`` writes
8-bit truecolour PNG (colour type 2, no interlace, filter 0 per row), atomically.

Coordinates: x to the right, y down, (0, 0) the top-left pixel; rectangles are half-open [x0, x1).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from openfoley.errors import DataError
from openfoley.io.atomic import atomic_output

PathLike = str | os.PathLike
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# 3x5 glyphs, one string of 15 bits per character (rows top to bottom, "1" = ink).
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", ":": "000010000010000",
    "-": "000000111000000", "s": "000011110001110", " ": "000000000000000", "k": "100101110101101",
    "e": "000111111100111", "y": "000101111001111", "f": "011100110100100", "r": "000110101100100",
    "a": "000011101101011", "m": "000111111101101", "o": "000111101101111", "n": "000110101101101",
    "t": "010111010010011", "H": "101101111101101", "z": "000111001100111", "l": "110010010010111",
    "g": "000111101111001", "i": "010000010010010", "d": "001001111101111", "c": "000111100100111",
    "p": "000111101111100", "u": "000101101101111", "v": "000101101101010", "/": "001001010100100",
    "(": "010100100100010", ")": "010001001001010", "=": "000111000111000", "x": "000101010101000",
    "b": "100100111101111", "h": "100100111101101", "w": "000101101111111",
}
_FONT.update({  # capitals and a little more punctuation (contact sheets upper-case their labels)
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011", "D": "110101101101110",
    "E": "111100110100111", "F": "111100110100100", "G": "011100101101011",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010", "P": "110101110100100",
    "Q": "010101101110011", "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "|": "010010010010010", "_": "000000000000111",
    "+": "000010111010000",
})
GLYPH_W, GLYPH_H = 3, 5

# Anchor colours of a perceptually ordered dark-blue -> green -> yellow map, interpolated linearly.
_CMAP = np.array([[20, 10, 60], [50, 40, 130], [30, 110, 140], [40, 170, 110], [170, 210, 50],
                  [250, 240, 40]], np.float32)


def colormap(values: np.ndarray) -> np.ndarray:
    """values in [0, 1] (any shape) -> uint8 RGB (*shape, 3); out-of-range values are clipped."""
    v = np.clip(np.nan_to_num(np.asarray(values, np.float32)), 0, 1) * (len(_CMAP) - 1)
    i = np.minimum(v.astype(np.int64), len(_CMAP) - 2)
    frac = (v - i)[..., None]
    return (_CMAP[i] * (1 - frac) + _CMAP[i + 1] * frac).round().astype(np.uint8)


class Canvas:
    """An RGB image ``pixels`` uint8 (h, w, 3) with small drawing helpers (all clip to the canvas)."""

    def __init__(self, width: int, height: int, background: tuple[int, int, int] = (255, 255, 255)):
        if width <= 0 or height <= 0:
            raise ValueError(f"canvas size must be positive, got {width}x{height}")
        self.pixels = np.empty((height, width, 3), np.uint8)
        self.pixels[:] = background

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        """Fill [x0, x1) x [y0, y1)."""
        x0, x1 = max(0, int(x0)), min(self.width, int(x1))
        y0, y1 = max(0, int(y0)), min(self.height, int(y1))
        if x0 < x1 and y0 < y1:
            self.pixels[y0:y1, x0:x1] = colour

    def vline(self, x: int, y0: int, y1: int, colour: tuple[int, int, int], width: int = 1) -> None:
        self.rect(x, y0, x + width, y1, colour)

    def hline(self, y: int, x0: int, x1: int, colour: tuple[int, int, int], width: int = 1) -> None:
        self.rect(x0, y, x1, y + width, colour)

    def blit(self, image: np.ndarray, x: int, y: int, width: int | None = None, height: int | None = None) -> None:
        """Paste ``image`` uint8 (h, w, 3) at (x, y), scaled by nearest neighbour to width x height."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (h, w, 3), got {image.shape}")
        h, w = image.shape[:2]
        width, height = width or w, height or h
        rows = np.minimum((np.arange(height) * h) // height, h - 1)
        cols = np.minimum((np.arange(width) * w) // width, w - 1)
        scaled = image[rows][:, cols]  # (height, width, 3)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + width), min(self.height, y + height)
        if x0 < x1 and y0 < y1:
            self.pixels[y0:y1, x0:x1] = scaled[y0 - y : y1 - y, x0 - x : x1 - x]

    def text(self, x: int, y: int, s: str, colour: tuple[int, int, int] = (0, 0, 0), scale: int = 2) -> int:
        """``draw_text`` on this canvas."""
        return draw_text(self.pixels, x, y, s, colour, scale)


def draw_text(pixels: np.ndarray, x: int, y: int, s: str, colour: tuple[int, int, int] = (0, 0, 0),
              scale: int = 2) -> int:
    """Draw ``s`` with the 3x5 font into ``pixels`` (h, w, 3), clipped to it; a character missing from
    the font is drawn in its other case, else left blank. Returns the x after the text."""
    h, w = pixels.shape[:2]
    for ch in s:
        bits = _FONT.get(ch) or _FONT.get(ch.lower()) or _FONT.get(ch.upper()) or _FONT[" "]
        for i, b in enumerate(bits):
            if b == "1":
                r, c = divmod(i, GLYPH_W)
                x0, y0 = max(0, x + c * scale), max(0, y + r * scale)
                x1, y1 = min(w, x + (c + 1) * scale), min(h, y + (r + 1) * scale)
                if x0 < x1 and y0 < y1:
                    pixels[y0:y1, x0:x1] = colour
        x += (GLYPH_W + 1) * scale
    return x


def text_width(s: str, scale: int = 2) -> int:
    """Pixels ``Canvas.text`` advances for ``s``."""
    return len(s) * (GLYPH_W + 1) * scale


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels: np.ndarray, level: int = 6) -> bytes:
    """uint8 (h, w, 3) RGB or (h, w, 4) RGBA -> PNG bytes."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or 0 in pixels.shape:
        raise ValueError(f"pixels must be non-empty uint8 (h, w, 3|4), got {pixels.dtype} {pixels.shape}")
    h, w, c = pixels.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(pixels).reshape(h, w * c)], axis=1)
    # 8-bit RGB (colour type 2) or RGBA (6), deflate, filter 0, no interlace
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 6, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + \
        _chunk(b"IEND", b"")


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes written by ``encode_png`` (8-bit RGB, filter 0) -> uint8 (h, w, 3). For tests."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if (depth, ctype) != (8, 2):
                raise ValueError(f"only 8-bit RGB PNGs are read here, got depth {depth} colour type {ctype}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    if raw[:, 0].any():
        raise ValueError("only filter type 0 rows are read here")
    return raw[:, 1:].reshape(h, w, 3).copy()


def read_png(path: PathLike) -> np.ndarray:
    """Decode a picture file (PNG, or anything FFmpeg reads as an image) to uint8 (h, w, 4) RGBA.

    Goes through FFmpeg's decoder (PyAV), which handles every colour type, bit depth and interlacing.
    """
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


def write_png(path: PathLike, pixels: np.ndarray, force: bool = False) -> Path:
    """Write uint8 (h, w, 3|4) as a PNG, atomically; refuses an existing ``path`` unless ``force``."""
    data = encode_png(pixels)
    p = Path(path)
    with atomic_output(p, force=force) as tmp:
        tmp.write_bytes(data)
    return p
