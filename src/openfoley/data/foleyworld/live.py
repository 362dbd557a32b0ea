"""FoleyWorld rendered on the fly, straight into training tensors: no video encode, no decode, no disk.

``LiveStore`` looks like a ``FeatureStore`` to the training loop (``len``, ``store[i]``, ``mel(i)``) but
renders clip ``i`` of its split when asked: ``render_clip`` drawing only the frames on the model's grid
(every other frame of the 25 fps render at 12.5 fps; drawing is a pure function of the frame index), then
those frames at the model's size and the log-mel of the mix. Clip ``i`` is a
pure function of ``(seed, split, i)`` (``render.clip_rng``), so a resumed run sees exactly the clips
the uninterrupted run would have seen, and a run of N steps x B clips sees N x B distinct scenes
(the default length, 10^8, is never reached): every training step gets fresh renders of the same bank
recordings, with new timings, positions, looks, distractors and gains.

What it hands out matches what ``openfoley data render`` + ``openfoley data extract`` store for the same
clip, apart from the codec: frames are the render's frames shown at the grid times ``i / video.fps``
(every ``render.fps / video.fps``-th frame, the frame ``io.read_video`` picks) area-averaged from
``render.size`` down to ``video.size`` (FFmpeg's AREA scaler does the same for whole ratios), and
the mel is ``features.mel.log_mel`` of the mix rounded through float16 as in a store shard. No H.264
artefacts and no AAC: the test splits are still read from encoded files, so the benchmark measures
across that gap. ``h264=True`` closes it for the frames: each clip's drawn frames go through the files'
H.264 (``write_video`` at ``openfoley data render``'s default preset, "ultrafast", crf 23) and are read back
with ``io.read_video`` at the model's grid and size, as the benchmark reads its renders (the audio stays
as mixed). docs/sync-diagnosis.md part 39: that round trip alone moves the 25 fps event path's peaks.

Items: ``frames`` uint8 (t, 3, H, W), ``mel`` float32 (f, m), ``id``, ``label``, ``group``,
``valid_seconds``, ``index``, ``events`` float32 (e,) the true event times in seconds and ``event_kinds``
their source kinds (``walk``, ``impact``, ...).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openfoley.config import Config
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld.bank import Bank, load_bank
from openfoley.data.foleyworld.render import RENDER_PRESET, clip_id, clip_rng, render_clip, resolve_splits, split_pool
from openfoley.data.foleyworld.scenes import build_scene, kind_of, mix
from openfoley.errors import ConfigError, DataError
from openfoley.features.mel import log_mel

DEFAULT_CLIPS = 100_000_000


def frames_on_grid(frames: np.ndarray, render_fps: float, fps: float, size: int) -> np.ndarray:
    """Render frames (T, 3, S, S) uint8 at ``render_fps`` -> (t, 3, size, size) uint8 at ``fps``.

    Frame j of the output is render frame ``j * render_fps / fps`` (the frame on screen at grid time
    ``j / fps``); S / size must be whole and the pixels are means of S/size squared blocks, rounded.
    """
    step = render_fps / fps
    k = frames.shape[-1] / size
    if abs(step - round(step)) > 1e-9 or abs(k - round(k)) > 1e-9 or frames.shape[-1] != frames.shape[-2]:
        raise ConfigError(f"live rendering needs render fps / video fps ({render_fps}/{fps}) and render size / "
                          f"video size ({frames.shape[-1]}/{size}) to be whole numbers and square frames")
    step, k = round(step), round(k)
    x = frames[::step]
    if k > 1:
        # block sums in the (t, h, w, 3) layout the renderer paints in (draw_frames hands out a channel-first
        # view of it): k row slices then k column slices, each a contiguous block (2x faster than torch's
        # avg_pool2d on the transposed copy). An integer sum divided by k^2 in float32 is the correctly
        # rounded mean, and rint rounds half to even as torch.round does.
        hwc = x.transpose(0, 2, 3, 1)  # (t, S, S, 3)
        t, big = hwc.shape[0], hwc.shape[1]
        s = big // k
        acc = np.uint16 if k * k * 255 < 2**16 else np.uint32
        rows = hwc.reshape(t, s, k, big, 3)
        r: np.ndarray = rows[:, :, 0].astype(acc)
        for i in range(1, k):
            r += rows[:, :, i]
        cols = r.reshape(t, s, s, k, 3)
        sums: np.ndarray = cols[:, :, :, 0].copy()
        for j in range(1, k):
            sums += cols[:, :, :, j]
        y = np.rint(sums.astype(np.float32) / np.float32(k * k)).astype(np.uint8)  # (t, s, s, 3)
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(x)


def stack_event_frames(items: list[dict[str, Any]]) -> torch.Tensor | None:
    """``LiveStore(event_frames=True)`` items -> their event path's frames stacked, (b, k t, 3, H, W) uint8, or
    None when they hold none (a model whose event path reads the model's own frames)."""
    return torch.stack([it["event_frames"] for it in items]) if items and "event_frames" in items[0] else None


def h264_round_trip(frames: np.ndarray, render_fps: float, fps: float, size: int) -> np.ndarray:
    """Render frames (T, 3, S, S) uint8 at ``render_fps`` -> (t, 3, size, size) uint8 at ``fps``, as
    ``frames_on_grid`` but through the benchmark renders' H.264 (``write_video``, preset ``RENDER_PRESET``, crf 23)
    and the pipeline's reader (``read_video``: the frame on screen at each grid time, FFmpeg's scaler)."""
    from openfoley.io import read_video, write_video  # keeps ``import openfoley.data`` free of the encoder

    seconds = frames.shape[0] / render_fps
    with tempfile.TemporaryDirectory(prefix="openfoley-h264-") as tmp:
        path = write_video(Path(tmp) / "clip.mp4", frames, render_fps, preset=RENDER_PRESET)
        return np.asarray(read_video(path, fps, size, duration=seconds).frames, dtype=np.uint8)


class LiveStore:
    """A FeatureStore-like view of ``clips`` FoleyWorld clips of ``split``, rendered on demand."""

    def __init__(self, bank_dir: str | Path, cfg: Config, split: str = "train", seed: int = 0,
                 render: RenderConfig | None = None, clips: int = DEFAULT_CLIPS,
                 splits: str | Path | None = None, n_sources: int | None = None, kind: str | None = None,
                 event_frames: bool = False, h264: bool = False):
        """``n_sources``: every clip's number of sounding sources (None: the renderer's draw of 1 to 3);
        ``kind``: only the split's classes of that visual event kind (``scenes.kind_of``, e.g. "impact":
        falling objects); ``event_frames``: for a model whose event path reads frames of its own
        (``Config.event_rate`` k > 1), items also hold ``event_frames`` (k t, 3, H, W), the same span at
        ``alignment.event_fps`` (their every k-th frame is ``frames``); ``h264``: the frames through an H.264
        round trip (above)."""
        self.bank_dir, self.cfg, self.split, self.seed, self.clips = str(bank_dir), cfg, split, int(seed), int(clips)
        self.n_sources, self.kind = n_sources, kind
        self.event_frames = bool(event_frames) and cfg.event_rate > 1
        self.h264 = bool(h264)
        self.render = render or RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
        if abs(self.render.seconds - cfg.seconds) > 1e-9 or self.render.sample_rate != cfg.audio.sample_rate:
            raise ConfigError(f"live rendering: render seconds/sample rate ({self.render.seconds}, "
                              f"{self.render.sample_rate}) must equal the model's ({cfg.seconds}, {cfg.audio.sample_rate})")
        if self.clips < 1:
            raise ConfigError(f"live rendering needs clips >= 1, got {clips}")
        self._bank: Bank | None = None
        self._pool: dict[str, list[str]] | None = None
        self._splits = splits

    @classmethod
    def for_training(cls, bank_dir: str | Path, cfg: Config, walkers: float, seed: int = 0,
                     event_frames: bool = False, h264: bool = False) -> LiveStore:
        """The training set of ``openfoley train --live`` and of ``openfoley benchmark --train-live``: the
        bank's train split rendered at 128 px with ``walkers`` of the strike and impact sources drawn as
        walkers (``event_frames`` and ``h264`` as the constructor's). DataError when ``bank_dir`` is not a sound bank."""
        if not (Path(bank_dir) / "manifest.jsonl").is_file():
            raise DataError(f"{bank_dir}: not a sound bank (no manifest.jsonl; build one with "
                            "`openfoley data sound-bank`)")
        render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate, walker_share=walkers)
        return cls(bank_dir, cfg, split="train", seed=seed, render=render, event_frames=event_frames, h264=h264)

    def _ready(self):
        if self._bank is None:
            self._bank = load_bank(self.bank_dir)
            sp = resolve_splits(self._bank, self._splits)  # None: BANK/splits.json, else the rule
            pool = split_pool(self._bank, sp, self.split)
            if self.kind is not None:
                bank = self._bank
                pool = {c: ids for c, ids in pool.items() if kind_of(c, bank.class_group(c)) == self.kind}
                if not pool:
                    raise DataError(f"{self.bank_dir}: no {self.split} class of kind {self.kind!r}")
            self._pool = pool
        return self._bank, self._pool

    def __len__(self) -> int:
        return self.clips

    def clip(self, i: int, frame_step: int = 1):
        """The rendered clip i (``render_clip``; ``frame_step`` > 1 draws only every that many frames)."""
        if not 0 <= i < self.clips:
            raise IndexError(i)
        bank, pool = self._ready()
        return render_clip(bank, pool, self.render, self.seed, self.split, int(i), n_sources=self.n_sources,
                           frame_step=frame_step)

    def __getitem__(self, i: int) -> dict[str, Any]:
        v = self.cfg.video
        k = self.cfg.event_rate if self.event_frames else 1
        fps = v.fps * k  # the finest grid an item holds
        ratio = self.render.fps / fps
        step = round(ratio) if abs(ratio - round(ratio)) < 1e-9 and ratio >= 1 else 1
        clip = self.clip(i, frame_step=step)  # only the frames on that grid are drawn
        if self.h264:
            fine = h264_round_trip(clip.frames, self.render.fps / step, fps, v.size)
        else:
            fine = frames_on_grid(clip.frames, self.render.fps / step, fps, v.size)
        frames = fine[::k]  # the model's grid: frame j is fine frame j k, the frame on screen at j / video.fps
        extra = {"event_frames": torch.from_numpy(np.ascontiguousarray(fine))} if k > 1 else {}
        mel = log_mel(torch.from_numpy(clip.audio), self.cfg.audio).half().float()  # (f, m), as a store keeps it
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(frames)), "mel": mel, "id": clip_id(self.split, int(i)),
            "label": clip.truth["class"], "group": clip.truth["group"], "valid_seconds": self.cfg.seconds,
            "index": int(i), "events": np.asarray([e["time"] for e in clip.truth["events"]], dtype=np.float32),
            "event_kinds": [e["kind"] for e in clip.truth["events"]], **extra,
        }

    def mel(self, i: int) -> torch.Tensor:
        """Clip i's log-mel (f, m) alone: the scene and its mix, without drawing a frame (5x cheaper)."""
        if not 0 <= i < self.clips:
            raise IndexError(i)
        bank, pool = self._ready()
        audio = mix(build_scene(clip_rng(self.seed, self.split, int(i)), self.render, bank, pool,
                                n_sources=self.n_sources))
        return log_mel(torch.from_numpy(audio), self.cfg.audio).half().float()

    def check_compatible(self, cfg: Config) -> None:
        if cfg.seconds != self.cfg.seconds or cfg.audio != self.cfg.audio or cfg.video != self.cfg.video:
            raise ConfigError("live store was built for a different clip length, audio or video config")

    def __getstate__(self) -> dict[str, Any]:  # worker processes load their own bank
        d = dict(self.__dict__)
        d["_bank"] = d["_pool"] = None
        return d

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("n_sources", self.n_sources), ("kind", self.kind)) if v is not None)
        return f"LiveStore({self.bank_dir!r}, split={self.split!r}, seed={self.seed}, clips={self.clips}{extra})"
