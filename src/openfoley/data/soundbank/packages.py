"""Debian packages holding real sound effects: fetch, unpack without installing, list their members.

Inputs: package names (``PACKAGES`` lists the ones the bank is built from), a cache folder, optionally a
folder of already-downloaded ``.deb`` files. Outputs: the unpacked package trees and, for each tree,
``Member`` records: every audio file, whether a plain file, inside a zip/pk3 archive, or inside a Qt
``.rcc`` resource file; paths inside archives are joined with ``!`` (``usr/.../0snd.pk3!sound/x.ogg``).
Each member knows how to read its bytes and which picture (if any) sits beside it.

Licences come from the package's machine-readable ``debian/copyright`` (DEP-5): the last ``Files:``
stanza whose pattern matches the member's logical path wins, as the DEP-5 specification says.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from openfoley.data.soundbank.rcc import iter_rcc
from openfoley.errors import DataError

log = logging.getLogger(__name__)

AUDIO_EXTS = (".ogg", ".oga", ".wav", ".flac", ".aiff", ".aif", ".mp3", ".opus")
IMAGE_EXTS = (".png", ".webp", ".jpg", ".jpeg", ".svg", ".svgz")  # in order of preference
ARCHIVE_EXTS = (".zip", ".pk3")
RCC_EXTS = (".rcc",)


@dataclass(frozen=True)
class PackageSpec:
    """One source package: its Debian name, a short id prefix, and the licence if copyright is silent."""

    name: str
    short: str
    default_licence: str


# Processing order matters for de-duplication (the first copy met is kept): small, cleanly labelled
# packages first, the big game archive last.
PACKAGES: dict[str, PackageSpec] = {
    p.name: p
    for p in (
        PackageSpec("minetest-data", "mt", "CC-BY-SA-3.0"),
        PackageSpec("ufoai-sound", "ufo", "GPL-2+"),
        PackageSpec("hydrogen-drumkits", "h2", "GPL-2+"),
        PackageSpec("tuxpaint-stamps-default", "tux", "GPL-2"),
        PackageSpec("gcompris-qt-data", "gc", "GPL-3+"),
        PackageSpec("0ad-data", "0ad", "CC-BY-SA-3.0"),
    )
}


def spec_for(name: str) -> PackageSpec:
    """The spec of a known package, or a generic one (short id from the name) for any other."""
    if name in PACKAGES:
        return PACKAGES[name]
    short = re.sub(r"[^a-z0-9]+", "", name.lower())[:8] or "pkg"
    return PackageSpec(name, short, "unknown")


# --- fetching and unpacking ---------------------------------------------------------------------

def find_deb(name: str, folder: Path) -> Path | None:
    """The newest ``NAME_*.deb`` in ``folder`` (by file name), or None."""
    hits = sorted(Path(folder).glob(f"{name}_*.deb"))
    return hits[-1] if hits else None


def fetch_deb(name: str, cache: Path, from_dir: Path | None = None) -> Path:
    """Return a ``.deb`` for ``name``: from ``from_dir`` if there, else cached, else ``apt-get download``.

    ``apt-get update`` is run once (quietly) if the first download fails, then the download is retried.
    Raises ``DataError`` naming the package when no copy can be found or fetched.
    """
    if from_dir is not None:
        hit = find_deb(name, from_dir)
        if hit is not None:
            return hit
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    hit = find_deb(name, cache)
    if hit is not None:
        return hit
    if shutil.which("apt-get") is None:
        raise DataError(f"{name}: no .deb in {from_dir or cache} and apt-get is not available; "
                        "download it elsewhere and pass --from DIR")
    for attempt in range(2):
        r = subprocess.run(["apt-get", "download", "-q", name], cwd=cache, capture_output=True, text=True)
        hit = find_deb(name, cache)
        if r.returncode == 0 and hit is not None:
            return hit
        if attempt == 0:
            log.info("apt-get download %s failed (%s); running apt-get update", name, r.stderr.strip())
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
    raise DataError(f"{name}: apt-get download failed: {r.stderr.strip().splitlines()[-1:] or r.returncode}")


def extract_deb(deb: Path, dest: Path) -> Path:
    """Unpack ``deb`` into ``dest`` (``dpkg-deb -x``, no install); skipped if already done. Returns ``dest``.

    Unpacks into a temporary sibling and renames it, so an interrupted run leaves no half tree.
    """
    dest = Path(dest)
    marker = dest / ".openfoley-extracted"
    if marker.is_file() and marker.read_text() == Path(deb).name:
        return dest
    tool = shutil.which("dpkg-deb") or shutil.which("dpkg")
    if tool is None:
        raise DataError(f"{deb}: cannot unpack, neither dpkg-deb nor dpkg is installed")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    r = subprocess.run([tool, "-x", str(deb), str(tmp)], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{deb}: dpkg-deb -x failed: {r.stderr.strip()}")
    # make the tree readable/writable by us (some packages ship 0700 folders)
    for root, dirs, _ in os.walk(tmp):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    (tmp / ".openfoley-extracted").write_text(Path(deb).name)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


# --- licences (DEP-5 debian/copyright) ------------------------------------------------------------

@dataclass(frozen=True)
class CopyrightRules:
    """``(patterns, licence)`` stanzas in file order; ``licence_for`` applies the last match."""

    stanzas: tuple[tuple[tuple[str, ...], str], ...]
    default: str

    def match(self, logical_path: str) -> str | None:
        """Licence of the last stanza matching the path (any suffix of it), or None if none matches."""
        parts = logical_path.split("/")
        suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
        found = None
        for patterns, licence in self.stanzas:
            if any(fnmatch.fnmatchcase(s, p) for p in patterns for p in _relaxed(p) for s in suffixes):
                found = licence
        return found

    def licence_for(self, logical_path: str) -> str:
        """Licence of a path relative to the package's source tree; the default if no stanza matches."""
        return self.match(logical_path) or self.default


def _relaxed(pattern: str) -> list[str]:
    """A pattern, and the same without its first folder when three or more components remain.

    Source trees and installed trees differ by a top folder: ``mtg/mods/doors/sounds/*`` must also match
    ``.../minetest_game/mods/doors/sounds/x.ogg``. Dropping only one folder keeps rules specific.
    """
    parts = pattern.split("/")
    if len(parts) >= 4 and not parts[0].startswith("*"):
        return [pattern, "/".join(parts[1:])]
    return [pattern]


def read_copyright(root: Path, package: str, default: str) -> CopyrightRules:
    """Parse ``usr/share/doc/PKG/copyright`` (DEP-5). A missing or free-form file gives the default."""
    path = Path(root) / "usr/share/doc" / package / "copyright"
    stanzas: list[tuple[tuple[str, ...], str]] = []
    if path.is_file():
        text = path.read_text(errors="replace")
        for block in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            key = None
            for line in block.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m and not line.startswith((" ", "\t")):
                    key = m.group(1).lower()
                    fields[key] = m.group(2)
                elif key and line.startswith((" ", "\t")):
                    fields[key] += "\n" + line.strip()
            if "files" in fields and "license" in fields:
                pats = tuple(p for p in fields["files"].split() if p)
                lic = fields["license"].splitlines()[0].strip()
                if lic and not any(p.startswith("debian/") for p in pats):
                    stanzas.append((pats, lic))
    return CopyrightRules(tuple(stanzas), default)


# --- members ------------------------------------------------------------------------------------

@dataclass
class Member:
    """One audio file inside a package tree. ``path`` joins archive levels with ``!``.

    ``logical`` is the path with archive names dropped to their folder (``base/0snd.pk3!sound/a.ogg``
    becomes ``base/sound/a.ogg``), the form debian/copyright uses. ``image`` is a sibling picture's
    member path and ``read_image`` its bytes, when one shares the sound's stem.
    """

    path: str
    read: Callable[[], bytes]
    logical: str
    image: str | None = None
    read_image: Callable[[], bytes] | None = None
    context: dict = field(default_factory=dict)


def _stem(name: str) -> str:
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def _pair_images(names: list[str]) -> dict[str, str]:
    """Map each audio name to the preferred picture in the same folder with the same stem.

    A trailing plural ``s`` on the sound's stem is also tried (GCompris: ``chickens.ogg``/``chicken.webp``).
    """
    by_key: dict[tuple[str, str], list[str]] = {}
    for n in names:
        if n.lower().endswith(IMAGE_EXTS):
            folder = n.rsplit("/", 1)[0] if "/" in n else ""
            by_key.setdefault((folder, _stem(n)), []).append(n)
    out = {}
    for n in names:
        if not n.lower().endswith(AUDIO_EXTS):
            continue
        folder = n.rsplit("/", 1)[0] if "/" in n else ""
        stem = _stem(n)
        cands = by_key.get((folder, stem)) or by_key.get((folder, stem.rstrip("s"))) or []
        if cands:
            rank = {e: i for i, e in enumerate(IMAGE_EXTS)}
            out[n] = min(cands, key=lambda c: rank["." + c.rsplit(".", 1)[-1].lower()])
    return out


def _logical(outer: str, inner: str) -> str:
    folder = outer.rsplit("/", 1)[0] if "/" in outer else ""
    return f"{folder}/{inner}" if folder else inner


def iter_members(root: Path) -> Iterator[Member]:
    """Every audio member of an unpacked package tree, in sorted path order (deterministic)."""
    root = Path(root)
    files = sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".openfoley")
    )
    images = _pair_images(files)
    for rel in files:
        low = rel.lower()
        full = root / rel
        if low.endswith(AUDIO_EXTS):
            img = images.get(rel)
            yield Member(
                path=rel, read=full.read_bytes, logical=rel, image=img,
                read_image=(root / img).read_bytes if img else None,
            )
        elif low.endswith(ARCHIVE_EXTS):
            yield from _zip_members(full, rel)
        elif low.endswith(RCC_EXTS):
            yield from _rcc_members(full, rel)


def _zip_members(full: Path, rel: str) -> Iterator[Member]:
    try:
        zf = zipfile.ZipFile(full)
    except zipfile.BadZipFile:
        raise DataError(f"{full}: not a readable zip/pk3 archive") from None
    with zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
    images = _pair_images(names)

    handle: list[zipfile.ZipFile] = []  # one open archive shared by this archive's readers

    def reader(name: str) -> Callable[[], bytes]:
        def read() -> bytes:
            if not handle:
                handle.append(zipfile.ZipFile(full))
            return handle[0].read(name)
        return read

    for n in names:
        if n.lower().endswith(AUDIO_EXTS):
            img = images.get(n)
            yield Member(path=f"{rel}!{n}", read=reader(n), logical=_logical(rel, n),
                         image=f"{rel}!{img}" if img else None, read_image=reader(img) if img else None)


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _rcc_members(full: Path, rel: str) -> Iterator[Member]:
    entries = dict(iter_rcc(full.read_bytes(), str(full)))
    names = sorted(entries)
    images = _pair_images(names)
    for n in names:
        if n.lower().endswith(AUDIO_EXTS):
            img = images.get(n)
            yield Member(path=f"{rel}!{n}", read=_constant(entries[n]), logical=_logical(rel, n),
                         image=f"{rel}!{img}" if img else None,
                         read_image=_constant(entries[img]) if img else None)
