"""Build the sound bank: packages -> decoded, trimmed, normalised, de-duplicated, labelled event clips.

``build_sound_bank(out, ...)`` runs, per package in ``PACKAGES`` order: fetch the ``.deb`` (or take it
from ``from_dir``), unpack it, list its audio members, label each (``taxonomy.classify``; unlabelled
members are dropped before decoding), decode to mono at the bank rate, trim silence, split long
recordings of event groups at silent gaps, crop continuous sources, drums and instruments to
``max_seconds`` (50 ms fade-out), drop what is still too long,
loudness-normalise, de-duplicate (source bytes, then decoded PCM, then fingerprint BER), and write
``audio/<id>.wav`` (PCM16). A final pass applies the rare-class rule and writes:

- ``manifest.jsonl``: one row per clip: id, class, group, duration, package, path, licence,
  fingerprint, audio, image (see docs/sound-bank.md)
- ``classes.json``: ``{class: {"group", "clips", "images"}}``
- ``bank.json``: settings, per-package counts, licences, dedupe counts, the class-merge rule
- ``images/``: PNG pictures that came with sounds

Resumable and idempotent: every processed member appends one line to ``.work/<package>.jsonl`` after
its audio is written (atomically); a rerun skips those members and finished packages, and the final
files are rewritten from the state alone, so a finished bank rebuilds byte-identically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.config.tools import BankSettings  # defined with the other settings (config/tools.py)
from openfoley.data.soundbank import fingerprint as fpm
from openfoley.data.soundbank import process, taxonomy
from openfoley.data.soundbank.images import to_png
from openfoley.data.soundbank.packages import (
    PACKAGES,
    Member,
    extract_deb,
    fetch_deb,
    iter_members,
    read_copyright,
    spec_for,
)
from openfoley.errors import MediaError, OutputError

log = logging.getLogger(__name__)

# Groups whose long recordings hold several separable events (split at silent gaps), and groups that
# are continuous sources (cropped to max_seconds rather than dropped when long).
# Drum and instrument samples are one hit / note each by construction, animal recordings one call or
# a chorus: their long tails are cropped.
EVENT_GROUPS = frozenset({"footsteps", "impact", "tool", "weapon", "door", "break"})
CROP_GROUPS = frozenset({"water", "weather", "fire", "vehicle", "machine", "drum", "instrument", "animal"})
FADE_S = 0.05  # fade-out applied where a clip is cropped


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_wav(path: Path, wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Write (s,) float as PCM16 WAV atomically; returns the int16 samples written."""
    import soundfile as sf

    pcm = np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.wav")
    sf.write(tmp, pcm, sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
    return pcm


def _clip_id(short: str, package: str, path: str, k: int) -> str:
    return f"{short}-{hashlib.sha1(f'{package}:{path}:{k}'.encode()).hexdigest()[:12]}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]


def _events(wave: np.ndarray, group: str, s: BankSettings) -> list[tuple[int, np.ndarray]]:
    """(s,) trimmed recording -> [(start sample, (s_k,) event)], following the group's policy."""
    sr = s.sample_rate
    if group in CROP_GROUPS:
        n = int(s.max_seconds * sr)
        if wave.size <= n:
            return [(0, wave)]
        cut = wave[:n].copy()
        f = int(FADE_S * sr)
        cut[-f:] *= np.linspace(1.0, 0.0, f, dtype=np.float32)
        return [(0, cut)]
    if group in EVENT_GROUPS and wave.size > s.split_min_seconds * sr:
        ranges = process.split_events(wave, sr, s.gap_db, s.min_gap, s.min_seconds, s.trim_abs_db)
        if len(ranges) <= 1 and group == "footsteps":  # steps over background noise: split at peaks
            ranges = process.split_peaks(wave, sr)
            return [(a, process.trim(wave[a:b], sr, s.trim_rel_db, s.trim_abs_db, s.trim_pad)) for a, b in ranges]
        if len(ranges) > 1:
            out = []
            # widen each event halfway into its neighbouring gaps so decays are kept, then re-trim
            bounds = [0] + [(ranges[i][1] + ranges[i + 1][0]) // 2 for i in range(len(ranges) - 1)] + [wave.size]
            for i, (a, _b) in enumerate(ranges):
                lo = max(bounds[i], a - int(0.05 * sr))
                piece = wave[lo:bounds[i + 1]]
                t = process.trim(piece, sr, s.trim_rel_db, s.trim_abs_db, s.trim_pad)
                out.append((lo, t))
            return out
    return [(0, wave)]


class _Builder:
    def __init__(self, out: Path, settings: BankSettings):
        self.out = out
        self.s = settings
        self.work = out / ".work"
        for d in (out, self.work, out / "audio", out / "images"):
            d.mkdir(parents=True, exist_ok=True)
        self.index = fpm.DedupIndex(threshold=settings.dedupe_ber)
        self.source_hashes: dict[str, str] = {}

    # --- state ----------------------------------------------------------------------------------
    def state_path(self, package: str) -> Path:
        return self.work / f"{package}.jsonl"

    def load_state(self, package: str) -> dict[str, dict]:
        p = self.state_path(package)
        done: dict[str, dict] = {}
        if p.is_file():
            text = p.read_text()
            if text and not text.endswith("\n"):  # a row cut by an interruption: drop it, redo that member
                text = text[: text.rfind("\n") + 1]
                _atomic_write(p, text.encode())
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption: that member is redone
                done[row["path"]] = row
        for row in done.values():
            if row.get("source_sha1") and row["status"] in ("kept", "duplicate"):
                self.source_hashes.setdefault(row["source_sha1"], row.get("first_id") or "")
            for c in row.get("clips", []):
                self.index.add(c["id"], fpm.from_hex(c["fingerprint"]), c.get("pcm_sha1"))
        return done

    # --- one member -----------------------------------------------------------------------------
    def process(self, package: str, member: Member, label: taxonomy.Label, licence: str) -> dict:
        s, sr = self.s, self.s.sample_rate
        spec = spec_for(package)
        data = member.read()
        row: dict[str, Any] = {"path": member.path, "group": label.group, "fine": label.fine, "clips": [],
                               "dups": []}
        src = hashlib.sha1(data).hexdigest()
        row["source_sha1"] = src
        if src in self.source_hashes:
            row.update(status="duplicate", reason="identical file", of=self.source_hashes[src])
            return row
        try:
            wave = process.decode(data, member.path, sr)
        except MediaError as e:
            row.update(status="dropped", reason=f"undecodable: {e}")
            return row
        wave = process.trim(wave, sr, s.trim_rel_db, s.trim_abs_db, s.trim_pad)
        row["seconds_in"] = round(wave.size / sr, 4)
        if wave.size < s.min_seconds * sr:
            row.update(status="dropped", reason="silent or too short")
            return row
        image = self.save_image(spec.short, member)
        for k, (offset, ev) in enumerate(_events(wave, label.group, s)):
            if ev.size < s.min_seconds * sr:
                continue
            if ev.size > s.max_seconds * sr:
                row["dups"].append({"k": k, "dropped": "too long", "seconds": round(ev.size / sr, 3)})
                continue
            ev, _ = process.normalise(ev, sr, s.target_db, s.peak_db)
            pcm = np.clip(np.round(ev * 32767.0), -32768, 32767).astype(np.int16)
            key = fpm.pcm_hash(pcm)
            fp = fpm.fingerprint(pcm.astype(np.float32) / 32767.0)
            dup = self.index.find_exact(key)
            near = None if dup else self.index.find_near(fp)
            if dup or near:
                ber = 0.0 if dup or near is None else round(near[1], 4)
                row["dups"].append({"k": k, "of": dup or (near[0] if near else None), "ber": ber})
                continue
            cid = _clip_id(spec.short, package, member.path, k)
            _write_wav(self.out / "audio" / f"{cid}.wav", ev, sr)
            self.index.add(cid, fp, key)
            row["clips"].append({
                "id": cid, "fine": label.fine, "group": label.group, "duration": round(pcm.size / sr, 4),
                "package": package, "path": member.path, "licence": licence,
                "fingerprint": fpm.to_hex(fp), "audio": f"audio/{cid}.wav", "image": image,
                "offset": round(offset / sr, 4), "pcm_sha1": key,
            })
        if row["clips"]:
            row["status"] = "kept"
            row["first_id"] = row["clips"][0]["id"]
            self.source_hashes.setdefault(src, row["first_id"])
        elif row["dups"] and all("of" in d for d in row["dups"]):
            row.update(status="duplicate", reason="near-duplicate audio", of=row["dups"][0]["of"])
        else:
            row.update(status="dropped", reason="too long to be an event" if row["dups"] else "no events")
        return row

    def save_image(self, short: str, member: Member) -> str | None:
        if not member.image or member.read_image is None:
            return None
        rel = f"images/{short}-{_safe(member.image.rsplit('/', 1)[-1].rsplit('.', 1)[0])}.png"
        target = self.out / rel
        if target.is_file():
            return rel
        png = to_png(member.read_image(), member.image)
        if png is None:
            return None
        _atomic_write(target, png)
        return rel

    # --- one package ----------------------------------------------------------------------------
    def run_package(self, package: str, cache: Path, from_dir: Path | None, progress: bool) -> dict:
        spec = spec_for(package)
        done = self.load_state(package)
        marker = self.work / f"{package}.done"
        if marker.is_file():
            return json.loads(marker.read_text())
        t0 = time.time()
        deb = fetch_deb(package, cache / "debs", from_dir)
        root = extract_deb(deb, cache / "extract" / package)
        rules = read_copyright(root, package, spec.default_licence)
        instruments = taxonomy.drumkit_instruments(root) if package.startswith("hydrogen") else {}
        kit_licences = _drumkit_licences(root) if instruments else {}
        members = list(iter_members(root))
        svg_skipped = 0
        bar = _progress(len(members), package, progress)
        with open(self.state_path(package), "a") as state:
            for m in members:
                bar.update(1)
                if m.path in done:
                    continue
                label = taxonomy.classify(package, m.path, instruments.get(m.path))
                if label is None:
                    row = {"path": m.path, "status": "unlabelled"}
                else:
                    licence = _licence(m, rules, kit_licences)
                    row = self.process(package, m, label, licence)
                    if m.image and m.image.lower().endswith((".svg", ".svgz")) and row.get("clips"):
                        svg_skipped += 1
                        row["svg_image"] = m.image
                state.write(json.dumps(row, sort_keys=True) + "\n")
                state.flush()
                done[m.path] = row
        bar.close()
        summary = {"package": package, "deb": deb.name, "members": len(members),
                   "seconds": round(time.time() - t0, 1)}
        _atomic_write(marker, json.dumps(summary).encode())
        return summary


def _licence(m: Member, rules, kit_licences: dict[str, str]) -> str:
    """debian/copyright first; a Hydrogen kit folder ``drumkits/<kit>/`` is named there as
    ``drumkits/<kit>.h2drumkit`` (the upstream archive); failing that the kit's drumkit.xml licence."""
    folder = m.path.rsplit("/", 1)[0]
    if folder in kit_licences:
        kit = folder.rsplit("/", 1)[-1]
        return (rules.match(f"drumkits/{kit}.h2drumkit") or rules.match(f"drumkits/{kit.split()[0]}.h2drumkit")
                or kit_licences[folder] or rules.licence_for(m.logical))
    return rules.licence_for(m.logical)


def _drumkit_licences(root: Path) -> dict[str, str]:
    """``{kit folder relative to root: licence}`` from each kit's drumkit.xml ``<license>`` ("" if none)."""
    out = {}
    for xml in sorted(Path(root).rglob("drumkit.xml")):
        text = xml.read_text(errors="replace")
        m = re.search(r"<license>([^<]+)</license>", text)
        out[str(xml.parent.relative_to(root))] = m.group(1).strip() if m and m.group(1).strip() else ""
    return out


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, mininterval=2.0)


def build_sound_bank(out: str | Path, packages: list[str] | None = None, from_dir: str | Path | None = None,
                     cache: str | Path | None = None, settings: BankSettings | None = None,
                     progress: bool = True) -> dict:
    """Build (or resume) the sound bank in ``out``; returns the bank.json summary.

    ``packages``: Debian package names (default: all of ``PACKAGES``, in that order). ``from_dir``: a
    folder of already-downloaded ``.deb`` files. ``cache``: where downloads and unpacked trees go
    (default ``~/.cache/openfoley``). Settings must match those of a bank being resumed.
    """
    from openfoley.data.soundbank.finalise import finalise

    out = Path(out)
    settings = settings or BankSettings()
    packages = list(packages or PACKAGES)
    cache = Path(cache) if cache else Path.home() / ".cache" / "openfoley"
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    work_settings = out / ".work" / "settings.json"
    wanted = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    if work_settings.is_file() and work_settings.read_text() != wanted:
        raise OutputError(f"{out}: holds a bank built with other settings ({work_settings}); "
                          "use a new folder or the same settings")
    b = _Builder(out, settings)
    _atomic_write(work_settings, wanted.encode())
    t0 = time.time()
    summaries = []
    for p in packages:
        summaries.append(b.run_package(p, cache, Path(from_dir) if from_dir else None, progress))
    return finalise(out, packages, settings, summaries, time.time() - t0)
