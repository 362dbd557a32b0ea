"""Pictures that come with sounds: keep them as PNG files the renderer can read.

Input: the bytes of a picture found beside a sound (``packages.Member.read_image``) and its file name.
Output: PNG bytes, or None when the picture cannot be rasterised with what is installed.

- PNG (Tux Paint stamps) is checked by its signature and kept byte for byte.
- WebP and JPEG (GCompris farm animals) are decoded and re-encoded as PNG with PyAV (FFmpeg), which the
  project already depends on.
- SVG/SVGZ (GCompris instruments) need a vector renderer (librsvg, cairosvg, Qt); none is a
  dependency, so they are skipped and counted in ``bank.json``.
"""

from __future__ import annotations

import io

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def to_png(data: bytes, name: str) -> bytes | None:
    """PNG bytes for a picture, or None if it is vector art or undecodable."""
    low = name.lower()
    if low.endswith((".svg", ".svgz")):
        return None
    if data.startswith(PNG_SIGNATURE):
        return data
    try:
        import av

        with av.open(io.BytesIO(data)) as c:
            frame = next(c.decode(video=0))
            rgba = frame.to_ndarray(format="rgba")  # (h, w, 4) uint8
        enc = av.CodecContext.create("png", "w")
        enc.width, enc.height = rgba.shape[1], rgba.shape[0]
        enc.pix_fmt = "rgba"
        packets = enc.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")) + enc.encode(None)
        out = b"".join(bytes(p) for p in packets)
        return out if out.startswith(PNG_SIGNATURE) else None
    except Exception:  # noqa: BLE001 - any decode failure means "no usable picture"
        return None
