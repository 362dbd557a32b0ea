"""The feature store: clips decoded once into sharded, memory-mapped arrays that training streams from.

Layout of a store folder ``STORE``::

    STORE/store.json                                 format, version, config subset, shapes, parts
    STORE/index.npz                                  per-clip ids, labels, groups, shard, row (compact)
    STORE/parts/part-r{R}-w{W}-{K:05d}.frames.npy    uint8 (n, t, 3, H, W)
    STORE/parts/part-r{R}-w{W}-{K:05d}.mel.npy       float16 (n, f, m) native-hop log-mel
    STORE/parts/part-r{R}-w{W}-{K:05d}.index.jsonl   one line per row: row, valid_seconds, record

A shard is written by one worker (rank R, worker W, its K-th shard) into hidden temp files and
published by ``os.replace``: arrays first, the index last, so a shard exists exactly when its index
does (``complete_parts``). ``store.json`` is the commit point: ``write_store_json`` lists the complete
shards under a file lock (writing ``index.npz`` just before it), and ``FeatureStore`` reads only what
it lists. Extraction can be killed at any moment and resumed by skipping ids already in complete
shards.

``FeatureStore(path)[i]`` gives ``frames`` uint8 (t, 3, H, W), ``mel`` float32 (f, m), ``id``,
``label``, ``group``, ``valid_seconds`` (content before any padding) and ``index``. Per-clip metadata
comes from ``index.npz`` as numpy arrays (no JSON parsed at open, no per-clip Python objects that
forked DataLoader workers would copy), and at most ``max_open`` shards are memory-mapped at once
(default: a quarter of the open-file limit), so 200k clips need bounded memory and file handles. Mel
frames are native (``Config.mel_frames``): resampling to ``audio.time_steps`` is the model's job.

The clip metadata is stored as the ``ClipRecord`` JSON dict of ``openfoley.data.manifest``; this
module sits below ``data`` and so hands records out as dicts (``record_from_dict`` rebuilds them).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import resource
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openfoley.config import Config
from openfoley.errors import DataError
from openfoley.io.jsonl import iter_jsonl

FORMAT = "openfoley-feature-store"
VERSION = 1
STORE_JSON = "store.json"
INDEX = "index.npz"
PARTS = "parts"
_PART_RE = re.compile(r"^part-r(\d+)-w(\d+)-(\d{5})\.index\.jsonl$")


# --- what a store was built for ------------------------------------------------------------------
def config_subset(cfg: Config) -> dict[str, Any]:
    """The fields of ``cfg`` that determine stored features (clip length, STFT/mel, video grid)."""
    a, v = cfg.audio, cfg.video
    return {
        "seconds": cfg.seconds,
        "audio": {"sample_rate": a.sample_rate, "n_fft": a.n_fft, "win_length": a.win_length,
                  "hop_length": a.hop_length, "n_mels": a.n_mels, "f_min": a.f_min, "f_max": a.fmax,
                  "log_floor": a.log_floor},
        "video": {"fps": v.fps, "size": v.size, "resize": v.resize},
    }


def store_shapes(cfg: Config) -> dict[str, list[int]]:
    """Per-clip array shapes: frames (t, 3, H, W), mel (f, m)."""
    return {"frames": [cfg.video_frames, 3, cfg.video.size, cfg.video.size],
            "mel": [cfg.audio.n_mels, cfg.mel_frames]}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_mismatches(stored: dict[str, Any], cfg: Config) -> list[str]:
    """``["audio.sample_rate: store 16000, config 8000", ...]``; empty when compatible."""
    want, have = _flatten(stored), _flatten(config_subset(cfg))
    return [f"{k}: store {want.get(k)!r}, config {have.get(k)!r}"
            for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]


# --- writing ---------------------------------------------------------------------------------------
def part_name(rank: int, worker: int, k: int) -> str:
    return f"part-r{rank}-w{worker}-{k:05d}"


def complete_parts(store: str | Path) -> list[str]:
    """Names (``part-r0-w0-00000``) of shards whose index is published, sorted."""
    d = Path(store) / PARTS
    if not d.is_dir():
        return []
    return sorted(n.removesuffix(".index.jsonl") for n in os.listdir(d) if _PART_RE.match(n))


def read_part_index(store: str | Path, name: str) -> list[dict[str, Any]]:
    """The index lines of one shard: ``{"row", "valid_seconds", "record"}`` dicts in row order."""
    p = Path(store) / PARTS / f"{name}.index.jsonl"
    try:
        lines = [x for _, x in iter_jsonl(p)]
    except DataError as e:
        raise DataError(f"unreadable shard index: {e}") from None
    if [x.get("row") for x in lines] != list(range(len(lines))):
        raise DataError(f"{p}: shard index rows are not 0..{len(lines) - 1}")
    if not all(isinstance(x.get("record"), dict) and "id" in x["record"] and "valid_seconds" in x
               for x in lines):
        raise DataError(f"{p}: shard index line without a record id or valid_seconds (corrupt)")
    return lines


def _shrink_npy(path: Path, n: int) -> None:
    """Cut an .npy file's first axis to n rows in place: rewrite the header, truncate the data.

    numpy pads every header so that the first-axis length can change in place (its
    ``GROWTH_AXIS_MAX_DIGITS`` reserve), so the new header has the old one's length.
    """
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(f)
        offset = f.tell()
        new_shape = (n, *shape[1:])
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran, "shape": new_shape})
        header = buf.getvalue()
        assert len(header) == offset and not fortran, (
            f"{path}: npy header of {offset} bytes, new one {len(header)}")
        f.seek(0)
        f.write(header)
        f.truncate(offset + int(np.prod(new_shape)) * dtype.itemsize)


class ShardWriter:
    """Write up to ``capacity`` clips into one shard, then publish it atomically with ``close()``.

    Arrays are pre-allocated memory-maps in hidden temp files, so a worker holds one clip at a time in
    memory. ``close()`` trims them to the rows written and renames them into place, index last.
    """

    def __init__(self, store: str | Path, name: str, capacity: int, shapes: dict[str, list[int]]):
        self.dir = Path(store) / PARTS
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name, self.capacity, self.n = name, capacity, 0
        self.frames_shape, self.mel_shape = tuple(shapes["frames"]), tuple(shapes["mel"])
        tag = f".tmp-{name}-{os.getpid()}"
        self._tmp = {k: self.dir / f"{tag}.{k}" for k in ("frames.npy", "mel.npy", "index.jsonl")}
        self._frames = np.lib.format.open_memmap(self._tmp["frames.npy"], "w+", np.uint8,
                                                 (capacity, *self.frames_shape))
        self._mel = np.lib.format.open_memmap(self._tmp["mel.npy"], "w+", np.float16,
                                              (capacity, *self.mel_shape))
        self._index = open(self._tmp["index.jsonl"], "w")

    def add(self, frames: np.ndarray, mel: np.ndarray, record: dict[str, Any], valid_seconds: float) -> None:
        """Append one clip: frames uint8 (t, 3, H, W), mel (f, m), its record as a JSON dict."""
        assert self.n < self.capacity, f"shard {self.name} is full ({self.capacity})"
        assert frames.shape == self.frames_shape and frames.dtype == np.uint8, (
            f"frames {frames.shape} {frames.dtype}, store expects {self.frames_shape} uint8")
        assert mel.shape == self.mel_shape, f"mel {mel.shape}, store expects {self.mel_shape}"
        self._frames[self.n] = frames
        self._mel[self.n] = mel.astype(np.float16)
        line = {"row": self.n, "valid_seconds": round(float(valid_seconds), 6), "record": record}
        self._index.write(json.dumps(line, sort_keys=True) + "\n")
        self.n += 1

    @property
    def full(self) -> bool:
        return self.n >= self.capacity

    def close(self) -> int:
        """Publish the shard (nothing if empty); returns the number of clips in it."""
        self._index.close()
        self._frames.flush()
        self._mel.flush()
        del self._frames, self._mel
        if self.n == 0:
            self.abort()
            return 0
        for key in ("frames.npy", "mel.npy"):
            if self.n < self.capacity:
                _shrink_npy(self._tmp[key], self.n)
        for key in ("frames.npy", "mel.npy", "index.jsonl"):  # index last: it marks completion
            os.replace(self._tmp[key], self.dir / f"{self.name}.{key}")
        return self.n

    def abort(self) -> None:
        if not self._index.closed:
            self._index.close()
        for p in self._tmp.values():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    with open(store / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_store_json(
    store: str | Path,
    cfg: Config,
    extra: dict[str, Any] | Callable[[set[str]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Commit the complete shards now present into ``store.json`` (atomic, under a file lock).

    Safe to call from every rank as it finishes: the lock orders the calls, and a later call always
    sees at least the shards an earlier one saw. ``extra``: more fields, or a function of the set of
    clip ids committed that returns them. Returns the written metadata.
    """
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    with _locked(store):
        parts: list[dict[str, Any]] = []
        cols: dict[str, list[Any]] = {k: [] for k in ("ids", "labels", "groups", "valid", "part", "row")}
        for j, name in enumerate(complete_parts(store)):
            lines = read_part_index(store, name)
            for x in lines:
                r = x["record"]
                cols["ids"].append(r["id"])
                cols["labels"].append(r.get("label"))
                cols["groups"].append(r.get("group"))
                cols["valid"].append(x["valid_seconds"])
                cols["part"].append(j)
                cols["row"].append(x["row"])
            parts.append({"name": name, "clips": len(lines)})
        seen = set(cols["ids"])
        if len(seen) != len(cols["ids"]):
            dup = next(i for i, c in Counter(cols["ids"]).items() if c > 1)
            raise DataError(f"{store}: clip id {dup!r} appears in two shards (two extractions into one "
                            f"store with different settings?); remove one shard")
        _write_index(store, cols)  # before store.json, which is what readers trust
        meta = {"format": FORMAT, "version": VERSION, "config": config_subset(cfg),
                "shapes": store_shapes(cfg), "clips": len(seen), "parts": parts,
                **((extra(seen) if callable(extra) else extra) or {})}
        tmp = store / f".{STORE_JSON}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        os.replace(tmp, store / STORE_JSON)
    return meta


def _write_index(store: Path, cols: dict[str, list]) -> None:
    """``index.npz``: the per-clip columns as compact arrays, so opening 200k clips parses no JSON."""
    label_vocab, labels = _codes(cols["labels"])
    group_vocab, groups = _codes(cols["groups"])
    arrays = {
        "ids": np.array(cols["ids"], dtype=str), "labels": labels, "groups": groups,
        "label_vocab": np.array(label_vocab, dtype=str), "group_vocab": np.array(group_vocab, dtype=str),
        "valid": np.asarray(cols["valid"], dtype=np.float32),
        "part": np.asarray(cols["part"], dtype=np.int32), "row": np.asarray(cols["row"], dtype=np.int32),
    }
    tmp = store / f".{INDEX}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub reads **kwds as allow_pickle
    os.replace(tmp, store / INDEX)


def read_store_json(store: str | Path) -> dict[str, Any]:
    """``store.json`` validated for format and version, or a DataError naming the problem."""
    p = Path(store) / STORE_JSON
    if not Path(store).is_dir():
        raise DataError(f"{store}: feature store not found")
    if not p.is_file():
        raise DataError(f"{store}: not a feature store (no {STORE_JSON}); build one with "
                        f"`openfoley data extract`")
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: corrupt store metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{p}: not an OpenFoley feature store")
    if meta.get("version") != VERSION:
        raise DataError(f"{p}: store format version {meta.get('version')}, this code reads {VERSION}; "
                        f"re-extract")
    for key in ("config", "shapes", "parts"):
        if key not in meta:
            raise DataError(f"{p}: corrupt store metadata (no {key!r})")
    return meta


# --- reading ---------------------------------------------------------------------------------------
class FeatureStore:
    """Random access to an extracted store: ``store[i]`` is one clip as tensors (see module doc)."""

    def __init__(self, path: str | Path, max_open: int | None = None):
        self.path = Path(path)
        self.meta = read_store_json(self.path)
        shapes = self.meta["shapes"]
        self.frames_shape = tuple(shapes["frames"])
        self.mel_shape = tuple(shapes["mel"])
        self.parts = [p["name"] for p in self.meta["parts"]]
        if not self.parts or self.meta.get("clips", 0) == 0:
            raise DataError(f"{self.path}: feature store is empty (no clips extracted)")
        try:
            with np.load(self.path / INDEX, allow_pickle=False) as z:
                cols = {k: z[k] for k in z.files}
            self._ids, self._labels, self._groups = cols["ids"], cols["labels"], cols["groups"]
            self._label_vocab = cols["label_vocab"].tolist()
            self._group_vocab = cols["group_vocab"].tolist()
            self._valid, self._part, self._row = cols["valid"], cols["part"], cols["row"]
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{self.path / INDEX}: missing or corrupt store index ({e}); re-run "
                            f"extract to repair") from None
        n = self.meta["clips"]
        counts = np.bincount(self._part, minlength=len(self.parts)) if n else np.zeros(0)
        if len(self._ids) != n or counts.tolist() != [p["clips"] for p in self.meta["parts"]]:
            raise DataError(f"{self.path}: store index and store.json disagree on clip counts (corrupt "
                            f"store; re-run extract to repair)")
        if max_open is None:  # two mapped files per shard, each holding a file descriptor
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            max_open = max(4, min(len(self.parts), (soft if soft > 0 else 1024) // 4))
        self.max_open = max_open
        self._open: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    # -- metadata --
    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        return self._ids.tolist()

    @property
    def labels(self) -> list[str | None]:
        return [self._label_vocab[c] if c >= 0 else None for c in self._labels]

    @property
    def config_subset(self) -> dict[str, Any]:
        return self.meta["config"]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every clip's ``ClipRecord`` as a JSON dict, in store order (reads the indices: O(N))."""
        return [x["record"] for p in self.parts for x in read_part_index(self.path, p)]

    def index_of(self, clip_id: str) -> int:
        hits = np.nonzero(self._ids == clip_id)[0]
        if not len(hits):
            raise KeyError(clip_id)
        return int(hits[0])

    def check_compatible(self, cfg: Config) -> None:
        """Raise DataError listing every field where ``cfg`` would see different shapes or features."""
        bad = config_mismatches(self.config_subset, cfg)
        if bad:
            raise DataError(f"{self.path}: feature store does not match the config ({'; '.join(bad)}); "
                            f"re-extract with this config or choose the store's settings")

    # -- data --
    def _arrays(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        if j in self._open:
            self._open.move_to_end(j)
            return self._open[j]
        name, n = self.parts[j], self.meta["parts"][j]["clips"]
        out = []
        for key, shape, dtype in (("frames", self.frames_shape, np.uint8),
                                  ("mel", self.mel_shape, np.float16)):
            p = self.path / PARTS / f"{name}.{key}.npy"
            try:
                a = np.load(p, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise DataError(f"{p}: unreadable shard ({e})") from None
            if a.shape != (n, *shape) or a.dtype != dtype:
                raise DataError(f"{p}: shard holds {a.dtype} {a.shape}, store.json says "
                                f"{np.dtype(dtype)} {(n, *shape)} (corrupt store)")
            out.append(a)
        self._open[j] = (out[0], out[1])
        while len(self._open) > self.max_open:
            self._open.popitem(last=False)
        return self._open[j]

    def _locate(self, i: int) -> tuple[int, int]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a store of {n} clips")
        i = int(i) % n
        return i, int(self._row[i])

    def mel(self, i: int) -> torch.Tensor:
        """Clip ``i``'s log-mel (f, m) float32 alone, without copying its frames out of the map."""
        i, r = self._locate(i)
        return torch.from_numpy(self._arrays(int(self._part[i]))[1][r].astype(np.float32))

    def __getitem__(self, i: int) -> dict[str, Any]:
        i, r = self._locate(i)
        frames, mel = self._arrays(int(self._part[i]))
        lc, gc = int(self._labels[i]), int(self._groups[i])
        return {
            "frames": torch.from_numpy(np.array(frames[r])),  # (t, 3, H, W) uint8, copied out of the map
            "mel": torch.from_numpy(mel[r].astype(np.float32)),  # (f, m)
            "id": str(self._ids[i]),
            "label": self._label_vocab[lc] if lc >= 0 else None,
            "group": self._group_vocab[gc] if gc >= 0 else None,
            "valid_seconds": float(self._valid[i]),
            "index": i,
        }

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers re-open their own maps
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state

    def __repr__(self) -> str:
        return (f"FeatureStore({str(self.path)!r}, clips={len(self)}, frames={self.frames_shape}, "
                f"mel={self.mel_shape}, parts={len(self.parts)})")


def _codes(values: list[str | None]) -> tuple[list[str], np.ndarray]:
    vocab = sorted({v for v in values if v is not None})
    lookup = {v: k for k, v in enumerate(vocab)}
    return vocab, np.asarray([lookup[v] if v is not None else -1 for v in values], dtype=np.int32)
