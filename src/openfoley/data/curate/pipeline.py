"""``curate``: the open-set benchmark from AudioSet and Panda-70M minus VGGSound's classes (paper 4.1, A).

Inputs: AudioSet segment CSVs, Panda-70M metadata CSVs, the AudioSet ontology and the reviewed
VGGSound -> AudioSet mapping (shipped defaults), optionally a folder of downloaded media named
``<clip_id>.<ext>`` (AudioSet: ``<YTID>_<start:06d>``, Panda-70M: ``<videoID>_<clip:03d>``).
Outputs: a JSON-lines manifest of kept clips (``openfoley.data.manifest`` format) and a JSON report of
how many rows each stage removed and why (``report.STAGES``).

Streaming: CSVs are read one line at a time; the kept records go straight to a partial file; memory is
bounded by one batch (``batch_rows`` rows or ``media_batch`` media candidates). Resumable: after each
checkpoint the state (input position, tallies, partial file size) is saved atomically in a work folder
beside the output; a rerun with the same settings and unchanged inputs continues from there. The
finished partial file is moved into place with ``os.replace``, so no partial manifest is ever visible.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openfoley.config.tools import CurateConfig  # defined with the other settings (config/tools.py)
from openfoley.data.curate.audioset import AudioSetRow, RowError, is_skippable, iter_lines, parse_audioset
from openfoley.data.curate.classmap import ExclusionRule, load_mapping
from openfoley.data.curate.media import MediaPool, find_media
from openfoley.data.curate.ontology import Ontology
from openfoley.data.curate.panda import CaptionMatcher, PandaClip, PandaHeader, parse_panda
from openfoley.data.curate.report import Tally, format_table
from openfoley.errors import ConfigError, DataError, OutputError

log = logging.getLogger(__name__)
STATE_VERSION = 1


@dataclass
class CurateResult:
    manifest: Path
    report_path: Path
    report: dict[str, Any] = field(repr=False)

    @property
    def kept(self) -> int:
        return self.report["kept"]


def _input_ids(cfg: CurateConfig) -> list[list[Any]]:
    out = []
    for kind, paths in (("audioset", cfg.audioset), ("panda", cfg.panda)):
        for p in paths:
            path = Path(p)
            if not path.is_file():
                raise DataError(f"{path}: {kind} CSV not found")
            st = path.stat()
            out.append([kind, str(path.resolve()), st.st_size, st.st_mtime_ns])
    return out


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


class _Run:
    """One curation run: the streaming loop, its batches and checkpoints."""

    def __init__(self, cfg: CurateConfig, out: Path, work: Path, progress):
        self.cfg, self.out, self.work, self.progress = cfg, out, work, progress
        onto = Ontology.load(cfg.ontology)
        rows = load_mapping(cfg.mapping, onto)
        self.onto = onto
        self.rule = ExclusionRule(rows, onto, cfg.exclude_ancestors, cfg.ancestor_rule)
        self.matcher = CaptionMatcher({r.vggsound_class: r.caption_terms for r in rows})
        self.media_dir = Path(cfg.media_dir) if cfg.media_dir else None
        if self.media_dir is not None and not self.media_dir.is_dir():
            raise DataError(f"{self.media_dir}: media folder not found")
        self.inputs = _input_ids(cfg)
        if not self.inputs:
            raise ConfigError("no input CSVs: give --audioset and/or --panda files")
        self.tally = Tally(max_examples=cfg.max_examples)
        self.pos: dict[str, Any] = {"file": 0, "offset": 0, "line": 0, "header": None}
        self.partial = work / "kept.partial.jsonl"
        self.state_path = work / "state.json"
        self.elapsed = 0.0

    # --- state -----------------------------------------------------------------------------------
    def load_state(self) -> bool:
        if not self.state_path.is_file():
            return False
        try:
            st = json.loads(self.state_path.read_text())
        except json.JSONDecodeError:
            raise DataError(f"{self.state_path}: resume state is corrupt; rerun with --restart") from None
        if st.get("version") != STATE_VERSION or st.get("config") != self.cfg.identity():
            raise DataError(f"{self.state_path}: an unfinished run with other settings is here; "
                            "rerun with the same settings or with --restart")
        if st.get("inputs") != self.inputs:
            raise DataError(f"{self.state_path}: the input CSVs changed since the unfinished run; "
                            "rerun with --restart")
        if not self.partial.is_file() or self.partial.stat().st_size < st["partial_bytes"]:
            raise DataError(f"{self.partial}: partial manifest is shorter than its state; rerun with --restart")
        with open(self.partial, "r+b") as f:
            f.truncate(st["partial_bytes"])
        self.pos, self.elapsed = st["pos"], st["elapsed"]
        self.tally = Tally.from_state(st["tally"])
        log.info("resuming at %s line %d", self.inputs[self.pos["file"]][1] if self.pos["file"] < len(
            self.inputs) else "end", self.pos["line"])
        return True

    def checkpoint(self, f, t0: float) -> None:
        f.flush()
        os.fsync(f.fileno())
        _write_json(self.state_path, {
            "version": STATE_VERSION, "config": self.cfg.identity(), "inputs": self.inputs,
            "pos": self.pos, "partial_bytes": f.tell(), "tally": self.tally.to_state(),
            "elapsed": self.elapsed + time.monotonic() - t0,
        })
        if self.progress is not None:
            self.progress(sum(self.tally.rows.values()))

    # --- per-clip stages -------------------------------------------------------------------------
    def _segment_ok(self, start: float, end: float, cid: str) -> bool:
        m = self.cfg.media
        if not m.min_duration <= end - start <= m.max_duration:
            self.tally.remove("segment_duration", f"{cid}: {end - start:.3f} s")
            return False
        return True

    def audioset_row(self, row, cands: list) -> None:
        nodes = self.onto.nodes
        known = row.labels
        for x in known:
            if x not in nodes:
                known = [y for y in row.labels if y in nodes]
                self.tally.unknown([y for y in row.labels if y not in nodes])
                break
        if not known:
            self.tally.remove("unknown_labels", f"{row.clip_id}: {','.join(row.labels)}")
            return
        hit = self.rule.check(known)
        if hit is not None:
            stage, cls = hit
            self.tally.remove("vggsound_" + stage)
            self.tally.by_class[cls] += 1
            return
        if self._segment_ok(row.start, row.end, row.clip_id):
            cands.append((row.clip_id, "audioset", row.start, row.end, {
                "ytid": row.ytid, "labels": list(row.labels),
                "label_names": [nodes[x].name for x in known]}))

    def panda_clip(self, clip, cands: list) -> None:
        cls = self.matcher.match(clip.caption)
        if cls is not None:
            self.tally.remove("vggsound_caption")
            self.tally.by_caption[cls] += 1
            return
        if self._segment_ok(clip.start, clip.end, clip.clip_id):
            cands.append((clip.clip_id, "panda70m", clip.start, clip.end,
                          {"video_id": clip.video_id, "caption": clip.caption}))

    def flush(self, cands: list, pool: MediaPool, f) -> None:
        """Media stage for a batch of candidates, then append the kept records."""
        results: list[dict[str, Any] | None] = [None] * len(cands)
        paths: dict[int, Path] = {}
        if self.media_dir is not None:
            for k, (cid, *_rest) in enumerate(cands):
                p = find_media(self.media_dir, cid, self.cfg.media_exts)
                if p is None:
                    self.tally.remove("media_missing", cid)
                    results[k] = {"reason": "missing"}
                else:
                    paths[k] = p
            checked = pool.check([str(p) for p in paths.values()])
            for k, found in zip(paths, checked, strict=True):
                results[k] = found
        lines = []
        for k, (cid, source, start, end, extra) in enumerate(cands):
            res = results[k]
            if res is not None and res["reason"] == "missing":
                continue
            if res is not None and res["reason"] is not None:
                why = res.get("error") or f"{cid}: " + ", ".join(
                    f"{m}={res[m]:.4g}" for m in ("duration", "height", "snr_db") if m in res)
                self.tally.remove("media_" + res["reason"], why)
                continue
            if k in paths:
                assert res is not None  # every candidate with media was checked
                path = os.path.relpath(paths[k].resolve(), self.out.parent.resolve())
                duration = res["duration"]
                extra = {**extra, **{m: res[m] for m in ("height", "snr_db") if m in res}}
            else:
                path, duration = f"{cid}.mp4", end - start
            rec = {"id": cid, "path": path, "start": 0.0, "duration": duration, "label": None,
                   "group": None, "split": "test", "source": source, "licence": None,
                   "extra": {**extra, "segment": [start, end]}}
            lines.append(json.dumps(rec, sort_keys=True))
            self.tally.kept += 1
        if lines:
            f.write(("\n".join(lines) + "\n").encode())
        cands.clear()

    # --- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        t0 = time.monotonic()
        cfg = self.cfg
        with MediaPool(cfg.media, cfg.workers if self.media_dir else 0) as pool, open(self.partial, "ab") as f:
            since_ckpt = 0
            for fi in range(self.pos["file"], len(self.inputs)):
                kind, path = self.inputs[fi][0], self.inputs[fi][1]
                header = PandaHeader(self.pos["header"]) if self.pos["header"] else None
                cands: list = []
                n_batch = n_clips = 0  # rows/clips read since the last flush, added to the tally there
                per_clip = self.audioset_row if kind == "audioset" else self.panda_clip
                media_cap = cfg.media_batch if self.media_dir else 1 << 62
                for lineno, end, text in iter_lines(path, self.pos["offset"], self.pos["line"]):
                    if not text or text[0] in "# \t" and is_skippable(text):
                        continue
                    if kind == "panda" and header is None:
                        try:
                            header = PandaHeader(text)
                        except RowError as e:
                            raise DataError(f"{path}:{lineno}: {e}") from None
                        self.pos["header"] = text
                        continue
                    n_batch += 1
                    clips: Sequence[AudioSetRow | PandaClip]
                    try:
                        if kind == "audioset":
                            clips = (parse_audioset(text),)
                        else:
                            assert header is not None  # read from the file's first line above
                            clips = parse_panda(text, header)
                    except RowError as e:
                        if cfg.strict:
                            raise DataError(f"{path}:{lineno}: malformed row ({e})") from None
                        self.tally.remove("malformed", f"{path}:{lineno}: {e}")
                        clips = ()
                    n_clips += len(clips)
                    for c in clips:
                        per_clip(c, cands)
                    if n_batch >= cfg.batch_rows or len(cands) >= media_cap:
                        self.flush(cands, pool, f)
                        self.tally.rows[kind] += n_batch
                        self.tally.clips[kind] += n_clips
                        self.pos.update(offset=end, line=lineno)
                        since_ckpt += n_batch
                        n_batch = n_clips = 0
                        if since_ckpt >= cfg.checkpoint_every or self.media_dir is not None:
                            self.checkpoint(f, t0)
                            since_ckpt = 0
                self.flush(cands, pool, f)
                self.tally.rows[kind] += n_batch
                self.tally.clips[kind] += n_clips
                self.pos = {"file": fi + 1, "offset": 0, "line": 0, "header": None}
                self.checkpoint(f, t0)
        self.elapsed += time.monotonic() - t0


def curate(cfg: CurateConfig, out: str | Path, report_path: str | Path | None = None, force: bool = False,
           restart: bool = False, progress: Callable[[int], None] | None = None) -> CurateResult:
    """Run (or resume) curation; write the manifest ``out`` and the JSON report (default
    ``<out>.report.json``). ``progress(rows_read)`` is called at each checkpoint."""
    out = Path(out)
    rpath = Path(report_path) if report_path else out.with_name(out.name + ".report.json")
    for p in (out, rpath):
        if p.exists() and not force:
            raise OutputError(f"{p}: already exists (use --force to overwrite)")
    inputs = {str(Path(p).resolve()) for p in (*cfg.audioset, *cfg.panda)}
    if str(out.resolve()) in inputs or str(rpath.resolve()) in inputs:
        raise OutputError(f"{out}: output would overwrite an input")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.curate"
    if restart and work.exists():
        shutil.rmtree(work)
    work.mkdir(exist_ok=True)
    run = _Run(cfg, out, work, progress)
    if not run.load_state():
        run.partial.write_bytes(b"")
    run.run()
    rows = sum(run.tally.rows.values())
    report = run.tally.report(run.media_dir is not None, {
        "inputs": [{"kind": k, "path": p, "bytes": s} for k, p, s, _ in run.inputs],
        "config": cfg.identity(), "seconds": round(run.elapsed, 3),
        "rows_per_second": round(rows / run.elapsed, 1) if run.elapsed > 0 else None,
        "manifest": str(out),
    })
    os.replace(run.partial, out)
    _write_json(rpath, report)
    shutil.rmtree(work, ignore_errors=True)
    return CurateResult(out, rpath, report)


__all__ = ["CurateConfig", "CurateResult", "curate", "format_table"]
