"""Settings of the tools around the model: sound-bank build, FoleyWorld render, open-set curation, the
web page. Frozen dataclasses like the model's ``Config`` (``openfoley.config``), kept here so every
setting of the package is defined under ``config/``; each tool's module imports its own from here.

    BankSettings   openfoley data sound-bank   (data/soundbank/build.py; written into bank.json)
    RenderConfig   openfoley data render       (data/foleyworld/; clip format and nuisance strengths)
    MediaRule      openfoley curate            (the paper's media filters: duration, height, SNR)
    CurateConfig   openfoley curate            (inputs, label rules, media rule; its identity resumes runs)
    ServeOptions   openfoley serve             (host, limits, queue)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from openfoley.errors import ConfigError, DataError


@dataclass(frozen=True)
class BankSettings:
    """Every number the bank build uses; written into bank.json."""

    sample_rate: int = 16000
    min_seconds: float = 0.05  # shorter clips (after trimming) are dropped
    max_seconds: float = 10.0  # longer event clips are dropped; continuous ones are cropped to this
    split_min_seconds: float = 2.0  # event-group recordings longer than this are split at gaps
    trim_rel_db: float = 45.0
    trim_abs_db: float = -65.0
    trim_pad: float = 0.02
    gap_db: float = 35.0
    min_gap: float = 0.15
    target_db: float = -20.0
    peak_db: float = -1.0
    dedupe_ber: float = 0.15
    min_clips: int = 5

    def __post_init__(self) -> None:
        if self.sample_rate < 8000 or self.max_seconds <= self.min_seconds or self.min_clips < 1:
            raise DataError(f"invalid bank settings: {self}")


# Live training's share of strike and impact sources drawn as walkers (RenderConfig.walker_share):
# `openfoley train --live-walkers` and `openfoley benchmark --train-walkers` default (docs/benchmark.md).
LIVE_WALKER_SHARE = 0.3


@dataclass(frozen=True)
class RenderConfig:
    """Clip format and the strength of the nuisances. ``sample_rate`` must equal the bank's."""

    seconds: float = 8.0
    fps: float = 25.0
    size: int = 224  # frames are size x size
    sample_rate: int = 16000
    max_sources: int = 3
    max_distractors: int = 3
    shake_px: float = 3.0  # largest camera-shake amplitude (pixels; random bumps reach twice that)
    noise_std: float = 6.0  # largest per-pixel noise standard deviation (0-255 scale)
    audio_noise_db: tuple[float, float] = (-65.0, -45.0)  # audio noise floor level range, dBFS
    gain_db: tuple[float, float] = (-8.0, 0.0)  # per-source gain range (the main source gets 0 dB)
    margin: int = 8  # canvas border that camera shake reveals (>= shake)
    # Probability that a source whose class is drawn as a strike or an impact is drawn as a walker instead,
    # its feet landing with that class's sounds. The walker is otherwise only the footsteps group's look,
    # which the splits hold out whole (test-open), so without this no training scene shows a foot land.
    # 0 keeps every scene exactly as before (no random draw is made). docs/benchmark.md, "Walkers".
    walker_share: float = 0.0

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.fps <= 0 or self.size < 32:
            raise ConfigError(f"render: need seconds > 0, fps > 0, size >= 32; got {self.seconds}, {self.fps}, {self.size}")
        if abs(self.seconds * self.fps - round(self.seconds * self.fps)) > 1e-6:
            raise ConfigError(f"render: seconds*fps must be whole, got {self.seconds}*{self.fps}")
        if self.max_sources < 1:
            raise ConfigError(f"render: max_sources must be >= 1, got {self.max_sources}")
        if not 0.0 <= self.walker_share <= 1.0:
            raise ConfigError(f"render: walker_share must be in [0, 1], got {self.walker_share}")
        if self.margin < self.shake_px:
            raise ConfigError(f"render: margin ({self.margin}) must be >= shake_px ({self.shake_px})")

    @property
    def frames(self) -> int:
        """t: video frames per clip."""
        return round(self.seconds * self.fps)

    @property
    def samples(self) -> int:
        """s: audio samples per clip."""
        return round(self.seconds * self.sample_rate)

    def frame_sample(self, frame: int) -> int:
        """The audio sample at which video frame ``frame`` begins."""
        return round(frame * self.sample_rate / self.fps)


@dataclass(frozen=True)
class MediaRule:
    """The paper's media filters (section 4.1 / appendix A): 8-12 s, >= 224p, SNR > 15 dB."""

    min_duration: float = 8.0
    max_duration: float = 12.0
    min_height: int = 224
    min_snr_db: float = 15.0
    snr_sample_rate: int = 16000
    snr_frame_seconds: float = 0.025
    snr_fraction: float = 0.1


@dataclass(frozen=True)
class CurateConfig:
    """Every setting that decides which clips are kept (plus a few that only change speed)."""

    audioset: tuple[str, ...] = ()  # AudioSet segment CSVs
    panda: tuple[str, ...] = ()  # Panda-70M metadata CSVs
    ontology: str | None = None  # None: the shipped AudioSet ontology
    mapping: str | None = None  # None: the shipped, reviewed vggsound_to_audioset.tsv
    media_dir: str | None = None  # None: metadata filters only
    media_exts: tuple[str, ...] = ("mp4", "mkv", "webm", "mov", "avi")
    exclude_ancestors: bool = True
    ancestor_rule: str = "unexplained"  # unexplained | any (classmap.ExclusionRule)
    media: MediaRule = MediaRule()
    strict: bool = False
    max_examples: int = 20
    # speed only (not part of the resume identity)
    workers: int = 0  # media probing processes; 0 probes in this process
    batch_rows: int = 20_000
    media_batch: int = 64
    checkpoint_every: int = 500_000

    def identity(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("workers", "batch_rows", "media_batch", "checkpoint_every"):
            d.pop(k)
        return json.loads(json.dumps(d))


@dataclass(frozen=True)
class ServeOptions:
    """Settings of one ``openfoley serve`` process."""

    host: str = "127.0.0.1"  # loopback only, unless the operator asks for more
    port: int = 7860
    model: str = "builtin"  # a weights folder, or "builtin" (the packaged small model)
    device: str = "auto"
    max_mb: float = 50.0  # largest upload, in 10^6 bytes
    max_seconds: float = 30.0  # longest upload, in seconds
    max_steps: int = 64  # the steps slider's upper end
    queue_size: int = 16  # requests that may wait for the model; Gradio refuses more
    stale_after_s: float = 600.0  # request folders older than this are swept (abandoned requests)

    def __post_init__(self) -> None:
        if not self.max_mb > 0:
            raise ConfigError(f"--max-mb must be > 0, got {self.max_mb}")
        if not self.max_seconds > 0:
            raise ConfigError(f"--max-seconds must be > 0, got {self.max_seconds}")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"--port must be in 0..65535, got {self.port}")
        if self.max_steps < 1 or self.queue_size < 1:
            raise ConfigError(f"max_steps and queue_size must be >= 1, got {self.max_steps}, {self.queue_size}")
