"""FoleyModel: encoders + MMA alignment + key frames + generator, assembled from one ``Config``.

Training (Algorithm 1, one call of ``forward``):

    frames (b, t, 3, H, W) uint8 ──video encoder──┐
    mel (b, f, m_native) ──normalise, resample──> mel_model (b, f, m)
         ├─ MMA (alignment.enabled): masks -> masked prediction both ways -> L_mask = L_audio + L_video
         │                            aligned video features (b, t, d) from the unmasked video
         ├─ key frames: saliency on the raw frames -> k indices and their true times
         └─ condition: tokens = aligned features at each audio token's instant (b, n, dc),
                       keys = aligned features of the key frames (b, k, dc); dc = d, or d + 1 with
                       the onset head's prediction as an extra channel (alignment.onset_condition);
                       with encoder.appearance = "cnn", plus appearance_proj of what each frame shows
    latent x1 = patchify(mel_model) (b, n, p*f) ──generator.loss(x1, cond)──> L_flow

With ``alignment.enabled = False`` ("w/o MMA"), the aligned features are the video encoder's own
output and L_mask is 0. ``flow.kind`` selects the generator (cfm | coupling | nf | ddpm).

Generation (``generate``): the same condition from frames alone, ``generator.sample`` -> x1 ->
unpatchify -> de-normalise -> resample to native frames -> log-mel (b, f, m_native), ready for a
vocoder. The normalisation (per-mel-bin mean/std of the training log-mels) is stored as buffers, so
it travels inside the weights file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openfoley.alignment.event_path import EventPath, mix_coarse
from openfoley.alignment.keyframes import KeyFrames, gather, key_frames
from openfoley.alignment.masks import sample_masks
from openfoley.alignment.mma import MMA, mel_flux, onset_target, run_mma, sharp_guide_target
from openfoley.config import Config
from openfoley.encoders import build_audio_encoder, build_video_encoder
from openfoley.encoders.appearance import AppearanceEncoder
from openfoley.encoders.video import as_unit_frames, default_times
from openfoley.errors import ConfigError, ModelError
from openfoley.features.mel import resample_time
from openfoley.flow import FlowCondition, FlowLoss, build_generator
from openfoley.nn.patches import patchify, unpatchify


@dataclass
class Batch:
    """A training batch: frames (b, t, 3, H, W) uint8, mel (b, f, m_native) float32 log-mel, clip ids."""

    frames: Tensor
    mel: Tensor
    ids: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.frames.to(device), self.mel.to(device), self.ids)


@dataclass
class ModelOutput:
    """Loss terms of one batch: the masked-prediction losses (scalars; zero without MMA) and the
    generator's own ``FlowLoss`` (its scalar ``loss`` and per-flow-time-bin ``per_bin``)."""

    loss_mask: Tensor
    loss_mask_audio: Tensor
    loss_mask_video: Tensor
    flow: FlowLoss
    loss_onset: Tensor | None = None  # the onset target's loss, when alignment.onset_weight > 0


@dataclass
class VideoCondition:
    """A window's video condition: ``flow``, what the generator is conditioned on, plus what made it
    (the aligned features, key frames and frame times, for plots and inspection)."""

    flow: FlowCondition
    aligned: Tensor  # (b, t, d)
    keys: KeyFrames
    times: Tensor  # (b, t) seconds of the frames
    # (b, k t) the onset track (the event path's, else the onset head's), for models that have one; k =
    # ``cfg.event_rate`` values per frame (1 unless alignment.event_fps reads frames of its own)
    onset: Tensor | None = None


ONSET_GUIDES = ("soft", "peaks", "sharp")  # flow.onset_guide


class FoleyModel(nn.Module):
    mel_mean: Tensor  # buffers: per-mel-bin latent statistics (f,), and whether they have been set
    mel_std: Tensor
    stats_ready: Tensor

    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.flow.onset_guide not in ONSET_GUIDES:
            raise ConfigError(f"flow.onset_guide must be one of {ONSET_GUIDES}, got {cfg.flow.onset_guide!r}")
        self.cfg = cfg
        self.video_encoder = build_video_encoder(cfg)
        self.mma = MMA(cfg) if cfg.alignment.enabled else None
        # the onset track's own video side (alignment.event_path); built only when on, so other weights
        # keep their exact state-dict keys
        self.event_path = EventPath(cfg) if cfg.alignment.event_path else None
        if self.event_path is not None and cfg.event_rate > 1:
            # a path reading frames of its own (alignment.event_fps) is trained by scripts/fit-event-path.py;
            # training batches hold the model's frames only, so `openfoley train` keeps it as it is
            self.event_path.requires_grad_(False)
        # alignment.event_pair: a second, frozen event path at the model's own rate beside that one; the
        # track is the mean of both (``onset_track``)
        self.coarse_event_path = EventPath(replace(cfg, alignment=replace(cfg.alignment, event_fps=None,
                                                                           event_pair=False,
                                                                           event_search_stride=None))) \
            if cfg.alignment.event_pair else None
        if self.coarse_event_path is not None:
            self.coarse_event_path.requires_grad_(False)
        self.audio_encoder = build_audio_encoder(cfg) if cfg.alignment.enabled else None
        self.generator = build_generator(cfg)
        self.appearance: AppearanceEncoder | None = None
        self.appearance_proj: nn.Linear | None = None
        if cfg.encoder.appearance == "cnn":
            e = cfg.encoder
            self.appearance = AppearanceEncoder(e.appearance_channels, e.appearance_dim, e.appearance_stride)
            self.appearance_proj = nn.Linear(e.appearance_dim, cfg.cond_dim)
            nn.init.zeros_(self.appearance_proj.weight)  # a joined path changes nothing until trained
            nn.init.zeros_(self.appearance_proj.bias)
            if not e.appearance_train:
                self.appearance.requires_grad_(False)
        f = cfg.audio.n_mels
        self.register_buffer("mel_mean", torch.zeros(f))
        self.register_buffer("mel_std", torch.ones(f))
        self.register_buffer("stats_ready", torch.zeros((), dtype=torch.bool))

    # --- latent space ----------------------------------------------------------------------------
    def needs_stats(self) -> bool:
        return not bool(self.stats_ready)

    @torch.no_grad()
    def set_latent_stats(self, mean: Tensor, std: Tensor) -> None:
        """Per-mel-bin mean/std (f,) of the training log-mels (normalises the flow's latent space)."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)
        self.stats_ready.fill_(True)

    def model_mel(self, mel: Tensor) -> Tensor:
        """log-mel (b, f, m_native) -> normalised (b, f, m) at the model's time resolution."""
        c = self.cfg
        if mel.dim() != 3 or mel.shape[1] != c.audio.n_mels or mel.shape[2] != c.mel_frames:
            raise ValueError(f"mel must be (b, f={c.audio.n_mels}, m={c.mel_frames}), got {tuple(mel.shape)}")
        x = (mel - self.mel_mean[:, None]) / self.mel_std[:, None]
        if c.audio.time_steps is not None:
            x = resample_time(x, c.audio.time_steps)
        return x

    def native_mel(self, x: Tensor) -> Tensor:
        """Inverse of ``model_mel``: (b, f, m) -> log-mel (b, f, m_native)."""
        if self.cfg.audio.time_steps is not None:
            x = resample_time(x, self.cfg.mel_frames)
        return x * self.mel_std[:, None] + self.mel_mean[:, None]

    # --- conditioning ----------------------------------------------------------------------------
    def _check_frames(self, frames: Tensor) -> None:
        c = self.cfg
        if frames.dim() != 5 or frames.shape[2] != 3 or frames.shape[-1] != c.video.size:
            raise ValueError(f"frames must be (b, t, 3, {c.video.size}, {c.video.size}), got {tuple(frames.shape)}")

    def predicted_onset(self, aligned: Tensor) -> Tensor | None:
        """aligned (b, t, d) -> the onset head's prediction (b, t), detached; None without an onset head."""
        if self.mma is None or self.mma.onset_head is None:
            return None
        return self.mma.onset_head(aligned)[..., 0].detach()

    def onset_track(self, frames: Tensor, aligned: Tensor | None, times: Tensor | None = None,
                    event_frames: Tensor | None = None) -> Tensor | None:
        """The video's onset track, detached, from frames (b, t, 3, H, W) and their aligned features
        (b, t, d): the event path's (``alignment.event_path``) when there is one, else the onset head's
        (``predicted_onset``); None without either. Its peaks are the events onset guidance pulls to.
        ``aligned`` may be None for a model with an event path (which does not read it).

        With ``alignment.event_fps`` at k = ``cfg.event_rate`` > 1 times the model's rate, the event path
        reads ``event_frames`` (b, k t, 3, H, W) of the same span instead and the track is (b, k t), its
        frames timed on the finer grid from where ``times`` starts (frame centres); otherwise (b, t) and
        ``event_frames`` is not read. With ``alignment.event_pair`` too, the track is the mean of that one
        and the coarse path's on ``frames`` (b, t), linearly interpolated to the fine frames' centres
        (``mix_coarse``)."""
        if self.event_path is None:
            if aligned is None:
                raise ValueError("a model without an event path reads the onset track from the aligned features")
            return self.predicted_onset(aligned)
        k = self.cfg.event_rate
        if k == 1:
            return self.event_path(frames, times).detach()
        b, t = frames.shape[:2]
        if event_frames is None or event_frames.shape[:2] != (b, k * t):
            got = "none" if event_frames is None else tuple(event_frames.shape)
            raise ValueError(f"this model's event path reads its own frames at {self.event_path.fps:g} fps: "
                             f"give event_frames (b={b}, {k * t}, 3, H, W), got {got}")
        self._check_frames(event_frames)
        ev_times = default_times(event_frames, self.event_path.fps)  # (b, k t) from 0
        if times is not None:  # the same clock as the model's frames: shifted by their first frame's start
            ev_times = ev_times + (times[:, :1] - 0.5 / self.cfg.video.fps).to(ev_times.dtype)
        fine = self.event_path(as_unit_frames(event_frames), ev_times).detach()
        if self.coarse_event_path is None:
            return fine
        return mix_coarse(fine, self.coarse_event_path(frames, times).detach())

    def condition_features(self, aligned: Tensor, onset: Tensor | None) -> Tensor:
        """aligned (b, t, d) -> what the generator is conditioned on per frame, (b, t, dc).

        The aligned features themselves, or (``cfg.onset_channel``) with ``onset`` (b, t), the onset
        head's detached prediction (``predicted_onset``), appended as one more channel scaled by
        ``alignment.onset_condition``: the generator reads the video's estimate of when sound starts
        without reshaping it.
        """
        if not self.cfg.onset_channel:
            return aligned
        assert onset is not None  # cfg.onset_channel implies an onset head
        channel = onset[..., None] * self.cfg.alignment.onset_condition  # (b, t, 1)
        return torch.cat([aligned, channel.to(aligned.dtype)], -1)

    def flow_condition(self, frames: Tensor, aligned: Tensor, times: Tensor, n: int,
                       event_frames: Tensor | None = None, track: bool = True) -> VideoCondition:
        """aligned (b, t, d) + raw frames -> FlowCondition for n audio tokens (vectors of cfg.cond_dim);
        ``event_frames`` and ``track`` as in ``video_condition``."""
        kf = key_frames(saliency_frames(frames), times, self.cfg)
        # (b, k t) or None, once for the channel (k = 1 only) and for guidance
        onset = self.onset_track(frames, aligned, times, event_frames) if track or self.cfg.onset_channel else None
        feats = self.condition_features(aligned, onset)  # (b, t, dc)
        if self.appearance is not None:
            assert self.appearance_proj is not None
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.cfg.encoder.appearance_train):
                look = self.appearance(as_unit_frames(frames))  # (b, t, e)
            feats = feats + self.appearance_proj(look)  # what is there, added to every frame's condition
        keys = gather(feats, kf.indices)  # (b, k, dc)
        # per-token condition: the features linearly interpolated to the token centres. Frames and
        # tokens both sit at interval centres, so F.interpolate(align_corners=False) lines them up.
        tokens = F.interpolate(feats.transpose(1, 2), size=n, mode="linear", align_corners=False)
        tokens = tokens.transpose(1, 2)  # (b, n, dc)
        cond = FlowCondition(tokens=tokens, keys=keys, key_times=kf.times.to(tokens.dtype),
                             key_mask=torch.ones(kf.indices.shape, dtype=torch.bool, device=frames.device))
        return VideoCondition(flow=cond, aligned=aligned, keys=kf, times=times, onset=onset)

    def align(self, frames: Tensor, times: Tensor | None = None) -> Tensor:
        """Aligned video features (b, t, d) from frames alone (inference path)."""
        self._check_frames(frames)
        if times is None:
            times = default_times(frames, self.cfg.video.fps)
        feats = self.video_encoder(frames, times).features
        if self.mma is None:
            return feats
        return self.mma.align(feats, times)

    # --- training --------------------------------------------------------------------------------
    def forward(self, batch: Batch, generator: torch.Generator) -> ModelOutput:
        # an event path at alignment.event_fps (k > 1) reads frames the batch does not hold: it is frozen
        # (see __init__) and gets no loss. The condition is built without the track (track=False): the loss
        # reads only its flow part, which holds the track only through the onset channel (k = 1 only), and
        # flow_condition computes it for that channel anyway
        own_rate = self.cfg.event_rate == 1
        frames, mel = batch.frames, batch.mel
        self._check_frames(frames)
        frames = as_unit_frames(frames)  # once: the encoder, the MMA pixel target and saliency all read it
        b, t = frames.shape[:2]
        x = self.model_mel(mel)  # (b, f, m)
        p = self.cfg.encoder.audio_patch
        n = x.shape[-1] // p
        times = default_times(frames, self.cfg.video.fps)
        zero = x.new_zeros(())
        if self.mma is not None:
            assert self.audio_encoder is not None  # built together with the MMA
            masks = sample_masks(b, n, t, self.cfg.alignment, generator, device=frames.device)
            out = run_mma(self.mma, self.video_encoder, self.audio_encoder, frames, x, masks, times)
            assert out.aligned is not None  # run_mma always returns the aligned features
            aligned, l_a, l_v = out.aligned, out.loss_audio, out.loss_video
        else:
            aligned, l_a, l_v = self.video_encoder(frames, times).features, zero, zero
        cond = self.flow_condition(frames, aligned, times, n, track=False).flow
        x1 = patchify(x, p)  # (b, n, p*f)
        flow = self.generator.loss(x1, cond, generator)
        onset = None
        if self.mma is not None and self.mma.onset_head is not None:
            onset = self.mma.onset_loss(aligned, x)
            if self.event_path is not None and own_rate:  # the same target, through the path's own video side
                onset = onset + self.event_path.loss(frames, x, times)
        return ModelOutput(loss_mask=l_a + l_v, loss_mask_audio=l_a, loss_mask_video=l_v, flow=flow,
                           loss_onset=onset)

    # --- generation ------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, frames: Tensor, generator: torch.Generator, steps: int | None = None,
                 solver: str | None = None, cfg_scale: float | None = None,
                 times: Tensor | None = None, event_frames: Tensor | None = None) -> tuple[Tensor, VideoCondition]:
        """frames (b, t, 3, H, W) uint8 of one model window -> log-mel (b, f, m_native) and its condition
        (``event_frames`` as ``onset_track``).

        The three stages (``video_condition``, ``sample_latent``, ``latent_to_mel``) are public so the
        pipeline can time them and carry latents across windows without repeating them.
        """
        if frames.shape[1] != self.cfg.video_frames:
            raise ValueError(f"generate takes windows of {self.cfg.video_frames} frames, got {frames.shape[1]}")
        c = self.video_condition(frames, times, event_frames)
        x1 = self.sample_latent(c, generator, steps=steps, solver=solver, cfg_scale=cfg_scale)
        return self.latent_to_mel(x1), c

    @torch.no_grad()
    def video_condition(self, frames: Tensor, times: Tensor | None = None,
                        event_frames: Tensor | None = None, track: bool = True) -> VideoCondition:
        """frames (b, t, 3, H, W) -> the generator's condition for ``cfg.audio_tokens`` tokens;
        ``event_frames`` (b, k t, 3, H, W), the same span at ``alignment.event_fps``, for a model whose event
        path reads its own (``onset_track``).

        ``track=False``: the condition alone, for callers that hold the model's frames only (a condition
        cache, a probe of the features): ``onset`` is None, so there is no onset guidance to sample with, and
        no event frames are needed. A model whose condition carries the track (``cfg.onset_channel``, at the
        model's rate only) computes it all the same."""
        self._check_frames(frames)
        frames = as_unit_frames(frames)  # once for the encoder and saliency
        if times is None:
            times = default_times(frames, self.cfg.video.fps)
        return self.flow_condition(frames, self.align(frames, times), times, self.cfg.audio_tokens, event_frames,
                                   track)

    @property
    def inpaints(self) -> bool:
        """Whether the generator can hold known tokens on its path (``known``/``known_mask``)."""
        return self.generator.supports_inpainting

    def guide_target(self, onset: Tensor) -> Tensor:
        """The onset track the guide pulls towards: onset (b, t), the onset head's prediction -> (b, t).

        ``flow.onset_guide = "soft"``: ``onset`` itself. ``"peaks"`` and ``"sharp"``: ``flow.onset_peak_height``
        at every local maximum of ``onset`` (above its left neighbour, at least its right one) at or above
        ``flow.onset_peak_threshold``, and ``flow.onset_floor`` everywhere else."""
        fc = self.cfg.flow
        if fc.onset_guide == "soft":
            return onset
        lo = torch.full_like(onset[:, :1], -math.inf)
        left, right = torch.cat([lo, onset[:, :-1]], 1), torch.cat([onset[:, 1:], lo], 1)
        peak = (onset >= fc.onset_peak_threshold) & (onset > left) & (onset >= right)
        return torch.where(peak, torch.full_like(onset, fc.onset_peak_height), torch.full_like(onset, fc.onset_floor))

    def onset_guide(self, onset: Tensor):
        """The guide of onset guidance: x1 (b, n, p*f) -> f times the sum of squared differences between
        the onset strength of x1's normalised log-mel and what ``onset`` (b, t), the track the guide pulls
        towards (``guide_target``), asks for.

        ``flow.onset_guide`` "soft" and "peaks": per video frame, the onset strength is ``onset_target``
        (the onset head's training target: the strongest rise of energy during the frame) and the
        difference is to ``onset`` itself. "sharp": per mel frame, the strength is the rise into that
        frame (``mel_flux``); the first mel frame of video frame i (``(i * m) // t``, moved
        ``flow.onset_guide_lead`` earlier) is asked for ``onset[:, i]``, and every other mel frame for
        ``flow.onset_floor``. So an event's energy rises within one mel frame at a set instant and stays
        flat after it, where the per-frame maximum leaves the other mel frames of the frame free (an
        attack spread over the frame, read as two onsets; docs/sync-diagnosis.md part 30).

        The onset strength averages over the f mel bins; the factor f makes the gradient on each bin
        of a frame 2 x (that frame's error), independent of f, so a guidance scale means the same for
        any mel size."""
        p, f, t = self.cfg.encoder.audio_patch, self.cfg.audio.n_mels, onset.shape[1]
        fc = self.cfg.flow
        lead = fc.onset_guide_lead
        if fc.onset_guide == "sharp":
            targets: dict = {}  # (m, dtype) -> (b, m): built at the first ODE step, reused by the others

            def sharp(x1: Tensor) -> Tensor:
                flux = mel_flux(unpatchify(x1, p, f))  # (b, m)
                key = (flux.shape[1], x1.dtype)
                if key not in targets:
                    targets[key] = sharp_guide_target(onset.to(x1.dtype), flux.shape[1], lead, fc.onset_floor)
                return f * (flux - targets[key]).pow(2).sum()

            return sharp

        def guide(x1: Tensor) -> Tensor:
            return f * (onset_target(unpatchify(x1, p, f), t, lead) - onset.to(x1.dtype)).pow(2).sum()

        return guide

    @torch.no_grad()
    def sample_latent(self, c: VideoCondition, generator: torch.Generator, steps: int | None = None,
                      solver: str | None = None, cfg_scale: float | None = None, known: Tensor | None = None,
                      known_mask: Tensor | None = None, onset_guidance: float | None = None,
                      refine: bool | None = None) -> Tensor:
        """Draw x1 (b, n, p*f); ``known``/``known_mask`` (b, n, p*f)/(b, n) pin tokens where supported.

        ``onset_guidance`` (None: ``flow.onset_guidance``) > 0 steers the sample's onsets towards the
        video's predicted onset strength (``onset_guide``), for generators that support guidance and
        models with an onset head; elsewhere it is ignored. ``refine`` (None: ``flow.refine``) switches
        the Eq. 7 refinement of CFM."""
        kwargs: dict = {"known": known, "known_mask": known_mask} if known is not None and self.inpaints else {}
        if refine is not None and self.cfg.flow.kind == "cfm":
            kwargs["refine"] = refine
        scale = self.cfg.flow.onset_guidance if onset_guidance is None else float(onset_guidance)
        if not (scale >= 0 and math.isfinite(scale)):
            raise ConfigError(f"onset guidance must be a finite number >= 0, got {scale}")
        if scale > 0 and c.onset is not None and self.generator.supports_guidance:
            kwargs |= {"guide": self.onset_guide(self.guide_target(c.onset)), "guide_scale": scale}
        return self.generator.sample(c.flow, generator, steps=steps, solver=solver, cfg_scale=cfg_scale, **kwargs)

    def latent_to_mel(self, x1: Tensor) -> Tensor:
        """x1 (b, n, p*f) -> log-mel (b, f, m_native)."""
        return self.native_mel(unpatchify(x1, self.cfg.encoder.audio_patch, self.cfg.audio.n_mels))


SALIENCY_SIZE = 32


@torch.no_grad()
def saliency_frames(frames: Tensor) -> Tensor:
    """Frames for key-frame saliency: (b, t, 3, H, W) -> (b, t, 3, h, w) float in [0, 1], h <= 32.

    Motion energy and histogram change do not need full resolution; average-pooling to at most 32 px
    made key-frame selection 4x cheaper at 64 px in the training step (docs/paper-notes.md).
    """
    x = as_unit_frames(frames)
    size = x.shape[-1]
    if size > SALIENCY_SIZE:
        k = size // SALIENCY_SIZE
        x = F.avg_pool2d(x.flatten(0, 1), k).unflatten(0, x.shape[:2])
    return x


@torch.no_grad()
def generation_difference(a: FoleyModel, b: FoleyModel, clips: int = 2, steps: int = 2) -> float:
    """The largest absolute difference between the log-mels two models generate from the same random
    frames and noise (``a``'s config sets the shapes): how a weight conversion checks that it kept the
    model's outputs (scripts/unpool-motion.py, scripts/add-onset-channel.py)."""
    c = a.cfg
    # a model with an event path at alignment.event_fps reads frames at that rate too: its window's frames
    # are every event_rate-th of those
    k = c.event_rate
    drawn = torch.randint(0, 256, (clips, c.event_frames, 3, c.video.size, c.video.size), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    frames, events = drawn[:, ::k], (drawn if k > 1 else None)
    out_a = a.generate(frames, torch.Generator().manual_seed(1), steps=steps, event_frames=events)[0]
    out_b = b.generate(frames, torch.Generator().manual_seed(1), steps=steps, event_frames=events)[0]
    return float((out_a - out_b).abs().max())


def save_converted(old: FoleyModel, new: FoleyModel, out, meta: dict, tol: float) -> float:
    """Write ``new``'s weights to ``out`` if it generates what ``old`` does (``generation_difference`` at
    most ``tol``), and return that difference; ModelError (nothing written) when it does not. The last step
    of every weight conversion (scripts/unpool-motion.py, add-onset-channel.py, add-window-path.py)."""
    from openfoley.checkpoint import save_weights

    diff = generation_difference(old, new)
    if not diff <= tol:
        raise ModelError(f"the converted model differs from the original by {diff:.2e}")
    save_weights(out, new.state_dict(), new.cfg, meta)
    return diff


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class ComponentCost:
    name: str
    params: int
    gflops: float  # per forward pass of one clip (multiply-add = 2 FLOPs)


def model_summary(cfg: Config, generator: torch.Generator | None = None) -> list[ComponentCost]:
    """Parameters and FLOPs of one training forward pass per component, for one clip of ``cfg``.

    FLOPs are counted by ``torch.utils.flop_counter`` (matmuls, convolutions, attention); the flow
    generator's entry is one network evaluation inside the training loss, and ``sample (x steps)`` is
    a full generation at the config's step count and guidance.
    """
    from torch.utils.flop_counter import FlopCounterMode

    g = generator or torch.Generator().manual_seed(0)
    model = FoleyModel(cfg).eval()
    frames = torch.randint(0, 256, (1, cfg.video_frames, 3, cfg.video.size, cfg.video.size), dtype=torch.uint8,
                           generator=g)
    mel = torch.randn(1, cfg.audio.n_mels, cfg.mel_frames, generator=g)
    # an event path at alignment.event_fps reads frames of its own (k t of them)
    ev = torch.randint(0, 256, (1, cfg.event_frames, 3, cfg.video.size, cfg.video.size), dtype=torch.uint8,
                       generator=g) if cfg.event_rate > 1 else None
    out: list[ComponentCost] = []
    frozen: list[ComponentCost] = []

    def count(fn) -> float:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            fn()
        return fc.get_total_flops() / 1e9

    times = default_times(frames, cfg.video.fps)
    out.append(ComponentCost("video encoder", count_parameters(model.video_encoder),
                             count(lambda: model.video_encoder(frames, times))))
    if model.audio_encoder is not None:
        out.append(ComponentCost("audio encoder", count_parameters(model.audio_encoder),
                                 count(lambda: model.audio_encoder(model.model_mel(mel)))))
    if model.appearance is not None:
        assert model.appearance_proj is not None
        unit = as_unit_frames(frames)
        proj = model.appearance_proj
        out.append(ComponentCost("appearance path", count_parameters(model.appearance) + count_parameters(proj),
                                 count(lambda: proj(model.appearance(unit)))))
    for name, path, fr in (("event path", model.event_path, frames if ev is None else ev),
                           ("coarse event path", model.coarse_event_path, frames)):
        if path is not None:
            out.append(ComponentCost(f"{name} ({path.fps:g} fps)", count_parameters(path),
                                     count(lambda p=path, f=fr: p(f))))
            if cfg.event_rate > 1:  # frozen: not run in a training step
                frozen.append(out[-1])
    with torch.no_grad():  # the generator's row counts its loss alone, on a condition made beforehand
        cond = model.flow_condition(frames, model.align(frames), times, cfg.audio_tokens, track=False).flow
        x1 = patchify(model.model_mel(mel), cfg.encoder.audio_patch)
    gen_only = count(lambda: model.generator.loss(x1, cond, torch.Generator().manual_seed(0)))
    if model.mma is not None:
        total = count(lambda: model(Batch(frames, mel), torch.Generator().manual_seed(0)))
        # the encoders, the appearance path and a trained event path, each run once in a step
        others = sum(c.gflops for c in out if c not in frozen)
        out.append(ComponentCost("MMA (masked + aligned passes)", count_parameters(model.mma),
                                 max(0.0, total - gen_only - others)))
    out.append(ComponentCost(f"generator ({cfg.flow.kind}, training loss)", count_parameters(model.generator),
                             gen_only))
    out.append(ComponentCost(f"sample ({cfg.flow.steps} steps, cfg {cfg.flow.cfg_scale})", 0,
                             count(lambda: model.generate(frames, torch.Generator().manual_seed(0), event_frames=ev))))
    out.append(ComponentCost("total", count_parameters(model), float("nan")))
    return out
