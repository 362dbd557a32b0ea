"""OpenFoley's own evaluator networks: an audio classifier/embedder (KLD, FAD) and a sync classifier
(Align Acc). Trained apart from the generator and never on generated audio (``train_evaluators``).

``AudioClassifier``: log-mel (b, f, m) -> ``AudioOutput(logits (b, C), embedding (b, d))``. A small
CNN (per-bin input batch norm; conv-BN-ReLU stages, each ending in a 2x2 average pool; channels and
the remaining frequency rows flattened into features, then max + mean over time) -> linear
embedding (d) -> ReLU -> class logits.
Trained on every class of the sound bank (test-open classes too, the way VGGish and PaSST saw all of
AudioSet). Any clip length of at least ``min_frames`` works: class probabilities for KLD come from the
whole clip, and FAD embeddings from non-overlapping windows of ``fad_window`` seconds pooled over all
clips of a side (VGGish's 0.96 s patches play the same role in the literature protocol).

``SyncClassifier``: frames (b, t, 3, H, W) + log-mel (b, f, m) of the same window -> logit (b,) of
"audio and video are in sync" (the Diff-Foley protocol). It asks *where in the picture* something
happens *when* the sound has an onset, SyncNet-style, through a fixed front end and a small learned
temporal network:
- video: grey frames (average-pooled to ``frame_size``), absolute differences of consecutive frames
  averaged over a ``grid`` x ``grid`` grid of cells, log, minus each cell's mean over the window
  (transients stand out of steady drift and shake) -> motion (b, c = g*g, t); one 1-d temporal conv
  stack shared by all cells -> (b, c, k, t);
- audio: the log-mel and its positive flux (onsets), pooled to the t video frames (mean and max), per
  channel batch norm, 1-d convs over time -> (b, k, t);
- correlation of every cell's features with the audio's at lags -L..L frames -> (b, c, 2L+1); max and
  mean over cells -> (b, 2 (2L+1)); a small MLP -> logit. In-sync pairs peak at lag 0; shifted or
  swapped audio does not.
(A first design, a strided conv stack over whole frames with global pooling and concatenation fusion,
stayed at chance on FoleyWorld, and so did concatenation fusion over the motion grid: the sounding object
is small and the rest of the picture moves too, so the network needs the per-cell, per-lag comparison
built in; docs/evaluation.md.) It runs on windows of ``window`` seconds; a clip's score is the sigmoid of
the mean logit over windows with hop window / 2 (``sync_clip_score``).

Weights folder (one per network): ``model.safetensors``, ``config.json`` (the frozen config below),
``meta.json`` (format, kind, training report such as held-out accuracies, class names). The version
string ``{kind}-v{FORMAT}-{sha256(weights)[:12]}`` names a trained evaluator exactly; results record it.

Shapes (package alphabet): b batch, t video frames, m mel frames, f mel bins, s samples, d width,
C classes, N windows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from openfoley import __version__
from openfoley.checkpoint import load_state_into, write_weights_folder
from openfoley.config import AudioConfig, get_preset
from openfoley.errors import ModelError
from openfoley.features.mel import log_mel

FORMAT = 1
WEIGHTS_FILE, CONFIG_FILE, META_FILE = "model.safetensors", "config.json", "meta.json"
AUDIO_DIR, SYNC_DIR = "audio", "sync"  # sub-folders of an evaluators folder
BUILTIN_DIR = Path(__file__).resolve().parents[1] / "assets" / "evaluators"


def _small_audio() -> AudioConfig:
    return get_preset("small").audio


# ---------------------------------------------------------------------------------------------------
# Configs


@dataclass(frozen=True)
class AudioClassifierConfig:
    """The audio classifier: its mel front end, its classes and its size."""

    audio: AudioConfig = field(default_factory=_small_audio)
    classes: tuple[str, ...] = ()
    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 64  # d: 64 keeps FAD's covariance estimable from a few hundred windows
    dropout: float = 0.2
    fad_window: float = 1.0  # seconds per FAD embedding window

    @property
    def min_frames(self) -> int:
        """Shortest mel input: one frame left after the 2x2 pools."""
        return 2 ** len(self.channels)

    @property
    def window_frames(self) -> int:
        return max(self.min_frames, round(self.fad_window * self.audio.mel_fps))


@dataclass(frozen=True)
class SyncConfig:
    """The sync classifier: the video grid and mel it reads (those of the training feature store)."""

    audio: AudioConfig = field(default_factory=_small_audio)
    fps: float = 12.5
    size: int = 64  # frames read at size x size (``resize`` as in VideoConfig)
    resize: str = "crop"
    window: float = 4.0  # seconds per scored window
    frame_size: int = 64  # frames average-pooled to this size before differencing
    grid: int = 8  # motion is averaged over grid x grid cells (c = grid ** 2)
    width: int = 64  # d, the audio network's hidden width
    k: int = 16  # features per time step that video cells and audio are correlated on
    lags: int = 4  # L: correlations at -L..L video frames

    @property
    def window_frames(self) -> int:
        """t per window."""
        return max(1, round(self.window * self.fps))

    @property
    def mel_per_frame(self) -> float:
        return self.audio.mel_fps / self.fps

    @property
    def window_mels(self) -> int:
        """m per window."""
        return max(1, round(self.window_frames * self.mel_per_frame))


def config_to_dict(cfg) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _from_dict(cls, d: dict[str, Any], where: str):
    """Rebuild a config dataclass (nested AudioConfig, lists back to tuples); ModelError on mismatch."""
    try:
        kwargs = {}
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(d) - set(names)
        if unknown:
            raise TypeError(f"unknown keys {sorted(unknown)}")
        for k, v in d.items():
            if k == "audio":
                v = AudioConfig(**v)
            elif isinstance(v, list):
                v = tuple(v)
            kwargs[k] = v
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ModelError(f"{where}: config does not match this version of OpenFoley ({e})") from None


# ---------------------------------------------------------------------------------------------------
# Networks


@dataclass
class AudioOutput:
    logits: torch.Tensor  # (b, C)
    embedding: torch.Tensor  # (b, d)


class AudioClassifier(nn.Module):
    """log-mel (b, f, m), m >= ``cfg.min_frames`` -> AudioOutput(logits (b, C), embedding (b, d))."""

    def __init__(self, cfg: AudioClassifierConfig):
        super().__init__()
        if not cfg.classes:
            raise ValueError("AudioClassifierConfig.classes is empty")
        self.cfg = cfg
        self.norm = nn.BatchNorm1d(cfg.audio.n_mels)  # per mel bin (PANNs' bn0)
        layers: list[nn.Module] = []
        c_in = 1
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.AvgPool2d(2)]
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.drop = nn.Dropout(cfg.dropout)
        self.embed = nn.Linear(2 * c_in * (cfg.audio.n_mels // cfg.min_frames), cfg.embed_dim)
        self.head = nn.Linear(cfg.embed_dim, len(cfg.classes))

    def forward(self, mel: torch.Tensor) -> AudioOutput:
        cfg = self.cfg
        assert mel.dim() == 3 and mel.shape[1] == cfg.audio.n_mels and mel.shape[2] >= cfg.min_frames, (
            f"AudioClassifier: expected (b, {cfg.audio.n_mels}, m >= {cfg.min_frames}), got {tuple(mel.shape)}")
        x = self.norm(mel)[:, None]  # (b, 1, f, m)
        x = self.convs(x).flatten(1, 2)  # (b, c * f', m'): frequency stays in the features
        x = torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)  # (b, 2 c f')
        emb = self.embed(self.drop(x))  # (b, d)
        return AudioOutput(logits=self.head(self.drop(F.relu(emb))), embedding=emb)


class SyncClassifier(nn.Module):
    """frames (b, t, 3, H, W) uint8 or [0, 1] float + log-mel (b, f, m) -> in-sync logits (b,)."""

    def __init__(self, cfg: SyncConfig):
        super().__init__()
        self.cfg = cfg
        d, k, f, n_lag = cfg.width, cfg.k, cfg.audio.n_mels, 2 * cfg.lags + 1
        self.video = nn.Sequential(nn.Conv1d(2, k, 3, padding=1), nn.ReLU(),
                                   nn.Conv1d(k, k, 3, padding=1))
        self.audio_norm = nn.BatchNorm1d(2 * f)
        self.audio = nn.Sequential(nn.Conv1d(2 * f, d, 3, padding=1), nn.ReLU(),
                                   nn.Conv1d(d, k, 3, padding=1))
        self.head = nn.Sequential(nn.Linear(2 * n_lag, d), nn.ReLU(), nn.Linear(d, 1))

    def motion(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (b, t, 3, H, W) -> per-cell motion, centred over time, and its change (b, c, 2, t)."""
        cfg = self.cfg
        x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
        grey = x.mean(dim=2)  # (b, t, H, W)
        if grey.shape[-1] != cfg.frame_size or grey.shape[-2] != cfg.frame_size:
            grey = F.adaptive_avg_pool2d(grey, cfg.frame_size)
        diff = (grey[:, 1:] - grey[:, :-1]).abs()  # (b, t-1, S, S)
        cells = torch.log(F.adaptive_avg_pool2d(diff, cfg.grid).flatten(2) + 1e-3).transpose(1, 2)  # (b, c, t-1)
        cells = F.pad(cells, (1, 0), mode="replicate")  # (b, c, t): frame i's motion is i-1 -> i
        cells = cells - cells.mean(dim=2, keepdim=True)
        change = F.pad(cells[:, :, 1:] - cells[:, :, :-1], (1, 0))  # (b, c, t)
        return torch.stack([cells, change], dim=2)  # (b, c, 2, t)

    def onsets(self, mel: torch.Tensor, t: int) -> torch.Tensor:
        """log-mel (b, f, m) -> mel level (mean) and positive flux (max) per video frame (b, 2f, t)."""
        mel = mel.float()
        flux = F.pad((mel[:, :, 1:] - mel[:, :, :-1]).clamp(min=0), (1, 0))  # (b, f, m)
        return torch.cat([F.adaptive_avg_pool1d(mel, t), F.adaptive_max_pool1d(flux, t)], dim=1)

    def forward(self, frames: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        assert frames.dim() == 5 and frames.shape[2] == 3 and frames.shape[1] >= 2, (
            f"SyncClassifier: frames {tuple(frames.shape)}")
        assert mel.dim() == 3 and mel.shape[0] == frames.shape[0] and mel.shape[1] == cfg.audio.n_mels, (
            f"SyncClassifier: mel {tuple(mel.shape)} vs frames {tuple(frames.shape)}")
        b, t = frames.shape[:2]
        m = self.motion(frames)  # (b, c, 2, t)
        c = m.shape[1]
        v = self.video(m.flatten(0, 1)).view(b, c, cfg.k, t)  # (b, c, k, t)
        a = self.audio(self.audio_norm(self.onsets(mel, t)))  # (b, k, t)
        a = F.pad(a, (cfg.lags, cfg.lags))  # (b, k, t + 2L)
        corr = torch.stack([torch.einsum("bckt,bkt->bc", v, a[:, :, j:j + t]) for j in range(2 * cfg.lags + 1)],
                           dim=2) / (t * cfg.k)  # (b, c, 2L+1): lag j - L
        h = torch.cat([corr.amax(dim=1), corr.mean(dim=1)], dim=1)  # (b, 2 (2L+1))
        return self.head(h).squeeze(1)  # (b,)


# ---------------------------------------------------------------------------------------------------
# Applying the networks to whole clips


def pad_mel(mel: torch.Tensor, frames: int, cfg: AudioConfig) -> torch.Tensor:
    """Right-pad (..., f, m) with silence (the log floor) to at least ``frames`` frames."""
    if mel.shape[-1] >= frames:
        return mel
    return F.pad(mel, (0, frames - mel.shape[-1]), value=math.log(cfg.log_floor))


def wav_to_mel(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """(s,) waveform -> (f, m) log-mel; waveforms too short for one STFT frame become one silent frame."""
    if wav.shape[-1] <= cfg.n_fft // 2:
        wav = F.pad(wav, (0, cfg.n_fft // 2 + 1 - wav.shape[-1]))
    return log_mel(wav.float(), cfg)


@torch.no_grad()
def audio_clip_outputs(net: AudioClassifier, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One clip's waveform (s,) at ``net.cfg.audio.sample_rate`` -> (class probabilities (C,),
    window embeddings (N, d)): probabilities of the whole clip; embeddings of its non-overlapping
    ``fad_window`` windows (a partial last window is kept if at least half a window, else dropped
    unless it is the only one)."""
    cfg = net.cfg
    assert wav.dim() == 1, f"audio_clip_outputs: expected (s,), got {tuple(wav.shape)}"
    was = net.training
    net.eval()
    mel = pad_mel(wav_to_mel(wav, cfg.audio), cfg.min_frames, cfg.audio)  # (f, m)
    probs = net(mel[None]).logits.softmax(dim=-1)[0]  # (C,)
    w = cfg.window_frames
    m = mel.shape[-1]
    starts = [s for s in range(0, m, w) if m - s >= w // 2] or [0]
    wins = torch.stack([pad_mel(mel[:, s:s + w], w, cfg.audio) for s in starts])  # (N, f, w)
    emb = net(wins).embedding  # (N, d)
    net.train(was)
    return probs, emb


def sync_windows(frames: torch.Tensor, mel: torch.Tensor, cfg: SyncConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a clip (frames (t, 3, H, W), mel (f, m)) into windows with hop window / 2:
    -> (N, tw, 3, H, W), (N, f, mw). Clips shorter than a window hold their last frame and are padded
    with silence; the last window is aligned to the clip's end so no content is left out."""
    tw, mw = cfg.window_frames, cfg.window_mels
    t = frames.shape[0]
    if t < tw:
        frames = torch.cat([frames, frames[-1:].expand(tw - t, *frames.shape[1:])])
    mel = pad_mel(mel, max(mw, round(frames.shape[0] * cfg.mel_per_frame)), cfg.audio)
    t = frames.shape[0]
    hop = max(1, tw // 2)
    starts = list(range(0, t - tw + 1, hop))
    if starts[-1] != t - tw:
        starts.append(t - tw)
    fw, mwins = [], []
    for s in starts:
        a = min(round(s * cfg.mel_per_frame), mel.shape[-1] - mw)
        fw.append(frames[s:s + tw])
        mwins.append(mel[:, a:a + mw])
    return torch.stack(fw), torch.stack(mwins)


@torch.no_grad()
def sync_clip_score(net: SyncClassifier, frames: torch.Tensor, mel: torch.Tensor) -> float:
    """Probability that a clip's audio is in sync with its video: sigmoid of the mean window logit.
    frames (t, 3, H, W) at ``cfg.fps`` / ``cfg.size``; mel (f, m) at ``cfg.audio``, same span."""
    assert frames.dim() == 4 and mel.dim() == 2, (
        f"sync_clip_score: frames {tuple(frames.shape)}, mel {tuple(mel.shape)}")
    was = net.training
    net.eval()
    fw, mw = sync_windows(frames, mel, net.cfg)
    logit = net(fw, mw).mean()
    net.train(was)
    return float(torch.sigmoid(logit))


# ---------------------------------------------------------------------------------------------------
# Weights folders


def save_evaluator(folder: str | Path, net: nn.Module, meta: dict[str, Any] | None = None) -> str:
    """Write ``net`` (AudioClassifier or SyncClassifier) to ``folder`` atomically; returns its version."""
    kind = _kind(net)
    full = {"format": FORMAT, "kind": kind, "openfoley_version": __version__, **(meta or {})}
    write_weights_folder(folder, net.state_dict(), config_to_dict(net.cfg), full, weights_file=WEIGHTS_FILE,
                         config_file=CONFIG_FILE, meta_file=META_FILE)
    return weights_version(folder, kind)


def _kind(net: nn.Module) -> str:
    if isinstance(net, AudioClassifier):
        return "audio"
    if isinstance(net, SyncClassifier):
        return "sync"
    raise TypeError(f"not an evaluator network: {type(net).__name__}")


def weights_version(folder: str | Path, kind: str) -> str:
    digest = hashlib.sha256(Path(folder, WEIGHTS_FILE).read_bytes()).hexdigest()[:12]
    return f"{kind}-v{FORMAT}-{digest}"


def _load(folder: str | Path, kind: str) -> tuple[nn.Module, dict[str, Any], str]:
    folder = Path(folder)
    for name in (WEIGHTS_FILE, CONFIG_FILE, META_FILE):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: not a {kind} evaluator folder (missing {name}); train one with "
                             f"`openfoley evaluators train`")
    try:
        meta = json.loads((folder / META_FILE).read_text())
        cfg_dict = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{folder}: meta.json or config.json is not valid JSON ({e.msg})") from None
    if meta.get("kind") != kind:
        raise ModelError(f"{folder}: holds a {meta.get('kind')!r} evaluator, expected {kind!r}")
    if meta.get("format", FORMAT) > FORMAT:
        raise ModelError(f"{folder}: evaluator format {meta['format']} is newer than this OpenFoley ({FORMAT})")
    if kind == "audio":
        net: nn.Module = AudioClassifier(_from_dict(AudioClassifierConfig, cfg_dict, str(folder / CONFIG_FILE)))
    else:
        net = SyncClassifier(_from_dict(SyncConfig, cfg_dict, str(folder / CONFIG_FILE)))
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ModelError(f"{folder / WEIGHTS_FILE}: unreadable weights ({e})") from None
    load_state_into(net, state, str(folder / WEIGHTS_FILE))
    return net.eval(), meta, weights_version(folder, kind)


@dataclass
class Evaluators:
    """Both evaluator networks, their training reports (``*_meta``) and version strings."""

    audio: AudioClassifier
    sync: SyncClassifier | None  # None: no sync classifier shipped/trained (Align Acc not computed)
    audio_meta: dict[str, Any]
    sync_meta: dict[str, Any]
    versions: dict[str, str]


def load_evaluators(folder: str | Path | None = None) -> Evaluators:
    """Load ``folder/audio`` and ``folder/sync`` (default: the shipped ``assets/evaluators``).

    ``sync`` may be absent: the sync classifier ships only when it passes its held-out check, and
    without it Align Acc is reported as unavailable rather than computed with a network at chance."""
    root = Path(folder) if folder is not None else BUILTIN_DIR
    if not root.is_dir():
        hint = " (no evaluator weights are shipped in this install)" if folder is None else ""
        raise ModelError(f"{root}: evaluators folder not found{hint}; train them with "
                         f"`openfoley evaluators train --bank BANK --store STORE --out DIR`")
    audio, a_meta, a_ver = _load(root / AUDIO_DIR, "audio")
    assert isinstance(audio, AudioClassifier)
    sync: SyncClassifier | None = None
    if (root / SYNC_DIR).exists():
        net, s_meta, s_ver = _load(root / SYNC_DIR, "sync")
        assert isinstance(net, SyncClassifier)
        sync = net
    else:  # an audio-only evaluators folder: FAD, KLD and onsets, no Align Acc
        s_meta, s_ver = {}, "none"
    return Evaluators(audio, sync, a_meta, s_meta, {"audio": a_ver, "sync": s_ver})


def evaluators_available(folder: str | Path | None = None) -> bool:
    root = Path(folder) if folder is not None else BUILTIN_DIR
    return (root / AUDIO_DIR / WEIGHTS_FILE).is_file()


__all__ = [
    "AudioClassifier", "AudioClassifierConfig", "AudioOutput", "BUILTIN_DIR", "Evaluators", "SyncClassifier",
    "SyncConfig", "audio_clip_outputs", "evaluators_available", "load_evaluators", "pad_mel", "save_evaluator",
    "sync_clip_score", "sync_windows", "wav_to_mel", "weights_version",
]
