"""Configuration: frozen dataclasses, derived lengths as properties, named presets in one registry.

One ``Config`` holds every section of the method. Numbers that follow from others (video frames per
clip, mel frames, audio tokens) are properties, never stored twice. A resolved config round-trips
through JSON (``to_dict`` / ``from_dict``) and is written into every run folder and checkpoint.

Overrides come from a TOML file (``load_toml``) and from ``section.key=value`` strings
(``apply_overrides``); both go through ``replace_path`` which checks names and coerces types.

Presets (``PRESETS``):
  - ``tiny``: for tests; everything small enough to train a few steps in a second.
  - ``small``: the built-in CPU model (16 kHz audio, 12.5 fps video at 64x64, a few million params).
  - ``paper``: the paper's settings (8 kHz, 50 ms window, 25 ms hop, 128 mel bands resampled to 128
    time steps per 10 s clip, 224x224 frames, ratio 0.4, 12 coupling layers of width 512, Adam 3e-4,
    5k warmup, batch 128). See docs/paper-notes.md for the readings chosen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from openfoley.errors import ConfigError


def griffin_lim_name(init: str, iters: int, momentum: float) -> str:
    """A Griffin-Lim vocoder's name in every runtime: ``griffin-lim-32`` (pghi start, momentum 0.99),
    ``griffin-lim-random-32``, ``griffin-lim-32-m0`` (classic, no momentum)."""
    start = "" if init == "pghi" else f"{init}-"
    mom = "" if momentum == 0.99 else f"-m{momentum:g}"
    return f"griffin-lim-{start}{iters}{mom}"


@dataclass(frozen=True)
class AudioConfig:
    """Waveform and log-mel spectrogram settings."""

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None  # None: Nyquist
    log_floor: float = 1e-5  # log(max(mel, floor))
    # If set, the mel is linearly resampled along time to this many frames per clip (paper: 128 per
    # 10 s clip, see docs/paper-notes.md). None keeps the native hop.
    time_steps: int | None = None
    # Griffin-Lim vocoder (features.mel.griffin_lim): phases start from the magnitude's gradients
    # ("pghi") or at random ("random"), then `griffin_lim_iters` fast Griffin-Lim iterations with
    # `griffin_lim_momentum` (0 = classic Griffin-Lim). In 0.1.0 the default was random, 32, 0.99;
    # pghi + 4 is 4x cheaper, with lower multi-resolution spectral convergence and an event F1 within
    # 0.006 of the old one (docs/vocoder.md).
    griffin_lim_iters: int = 4
    griffin_lim_momentum: float = 0.99
    griffin_lim_init: str = "pghi"

    def __post_init__(self) -> None:
        if self.griffin_lim_init not in ("pghi", "random"):
            raise ConfigError(f"audio.griffin_lim_init must be 'pghi' or 'random', got {self.griffin_lim_init!r}")
        if self.griffin_lim_iters < 0 or not self.griffin_lim_momentum >= 0:
            raise ConfigError(f"audio.griffin_lim_iters and audio.griffin_lim_momentum must be >= 0, got "
                              f"{self.griffin_lim_iters} and {self.griffin_lim_momentum}")

    @property
    def nyquist(self) -> float:
        return self.sample_rate / 2

    @property
    def fmax(self) -> float:
        return self.nyquist if self.f_max is None else self.f_max

    @property
    def mel_fps(self) -> float:
        """Native mel frames per second (before any ``time_steps`` resampling)."""
        return self.sample_rate / self.hop_length


@dataclass(frozen=True)
class VideoConfig:
    """Frame sampling and resizing."""

    fps: float = 12.5
    size: int = 64  # frames are size x size
    resize: str = "crop"  # "crop": fill then centre-crop; "pad": fit then pad with black

    def __post_init__(self) -> None:
        if self.resize not in ("crop", "pad"):
            raise ConfigError(f"video.resize must be 'crop' or 'pad', got {self.resize!r}")


@dataclass(frozen=True)
class EncoderConfig:
    """Per-modality encoders producing (b, t, d) video and (b, n, d) audio features."""

    video: str = "conv"  # conv | patch | motion | window (from scratch) | siglip (pretrained adapter, weights from a path)
    audio: str = "patch"  # patch (from scratch) | audiomae (pretrained adapter, weights from a path)
    width: int = 256  # d
    video_channels: tuple[int, ...] = (32, 64, 128)  # conv stem stages
    temporal_layers: int = 1
    # motion encoder only: frames are average-pooled by this factor before its 8 x 8-pixel patches are cut
    # (2: 4 x 4 patches of a 32 px view, the encoder of docs/sync-diagnosis.md part 7; 1: the full 64 px,
    # 8 x 8 patches, the same grid; scripts/unpool-motion.py turns a pool-2 model into pool 1 exactly)
    motion_pool: int = 2
    # window encoder only: the window path's difference frames are taken after each neighbour frame is
    # moved into the middle frame's camera (openfoley.features.stabilise; docs/sync-diagnosis.md part 15)
    window_stabilise: bool = True
    # the shift search's cost (openfoley.features.stabilise.shift_costs) over every s-th row and column of
    # the frame's interior: 1 reads every pixel; 2 reads a quarter of them and finds slightly different
    # sub-pixel shifts (docs/sync-diagnosis.md part 38)
    window_search_stride: int = 1
    audio_patch: int = 4  # mel frames per audio token (p)
    video_weights: str | None = None  # local path to pretrained weights (adapters only)
    audio_weights: str | None = None
    # the appearance path (openfoley.encoders.appearance): "cnn" adds what the frames show to the generator's
    # condition, learned from co-occurrence (scripts/pretrain-appearance.py, scripts/add-appearance-path.py)
    appearance: str = "none"  # none | cnn
    appearance_channels: tuple[int, ...] = (32, 64, 128)
    appearance_dim: int = 128  # e
    appearance_stride: int = 4  # looks at every stride-th frame, interpolated in between
    appearance_train: bool = False  # False: the tower stays as pretrained (no gradients in training)


    def __post_init__(self) -> None:
        if self.motion_pool not in (1, 2, 4, 8):
            raise ConfigError(f"encoder.motion_pool must be 1, 2, 4 or 8, got {self.motion_pool!r}")
        if self.appearance not in ("none", "cnn"):
            raise ConfigError(f"encoder.appearance must be 'none' or 'cnn', got {self.appearance!r}")
        if self.appearance_stride < 1 or self.appearance_dim < 1 or not self.appearance_channels:
            raise ConfigError("encoder.appearance_stride and appearance_dim must be >= 1 and "
                              "appearance_channels non-empty")


@dataclass(frozen=True)
class AlignmentConfig:
    """Modality-aware masking alignment (MMA): the cross-modal transformer and its masks."""

    enabled: bool = True  # mma=on|off
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    mask_ratio: float = 0.4  # r: target fraction of masked positions per modality
    ratio_jitter: float = 0.1  # dynamic masking: per-example ratio ~ U[r - j, r + j], clipped to [0, 1]
    audio_span: tuple[int, int] = (2, 6)  # contiguous audio span lengths in tokens, inclusive
    video_single_fraction: float = 0.5  # share of masked video frames drawn as single frames
    video_clip: tuple[int, int] = (2, 5)  # contiguous video clip lengths in frames, inclusive
    video_target: str = "pixels"  # masked-video target: pixels (low-res frame) | features (per-frame, detached)
    video_target_size: int = 8  # pixels target: frames average-pooled to this size (3*s*s values)
    # weight of the onset target (alignment/mma.py, ``onset_target``): the aligned video features, made
    # from video alone, regress the audio's onset strength at each frame. 0 = off (no head is built).
    onset_weight: float = 0.0
    # > 0 (with onset_weight > 0): the onset head's prediction, detached and times this scale, is handed
    # to the generator as one more channel of every condition vector (cond_dim = width + 1), so the
    # video's own estimate of when sound starts reaches the generator as an explicit track
    # (docs/sync-diagnosis.md part 8; off in the presets). 0 = off: the aligned features alone.
    onset_condition: float = 0.0
    # the onset head's shape (with onset_weight > 0). 1: one linear map per frame (the presets). An odd
    # k > 1: two 1-D convolutions over time, kernel k each, onset_head_width channels and a GELU between
    # them, so a frame's onset strength reads (k - 1) frames on either side: enough to tell an object's
    # contact from the silent touch-down after its bounce (docs/sync-diagnosis.md part 27).
    onset_head_kernel: int = 1
    onset_head_width: int = 64
    # True (with onset_weight > 0): a second video encoder, MMA transformer (video only) and onset head,
    # trained for the onset track alone (``openfoley.alignment.event_path``, ``scripts/fit-event-path.py``):
    # its track replaces the onset head's for onset guidance, the predicted events and (with onset_condition
    # > 0) the onset channel, while the generator keeps reading the shared video side's aligned features
    # (docs/sync-diagnosis.md part 29). Off in the presets; on in the built-in model.
    event_path: bool = False
    # The event path's frame rate. None: video.fps (it reads the model's frames). A whole multiple k > 1 of
    # video.fps: it reads frames of its own at k times the rate (the pipeline decodes at that rate and gives
    # the model every k-th frame), so a brief contact falls between frames k times less coarsely, and its
    # track has k values per model frame (docs/sync-diagnosis.md part 33).
    event_fps: float | None = None
    # True (with event_fps above video.fps): a second event path beside it, at video.fps on the model's own
    # frames (state-dict prefix ``coarse_event_path.``), and the onset track is the mean of the two on the
    # finer grid, the coarse track linearly interpolated to the fine frames' centres and held flat beyond
    # its first and last. Both paths are fitted apart (scripts/fit-event-path.py) and kept frozen by
    # ``openfoley train`` (docs/sync-diagnosis.md parts 35-36).
    event_pair: bool = False
    # the fine event path's own ``encoder.window_search_stride`` (None: the encoder's): its shift search is
    # the largest op group of the condition network at 25 fps (benchmarks/condition_profile.py), and the path can be taught
    # on the cheaper search without touching the generator's condition (docs/sync-diagnosis.md part 38)
    event_search_stride: int | None = None


@dataclass(frozen=True)
class KeyFrameConfig:
    """Selective key-frame conditioning: saliency = motion energy + scene change."""

    budget: float = 0.5  # < 1: fraction of frames; >= 1: a count
    motion_weight: float = 1.0
    scene_weight: float = 1.0
    min_frames: int = 1


@dataclass(frozen=True)
class FlowConfig:
    """Modality-aware flow generation (MFG) and the paper's ablation generators."""

    kind: str = "cfm"  # cfm | coupling | nf | ddpm
    net: str = "transformer"  # velocity/epsilon network of cfm and ddpm: transformer | unet (flow/unet.py)
    width: int | None = None  # velocity/epsilon network width; None: encoder.width
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    # net = unet: residual blocks per level on each side of the U-Net (the mel-rate layers; docs/flow.md).
    # More than 1 only adds layers, so `scripts/switch-on.py --grow` can grow a trained network without changing
    # what it computes (docs/sync-diagnosis.md part 42)
    unet_blocks: int = 1
    time_sampler: str = "logit_normal"  # logit_normal | uniform
    # cfm: this share of the training flow times drawn uniformly from [0, time_low_max) instead: the start of
    # the path, which logit-normal almost never draws and where the sampler's first step decides the
    # clip-wide sound (flow/time_sampler.py; docs/sync-diagnosis.md part 24)
    time_low_share: float = 0.0
    time_low_max: float = 0.1
    cond_dropout: float = 0.1  # null-condition dropout for classifier-free guidance
    cfg_scale: float = 2.0
    steps: int = 16
    solver: str = "euler"  # euler | midpoint | heun
    refine: bool = True  # Eq. 7 video-guided refinement (docs/paper-notes.md)
    refine_scale: float = 0.5  # lambda in Eq. 7
    refine_neighbors: int = 1  # key frames each audio token sees in the Eq. 7 local branch (docs/flow.md)
    # cfm and ddpm: a global route for the condition. The per-token condition's mean and max over the clip,
    # projected (zero at init) and added to the flow-time embedding, so every FiLM / adaLN of the velocity
    # network reads what the whole clip shows; the U-Net's output norm is modulated by it too. Measured in
    # docs/sync-diagnosis.md parts 24-25: with the start of the path trained (time_low_share) the clip's
    # spectral colour follows the condition; the built-in model has both on since step 17900.
    global_cond: bool = False
    # Sampling only (eval mode): the global route's clip-dependent part scaled by this gain, bias + gain * W
    # [mean, max] (flow.velocity.global_route); 1 = as trained. Needs global_cond. docs/sync-diagnosis.md
    # part 31: above 1 each clip's sound follows its own condition more (test-closed FAD falls).
    global_gain: float = 1.0
    # CFM sampling only, for models with an onset head (alignment.onset_weight > 0): at every ODE step the
    # velocity is corrected by -onset_guidance * grad of the squared difference between the onset
    # strength of the predicted data and the video's predicted onset strength (docs/flow.md). 0 = off.
    onset_guidance: float = 0.0
    # What the guide pulls towards: "soft" = the onset head's prediction as it is; "peaks" = a sharpened
    # track, onset_peak_height at the prediction's local maxima at or above onset_peak_threshold and
    # onset_floor everywhere else: an onset at each predicted event and none in between (docs/flow.md);
    # "sharp" = the same track asked of single mel frames: the rise into an event frame's first mel frame
    # is pulled to onset_peak_height and the rise into every other mel frame to onset_floor, so each event
    # is one sharp attack at a set instant, not a rise spread over the frame (docs/sync-diagnosis.md part 30).
    onset_guide: str = "soft"
    onset_peak_threshold: float = 0.23
    onset_peak_height: float = 0.8
    onset_floor: float = 0.09
    # Mel frames by which the guide's frame intervals move earlier: an onset asked for at video frame i
    # is measured over mel frames [i*w - lead, (i+1)*w - lead) (w mel frames per video frame; "sharp":
    # at mel frame i*w - lead alone). The head
    # fires on the frame an event first shows in, which often starts after the sound (docs/flow.md).
    onset_guide_lead: int = 0
    sigma_min: float = 0.0  # floor of the CFM path: x_1 = x1 + sigma_min x0 (openfoley.flow.path)
    coupling_layers: int = 12
    coupling_width: int = 512
    ddpm_steps: int = 1000
    ddpm_beta: tuple[float, float] = (1e-4, 0.02)
    ddpm_sampler: str = "ddim"  # ddim (eta = 0) | ancestral (eta = 1), on `steps` respaced steps


@dataclass(frozen=True)
class TrainConfig:
    """Algorithm 1: joint loss, optimiser, schedule, precision, EMA, checkpoints."""

    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 500
    max_steps: int = 5000
    batch_size: int = 32  # global batch, divided across ranks and accumulation steps in one place
    grad_accum: int = 1
    grad_clip: float = 1.0
    lambda_mask: float = 1.0
    lambda_flow: float = 1.0
    ema_decay: float = 0.999
    precision: str = "fp32"  # fp32 | bf16 | fp16
    # DDP's search for parameters without gradients costs a graph traversal per step; every built-in
    # variant uses all its parameters in every step (tests/test_model.py), so it is off unless needed
    find_unused_parameters: bool = False
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    val_every: int = 500
    sample_every: int = 1000
    ckpt_every: int = 500
    keep_last: int = 3


@dataclass(frozen=True)
class Config:
    """Everything one model and its training run need. Derived sizes are properties."""

    name: str = "small"
    seconds: float = 8.0  # clip length the model is trained on (its window)
    audio: AudioConfig = field(default_factory=AudioConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    keyframes: KeyFrameConfig = field(default_factory=KeyFrameConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        frames = self.seconds * self.video.fps
        if abs(frames - round(frames)) > 1e-6:
            raise ConfigError(f"seconds*fps must be whole: {self.seconds}*{self.video.fps}={frames}")
        samples = self.seconds * self.audio.sample_rate
        if abs(samples - round(samples)) > 1e-6 or round(samples) % self.audio.hop_length:
            raise ConfigError(
                f"seconds*sample_rate ({samples}) must be a multiple of hop_length ({self.audio.hop_length})"
            )
        if self.model_mel_frames % self.encoder.audio_patch:
            raise ConfigError(
                f"mel frames per clip ({self.model_mel_frames}) must be a multiple of "
                f"encoder.audio_patch ({self.encoder.audio_patch})"
            )
        if self.flow.net not in ("transformer", "unet"):
            raise ConfigError(f"flow.net must be transformer or unet, got {self.flow.net!r}")
        if not (0.0 <= self.flow.time_low_share <= 1.0 and 0.0 < self.flow.time_low_max <= 1.0):
            raise ConfigError(f"flow.time_low_share must be in [0, 1] and flow.time_low_max in (0, 1], got "
                              f"{self.flow.time_low_share} and {self.flow.time_low_max}")
        g = self.flow.global_gain
        if not (math.isfinite(g) and g >= 0) or (g != 1.0 and not self.flow.global_cond):
            raise ConfigError(f"flow.global_gain must be a finite number >= 0, and other than 1 only with "
                              f"flow.global_cond, got {g} (global_cond {self.flow.global_cond})")
        if self.flow.global_cond and self.flow.kind not in ("cfm", "ddpm"):
            raise ConfigError(f"flow.global_cond needs flow.kind cfm or ddpm (a velocity network), got {self.flow.kind!r}")
        if self.flow.unet_blocks < 1 or (self.flow.unet_blocks != 1 and self.flow.net != "unet"):
            raise ConfigError(f"flow.unet_blocks must be at least 1, and other than 1 only with flow.net = unet, got "
                              f"{self.flow.unet_blocks} (net {self.flow.net!r})")
        p = self.encoder.audio_patch
        if self.flow.net == "unet" and p & (p - 1):
            raise ConfigError(f"flow.net = unet needs encoder.audio_patch a power of two, got {p}")
        a = self.alignment
        if a.event_path and not (a.enabled and a.onset_weight > 0):
            raise ConfigError("alignment.event_path needs alignment.enabled and alignment.onset_weight > 0 (it is a "
                              "second onset head's video side)")
        if a.event_fps is not None:
            k = a.event_fps / self.video.fps if math.isfinite(a.event_fps) and a.event_fps > 0 else 0.0
            if not a.event_path or k < 1 or abs(k - round(k)) > 1e-9:
                raise ConfigError(f"alignment.event_fps needs alignment.event_path and a whole multiple of video.fps "
                                  f"({self.video.fps}), got {a.event_fps} (event_path {a.event_path})")
            if round(k) > 1 and self.onset_channel:
                raise ConfigError("alignment.event_fps above video.fps cannot feed the onset channel "
                                  "(alignment.onset_condition > 0), which takes one value per model frame")
            if (self.model_mel_frames // self.video_frames) % round(k):
                raise ConfigError(f"alignment.event_fps {a.event_fps}: the mel frames per video frame "
                                  f"({self.model_mel_frames // self.video_frames}) must divide into its {round(k)} frames")
        for name, v in (("encoder.window_search_stride", self.encoder.window_search_stride),
                        ("alignment.event_search_stride", a.event_search_stride)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {v!r}")
        if a.event_pair and self.event_rate < 2:
            raise ConfigError(f"alignment.event_pair needs alignment.event_fps above video.fps ({self.video.fps}), "
                              f"got {a.event_fps}")
        per_frame = self.model_mel_frames // self.video_frames
        if not 0 <= self.flow.onset_guide_lead < max(1, per_frame):
            raise ConfigError(f"flow.onset_guide_lead must be 0 to {max(1, per_frame) - 1} mel frames (less than one "
                              f"video frame), got {self.flow.onset_guide_lead}")

    # --- derived lengths -------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        """s: audio samples per clip."""
        return round(self.seconds * self.audio.sample_rate)

    @property
    def video_frames(self) -> int:
        """t: video frames per clip."""
        return round(self.seconds * self.video.fps)

    @property
    def event_rate(self) -> int:
        """k: event-path frames per model frame (``alignment.event_fps`` / ``video.fps``; 1 without either)."""
        a = self.alignment
        return 1 if a.event_fps is None else round(a.event_fps / self.video.fps)

    @property
    def event_frames(self) -> int:
        """k t: the event path's frames per clip."""
        return self.video_frames * self.event_rate

    @property
    def mel_frames(self) -> int:
        """Native mel frames per clip (centre-padded STFT: samples // hop + 1, last one dropped)."""
        return self.samples // self.audio.hop_length

    @property
    def model_mel_frames(self) -> int:
        """m: mel frames the model sees (after optional ``audio.time_steps`` resampling)."""
        return self.audio.time_steps if self.audio.time_steps is not None else self.mel_frames

    @property
    def audio_tokens(self) -> int:
        """n: audio tokens per clip."""
        return self.model_mel_frames // self.encoder.audio_patch

    @property
    def onset_channel(self) -> bool:
        """Whether the generator's condition carries the onset head's prediction as an extra channel."""
        a = self.alignment
        return a.enabled and a.onset_weight > 0 and a.onset_condition > 0

    @property
    def cond_dim(self) -> int:
        """dc: size of one condition vector the generator reads (aligned features, plus the onset channel)."""
        return self.encoder.width + int(self.onset_channel)

    @property
    def audio_token_dim(self) -> int:
        """Size of one flattened mel patch: p * f."""
        return self.encoder.audio_patch * self.audio.n_mels

    @property
    def tokens_per_second(self) -> float:
        return self.audio_tokens / self.seconds

    @property
    def key_frames(self) -> int:
        """k: key frames kept per clip."""
        b = self.keyframes.budget
        k = round(b * self.video_frames) if b < 1 else int(b)
        return max(self.keyframes.min_frames, min(k, self.video_frames))

    # --- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        return _build(cls, d, "")

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls.from_dict(json.loads(text))


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Convert a JSON/TOML/CLI value to the annotated field type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError:
                continue  # try the union's next member
        raise ConfigError(f"{where}: cannot read {value!r} as {tp}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return _build(tp, value, where)
    return value


def _build(cls: type, d: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        where = prefix or "config"
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{prefix}{k}") for k, v in d.items()}
    return cls(**kwargs)


def replace_path(cfg: Config, dotted: str, value: Any) -> Config:
    """Return ``cfg`` with ``section.key`` (or a top-level ``key``) set to ``value`` (type-checked)."""
    parts = dotted.split(".")
    if len(parts) not in (1, 2):
        raise ConfigError(f"override key must be 'key' or 'section.key', got {dotted!r}")
    hints = typing.get_type_hints(Config)
    head = parts[0]
    if head not in hints:
        raise ConfigError(f"unknown config key {head!r}; known: {sorted(hints)}")
    if len(parts) == 1:
        return dataclasses.replace(cfg, **{head: _coerce(hints[head], value, dotted)})
    section = getattr(cfg, head)
    if not dataclasses.is_dataclass(section) or isinstance(section, type):
        raise ConfigError(f"{head!r} is not a section")
    sub_hints = typing.get_type_hints(type(section))
    if parts[1] not in sub_hints:
        raise ConfigError(f"unknown key {dotted!r}; {head} has: {sorted(sub_hints)}")
    new_section: Any = dataclasses.replace(section, **{parts[1]: _coerce(sub_hints[parts[1]], value, dotted)})
    return dataclasses.replace(cfg, **{head: new_section})


def apply_overrides(cfg: Config, overrides: list[str] | dict[str, Any]) -> Config:
    """Apply ``["section.key=value", ...]`` or ``{"section.key": value}`` overrides in order."""
    items: list[tuple[str, Any]]
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for o in overrides:
            key, sep, val = o.lstrip("-").partition("=")
            if not sep:
                raise ConfigError(f"override {o!r} must look like section.key=value")
            items.append((key.strip(), val.strip()))
    for key, val in items:
        cfg = replace_path(cfg, key, val)
    return cfg


def load_toml(cfg: Config, path: str | Path) -> Config:
    """Apply a TOML file of ``[section] key = value`` tables (and top-level keys) to ``cfg``."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML ({e})") from None
    flat: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    return apply_overrides(cfg, flat)


def _tiny() -> Config:
    return Config(
        name="tiny",
        seconds=2.0,
        audio=AudioConfig(sample_rate=8000, n_fft=256, win_length=256, hop_length=160, n_mels=32,
                          griffin_lim_iters=8),
        video=VideoConfig(fps=12.5, size=32),
        encoder=EncoderConfig(width=32, video_channels=(8, 16), temporal_layers=1, audio_patch=4),
        alignment=AlignmentConfig(depth=1, heads=2, audio_span=(1, 3), video_clip=(2, 3)),
        flow=FlowConfig(depth=1, heads=2, steps=4, coupling_layers=2, coupling_width=32, ddpm_steps=50),
        train=TrainConfig(warmup_steps=2, max_steps=20, batch_size=4, log_every=1, val_every=10,
                          sample_every=10, ckpt_every=10, ema_decay=0.9),
    )


def _small() -> Config:
    # The built-in CPU model. Sizes chosen so the whole recipe (render, extract, train) fits ~90 min on
    # 2 cores (docs/training.md): conv stem (16, 32, 64) encodes 8 s of 12.5 fps 64x64 video in ~0.05 s
    # on one core; width 128 alignment; a 192-wide velocity net; 8 Euler steps by default
    # (benchmarks/generate.py measures the real-time factor at 4-25 steps). The conv U-Net velocity
    # network replaced the token transformer, the local-motion video encoder (3 temporal layers) the
    # conv stem, and the onset target (weight 10) and onset guidance in sampling (scale 2) were added,
    # after docs/sync-diagnosis.md; the guide is "sharp" (lead 0) since part 30, height 1.6 since part 31.
    return Config(
        name="small",
        encoder=EncoderConfig(width=128, video="motion", video_channels=(16, 32, 64), temporal_layers=3),
        alignment=AlignmentConfig(depth=3, heads=4, mlp_ratio=2.0, onset_weight=10.0),
        flow=FlowConfig(width=192, depth=2, heads=4, steps=8, net="unet", onset_guidance=2.0, onset_guide="sharp",
                        onset_peak_height=1.6, onset_guide_lead=0),
        train=TrainConfig(batch_size=16, warmup_steps=100, max_steps=1500, ema_decay=0.995, log_every=10,
                          val_every=250, sample_every=500, ckpt_every=100, keep_last=2),
    )


def _paper() -> Config:
    # 8 kHz, 50 ms window (400 samples), 25 ms hop (200 samples): 400 native frames per 10 s clip,
    # resampled to 128 time steps (docs/paper-notes.md). 224x224 frames; the paper does not give a
    # frame rate, we read 8 fps (the rate most V2A work samples at). 12 coupling layers, width 512.
    return Config(
        name="paper",
        seconds=10.0,
        audio=AudioConfig(sample_rate=8000, n_fft=512, win_length=400, hop_length=200, n_mels=128,
                          time_steps=128),
        video=VideoConfig(fps=8.0, size=224),
        encoder=EncoderConfig(width=768, video_channels=(64, 128, 256, 512), temporal_layers=2,
                              audio_patch=1),
        alignment=AlignmentConfig(depth=12, heads=12, audio_span=(4, 16), video_clip=(2, 8)),
        flow=FlowConfig(depth=12, heads=12, coupling_layers=12, coupling_width=512, steps=25),
        train=TrainConfig(warmup_steps=5000, max_steps=300_000, batch_size=128, precision="bf16",
                          ema_decay=0.9999, num_workers=8, log_every=50, val_every=5000,
                          sample_every=10_000, ckpt_every=5000),
    )


PRESETS: dict[str, typing.Callable[[], Config]] = {"tiny": _tiny, "small": _small, "paper": _paper}


def get_preset(name: str) -> Config:
    """Return the named preset (``tiny``, ``small``, ``paper``)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
