"""FoleyWorld rendered on the fly, straight into training tensors: no video encode, no decode, no disk.

``LiveStore`` looks like a ``FeatureStore`` to the training loop (``len``, ``store[i]``, ``mel(i)``) but
renders clip ``i`` of its split when asked: ``render_clip`` (numpy, about 0.07 s for an 8 s clip at
128 px on one core), then the frames on the model's grid and the log-mel of the mix. Clip ``i`` is a
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
across that gap.

Items: ``frames`` uint8 (t, 3, H, W), ``mel`` float32 (f, m), ``id``, ``label``, ``group``,
``valid_seconds``, ``index``, and ``events`` float32 (e,) the true event times in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from openfoley.config import Config
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld.bank import Bank, load_bank
from openfoley.data.foleyworld.render import clip_id, clip_rng, render_clip, resolve_splits, split_pool
from openfoley.data.foleyworld.scenes import build_scene, mix
from openfoley.errors import ConfigError
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
    if k > 1:  # block means of whole numbers are exact in float32; torch.round is round-half-even like rint
        y = F.avg_pool2d(torch.from_numpy(np.ascontiguousarray(x)).float(), k)
        return y.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return np.ascontiguousarray(x)


class LiveStore:
    """A FeatureStore-like view of ``clips`` FoleyWorld clips of ``split``, rendered on demand."""

    def __init__(self, bank_dir: str | Path, cfg: Config, split: str = "train", seed: int = 0,
                 render: RenderConfig | None = None, clips: int = DEFAULT_CLIPS,
                 splits: str | Path | None = None):
        self.bank_dir, self.cfg, self.split, self.seed, self.clips = str(bank_dir), cfg, split, int(seed), int(clips)
        self.render = render or RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
        if abs(self.render.seconds - cfg.seconds) > 1e-9 or self.render.sample_rate != cfg.audio.sample_rate:
            raise ConfigError(f"live rendering: render seconds/sample rate ({self.render.seconds}, "
                              f"{self.render.sample_rate}) must equal the model's ({cfg.seconds}, {cfg.audio.sample_rate})")
        if self.clips < 1:
            raise ConfigError(f"live rendering needs clips >= 1, got {clips}")
        self._bank: Bank | None = None
        self._pool: dict[str, list[str]] | None = None
        self._splits = splits

    def _ready(self):
        if self._bank is None:
            self._bank = load_bank(self.bank_dir)
            sp = resolve_splits(self._bank, self._splits)  # None: BANK/splits.json, else the rule
            self._pool = split_pool(self._bank, sp, self.split)
        return self._bank, self._pool

    def __len__(self) -> int:
        return self.clips

    def clip(self, i: int):
        if not 0 <= i < self.clips:
            raise IndexError(i)
        bank, pool = self._ready()
        return render_clip(bank, pool, self.render, self.seed, self.split, int(i))

    def __getitem__(self, i: int) -> dict[str, Any]:
        clip = self.clip(i)
        v = self.cfg.video
        frames = frames_on_grid(clip.frames, self.render.fps, v.fps, v.size)
        mel = log_mel(torch.from_numpy(clip.audio), self.cfg.audio).half().float()  # (f, m), as a store keeps it
        return {
            "frames": torch.from_numpy(frames), "mel": mel, "id": clip_id(self.split, int(i)),
            "label": clip.truth["class"], "group": clip.truth["group"], "valid_seconds": self.cfg.seconds,
            "index": int(i), "events": np.asarray([e["time"] for e in clip.truth["events"]], dtype=np.float32),
        }

    def mel(self, i: int) -> torch.Tensor:
        """Clip i's log-mel (f, m) alone: the scene and its mix, without drawing a frame (5x cheaper)."""
        if not 0 <= i < self.clips:
            raise IndexError(i)
        bank, pool = self._ready()
        audio = mix(build_scene(clip_rng(self.seed, self.split, int(i)), self.render, bank, pool))
        return log_mel(torch.from_numpy(audio), self.cfg.audio).half().float()

    def check_compatible(self, cfg: Config) -> None:
        if cfg.seconds != self.cfg.seconds or cfg.audio != self.cfg.audio or cfg.video != self.cfg.video:
            raise ConfigError("live store was built for a different clip length, audio or video config")

    def __getstate__(self) -> dict[str, Any]:  # worker processes load their own bank
        d = dict(self.__dict__)
        d["_bank"] = d["_pool"] = None
        return d

    def __repr__(self) -> str:
        return f"LiveStore({self.bank_dir!r}, split={self.split!r}, seed={self.seed}, clips={self.clips})"
