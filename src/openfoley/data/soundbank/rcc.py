"""Qt resource (``.rcc``) files: a reader for the packages' sound archives and a writer for tests.

GCompris ships its sounds and pictures inside Qt binary resource files. The format (Qt's
``rcc`` tool, ``QResourceRoot``) is small and documented in Qt's sources and manual:

    header   "qres", version (u32), tree offset, data offset, names offset (u32 each, big-endian),
             and, from version 3 on, a u32 of overall flags
    tree     fixed-size nodes: name offset (u32), flags (u16: 1 zlib, 2 directory, 4 zstd), then
             for a directory: child count (u32) and index of its first child node (u32); for a file:
             territory (u16), language (u16) and data offset (u32). From version 2 on every node
             ends with a u64 modification time (14 bytes per node in version 1, 22 after). Node 0 is
             the root directory.
    names    at a name offset: length in UTF-16 units (u16), a hash (u32), the name in UTF-16BE
    data     at a data offset: length (u32) then the payload. A zlib payload is Qt's ``qCompress``
             format: the uncompressed length (u32, big-endian) then a zlib stream. A zstd payload is a
             plain zstd frame.

Only the standard library is used; zstd payloads raise ``DataError`` naming the entry when this Python
cannot decompress them (``compression.zstd`` arrived in Python 3.14).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import cast

from openfoley.errors import DataError

_COMPRESSED = 0x01
_DIRECTORY = 0x02
_COMPRESSED_ZSTD = 0x04


def _zstd_decompress(payload: bytes, where: str) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
    except ImportError:
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise DataError(
                f"{where}: zstd-compressed Qt resource and this Python has no zstd "
                "(needs Python >= 3.14 or the 'zstandard' package)"
            ) from None
        return zstandard.ZstdDecompressor().decompress(payload, max_output_size=1 << 31)
    return zstd.decompress(payload)


def iter_rcc(blob: bytes, where: str = "rcc") -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, payload)`` for every file in an rcc blob, paths joined with ``/``, depth first.

    Raises ``DataError`` (naming ``where``) on a malformed file or an undecodable payload.
    """
    if len(blob) < 20 or blob[:4] != b"qres":
        raise DataError(f"{where}: not a Qt resource file (no 'qres' magic)")
    version, tree_off, data_off, names_off = struct.unpack_from(">IIII", blob, 4)
    if version not in (1, 2, 3):
        raise DataError(f"{where}: unsupported Qt resource version {version}")
    node_size = 14 if version == 1 else 22

    def name_at(off: int) -> str:
        (n,) = struct.unpack_from(">H", blob, names_off + off)
        start = names_off + off + 6
        return blob[start:start + 2 * n].decode("utf-16-be")

    def node(i: int) -> tuple[int, int, bytes]:
        p = tree_off + i * node_size
        if p + node_size > len(blob):
            raise DataError(f"{where}: tree node {i} lies outside the file")
        name_off, flags = struct.unpack_from(">IH", blob, p)
        return name_off, flags, blob[p + 6:p + 14]

    def payload(flags: int, rest: bytes, path: str) -> bytes:
        (off,) = struct.unpack_from(">I", rest, 4)
        (size,) = struct.unpack_from(">I", blob, data_off + off)
        raw = blob[data_off + off + 4:data_off + off + 4 + size]
        if len(raw) != size:
            raise DataError(f"{where}!{path}: data runs past the end of the file")
        if flags & _COMPRESSED_ZSTD:
            return _zstd_decompress(raw, f"{where}!{path}")
        if flags & _COMPRESSED:
            try:
                return zlib.decompress(raw[4:])
            except zlib.error as e:
                raise DataError(f"{where}!{path}: bad zlib payload ({e})") from None
        return raw

    stack: list[tuple[int, str]] = [(0, "")]
    seen = 0
    while stack:
        i, prefix = stack.pop()
        seen += 1
        if seen > 10_000_000:
            raise DataError(f"{where}: resource tree has a cycle")
        name_off, flags, rest = node(i)
        name = "" if i == 0 else name_at(name_off)
        path = f"{prefix}/{name}" if prefix else name
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", rest)
            # push in reverse so children come out in stored (sorted-by-hash) order
            stack.extend((first + k, path) for k in reversed(range(count)))
        else:
            yield path, payload(flags, rest, path)


def _name_hash(name: str) -> int:
    """Qt's ``qt_hash`` over UTF-16 units (only used to fill the field; readers here ignore it)."""
    h = 0
    enc = name.encode("utf-16-be")
    for unit in struct.unpack(f">{len(enc) // 2}H", enc):
        h = ((h << 4) + unit) & 0xFFFFFFFF
        g = h & 0xF0000000
        h ^= g >> 23
        h &= ~g & 0xFFFFFFFF
    return h


def write_rcc(files: dict[str, bytes], compress: bool = True, version: int = 3) -> bytes:
    """Build an rcc blob holding ``files`` (``{"dir/sub/name.ext": payload}``), zlib-compressed if asked.

    The layout follows the format above (breadth-first tree, children sorted by name hash as Qt
    does), so ``iter_rcc`` and Qt itself can read it. Used by the tests to make a GCompris-like file.
    """
    if version not in (1, 2, 3):
        raise ValueError(f"version must be 1, 2 or 3, got {version}")
    tree: dict = {}
    for path, blob in files.items():
        parts = [p for p in path.split("/") if p]
        d = tree
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = blob

    names = bytearray()
    name_offsets: dict[str, int] = {}

    def name_off(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            enc = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(enc) // 2, _name_hash(name)) + enc)
        return name_offsets[name]

    data = bytearray()
    nodes: list[bytes] = []
    node_size = 14 if version == 1 else 22
    # breadth-first: each directory's children occupy consecutive node indices
    nodes.append(b"")  # placeholder for the root
    pending: list[tuple[int, str, object]] = [(0, "", tree)]
    while pending:
        idx, name, item = pending.pop(0)
        if isinstance(item, dict):
            kids = sorted(item.items(), key=lambda kv: _name_hash(kv[0]))
            first = len(nodes)
            nodes.extend(b"" for _ in kids)
            entry = struct.pack(">IHII", name_off(name) if idx else 0, _DIRECTORY, len(kids), first)
            pending.extend((first + k, n, v) for k, (n, v) in enumerate(kids))
        else:
            payload = bytes(cast(bytes, item))  # a file's payload (leaf of the tree)
            flags = 0
            if compress:
                payload = struct.pack(">I", len(payload)) + zlib.compress(payload, 9)
                flags = _COMPRESSED
            off = len(data)
            data.extend(struct.pack(">I", len(payload)) + payload)
            entry = struct.pack(">IHHHI", name_off(name), flags, 0, 1, off)
        if version > 1:
            entry += struct.pack(">Q", 0)
        assert len(entry) == node_size
        nodes[idx] = entry
    header_size = 24 if version >= 3 else 20
    data_off = header_size
    names_off = data_off + len(data)
    tree_off = names_off + len(names)
    header = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", 0)
    return header + bytes(data) + bytes(names) + b"".join(nodes)
