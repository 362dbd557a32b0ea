"""Modality-aware masking alignment (MMA, sec. 3.2, Eq. 5): masked prediction in both directions.

Every step masks both streams (``openfoley.alignment.masks``) and runs one cross-modal transformer
(``openfoley.alignment.transformer``) over the video features and audio tokens, masked positions
replaced by learned mask tokens. Two linear heads read the outputs:

  - Eq. 5, first sum: each *masked audio* token, predicted from the video and the visible audio,
    regresses its own mel patch (p*f values, ``nn.patches.patchify`` layout; ``audio_target``);
  - Eq. 5, second sum: each *masked video* frame, predicted from the audio and the visible video,
    regresses its video target (``AlignmentConfig.video_target``):
      ``pixels`` (default): the frame in [-1, 1], average-pooled to ``video_target_size`` squared,
        3*s*s values (``video_pixel_target``). An input-space target like MAE's; it cannot collapse
        even though the video encoder trains jointly.
      ``features``: the per-frame encoder features (before temporal mixing), detached. Meant for a
        frozen pretrained encoder, where a feature target cannot collapse.

Loss (``masked_mse``): squared error summed over masked positions and target channels, divided by
(masked positions x channels) over the batch; ``loss = loss_audio + loss_video``. Visible positions
contribute nothing, and with no masked position (``mask_ratio = 0``) both terms are exactly 0.

Aligned features for the generator (``MMA.align``): the same transformer run on the *unmasked* video
alone (no audio tokens: at inference there is no audio, and in training feeding the real audio would
leak the target into the condition). Shape (b, t, d), on the frames' timestamps.

``run_mma`` wires the encoders in without leaks: the per-frame video network runs once; the temporal
mixer runs twice, once hiding the masked frames (for the loss) and once on all frames (for
``aligned``); masked mel frames are set to 0 before the audio encoder, so an encoder that mixes
patches (a pretrained transformer) cannot see them either.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from openfoley.alignment.masks import Masks
from openfoley.alignment.transformer import CrossModalTransformer
from openfoley.config import Config
from openfoley.encoders.video import VideoEncoder, as_unit_frames
from openfoley.errors import ConfigError
from openfoley.nn.patches import patchify

VIDEO_TARGETS = ("pixels", "features")


@dataclass(frozen=True)
class MMAOutput:
    """Scalars ``loss = loss_audio + loss_video``; predictions (b, n, p*f) / (b, t, e); the masks;
    ``aligned`` (b, t, d) video features for the generator (``run_mma`` fills it, else None)."""

    loss: Tensor
    loss_audio: Tensor
    loss_video: Tensor
    pred_audio: Tensor
    pred_video: Tensor
    masks: Masks
    aligned: Tensor | None = None


def audio_target(mel: Tensor, p: int) -> Tensor:
    """Eq. 5 audio target: log-mel (b, f, m) -> its patches (b, n, p*f)."""
    return patchify(mel, p)


def video_pixel_target(frames: Tensor, size: int) -> Tensor:
    """Eq. 5 video target ``pixels``: frames (b, t, 3, h, w) -> (b, t, 3*size*size) in [-1, 1]."""
    b = frames.shape[0]
    x = rearrange(as_unit_frames(frames) * 2 - 1, "b t c h w -> (b t) c h w")
    x = F.adaptive_avg_pool2d(x, size)  # (b t, 3, s, s)
    return rearrange(x, "(b t) c h w -> b t (c h w)", b=b)


def masked_mse(pred: Tensor, target: Tensor, visible: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean squared error over positions with ``visible == False`` (and ``valid``): pred/target (b, L, e)."""
    if pred.shape != target.shape or visible.shape != pred.shape[:2]:
        raise ValueError(f"pred {tuple(pred.shape)}, target {tuple(target.shape)}, visible {tuple(visible.shape)} disagree")
    masked = ~visible if valid is None else (~visible & valid)
    w = masked[..., None].to(pred.dtype)  # (b, L, 1)
    sq = torch.where(masked[..., None], pred - target, torch.zeros((), dtype=pred.dtype, device=pred.device)) ** 2
    return (sq * w).sum() / (w.sum() * pred.shape[-1]).clamp_min(1.0)


def onset_target(mel: Tensor, t: int, lead: int = 0) -> Tensor:
    """The onset target: normalised log-mel (b, f, m) -> (b, t) onset strength per video frame.

    Positive spectral flux ``relu(mel[..., j] - mel[..., j-1])`` averaged over the f bins (0 for the
    first frame), then the maximum over the mel frames of each of t equal intervals
    (``adaptive_max_pool1d``), so a frame's value is the strongest rise of energy during it.

    ``lead`` >= 0 mel frames moves every interval that much earlier (the flux track is delayed by
    ``lead`` before pooling; the first ``lead`` values are 0): onset guidance's ``flow.onset_guide_lead``.
    Training uses 0.
    """
    if lead < 0:
        raise ValueError(f"onset_target: lead must be >= 0 mel frames, got {lead}")
    m = mel.shape[-1]
    flux = F.pad(mel_flux(mel), (lead, 0))[:, :m]  # (b, m): the rise into mel frame j sits at j + lead
    return F.adaptive_max_pool1d(flux[:, None, :], t)[:, 0]  # (b, t)


def mel_flux(mel: Tensor) -> Tensor:
    """Normalised log-mel (b, f, m) -> (b, m): the rise into each mel frame, ``relu(mel[..., j] -
    mel[..., j-1])`` averaged over the f bins; 0 for the first frame."""
    return F.pad(F.relu(mel[..., 1:] - mel[..., :-1]).mean(dim=1), (1, 0))


def sharp_guide_target(onset: Tensor, m: int, lead: int, floor: float) -> Tensor:
    """What the "sharp" onset guide asks of each mel frame's rise (``mel_flux``): onset (b, t), one value
    per video frame -> (b, m).

    Video frame i's value goes to its first mel frame, ``(i * m) // t`` (the start of
    ``adaptive_max_pool1d``'s interval), moved ``lead`` >= 0 mel frames earlier; a frame whose mel frame
    would fall before the clip's start is dropped. Every other mel frame gets ``floor``."""
    b, t = onset.shape
    if lead < 0 or m < t:
        raise ValueError(f"sharp_guide_target: need lead >= 0 and m >= t, got lead {lead}, m {m}, t {t}")
    pos = torch.arange(t, device=onset.device) * m // t - lead  # (t,)
    keep = pos >= 0
    target = torch.full((b, m), floor, dtype=onset.dtype, device=onset.device)
    target[:, pos[keep]] = onset[:, keep]
    return target


class ConvOnsetHead(nn.Module):
    """aligned (b, t, d) -> onset strength (b, t, 1): Conv1d(d -> width, k) -> GELU -> Conv1d(width -> 1, k),
    zero-padded ('same') at the clip's ends; each output frame reads k - 1 frames on either side."""

    def __init__(self, d: int, width: int, kernel: int):
        super().__init__()
        self.a = nn.Conv1d(d, width, kernel, padding=kernel // 2)
        self.b = nn.Conv1d(width, 1, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(F.gelu(self.a(x.transpose(1, 2)))).transpose(1, 2)


def build_onset_head(d: int, kernel: int, width: int) -> nn.Module:
    """``alignment.onset_head_kernel`` 1: ``nn.Linear(d, 1)`` (the state-dict keys of every earlier model);
    an odd kernel > 1: ``ConvOnsetHead``. Both map (b, t, d) -> (b, t, 1)."""
    if kernel < 1 or kernel % 2 == 0 or width < 1:
        raise ConfigError(f"alignment.onset_head_kernel must be odd and >= 1 and onset_head_width >= 1, "
                          f"got {kernel} and {width}")
    return nn.Linear(d, 1) if kernel == 1 else ConvOnsetHead(d, width, kernel)


class MMA(nn.Module):
    """The MMA network: cross-modal transformer + audio and video prediction heads. Built from ``Config``."""

    def __init__(self, cfg: Config):
        super().__init__()
        a = cfg.alignment
        if a.video_target not in VIDEO_TARGETS:
            raise ConfigError(f"alignment.video_target must be one of {VIDEO_TARGETS}, got {a.video_target!r}")
        d = cfg.encoder.width
        self.patch = cfg.encoder.audio_patch
        self.video_target = a.video_target
        self.video_target_size = a.video_target_size
        self.audio_dim = cfg.audio_token_dim
        self.video_dim = 3 * a.video_target_size ** 2 if a.video_target == "pixels" else d
        self.transformer = CrossModalTransformer(cfg)
        self.audio_head = nn.Linear(d, self.audio_dim)
        self.video_head = nn.Linear(d, self.video_dim)
        # built only when used, so weights without it keep their exact state-dict keys
        self.onset_head = build_onset_head(d, a.onset_head_kernel, a.onset_head_width) if a.onset_weight > 0 else None

    def onset_loss(self, aligned: Tensor, mel: Tensor) -> Tensor:
        """Mean squared error of ``onset_head(aligned)`` (b, t) against ``onset_target(mel, t)``."""
        if self.onset_head is None:
            raise ValueError("this MMA has no onset head (alignment.onset_weight = 0)")
        pred = self.onset_head(aligned)[..., 0]  # (b, t)
        return F.mse_loss(pred.float(), onset_target(mel, aligned.shape[1]).float())

    def forward(self, video: Tensor, video_times: Tensor, audio: Tensor, audio_times: Tensor, masks: Masks,
                audio_target: Tensor, video_target: Tensor, video_valid: Tensor | None = None,
                audio_valid: Tensor | None = None) -> MMAOutput:
        """Masked prediction loss. video (b, t, d), audio (b, n, d), times (b, t)/(b, n) s, targets
        (b, n, p*f) / (b, t, e), masks.video (b, t) / masks.audio (b, n) (True = visible)."""
        b, t = video.shape[:2]
        n = audio.shape[1]
        if audio_target.shape != (b, n, self.audio_dim) or video_target.shape != (b, t, self.video_dim):
            raise ValueError(f"targets audio {tuple(audio_target.shape)} / video {tuple(video_target.shape)} must be "
                             f"{(b, n, self.audio_dim)} / {(b, t, self.video_dim)}")
        h = self.transformer(video, video_times, audio, audio_times, video_visible=masks.video,
                             audio_visible=masks.audio, video_valid=video_valid, audio_valid=audio_valid)
        pred_audio = self.audio_head(h.audio)  # (b, n, p*f)
        pred_video = self.video_head(h.video)  # (b, t, e)
        loss_audio = masked_mse(pred_audio, audio_target, masks.audio, audio_valid)
        loss_video = masked_mse(pred_video, video_target, masks.video, video_valid)
        return MMAOutput(loss=loss_audio + loss_video, loss_audio=loss_audio, loss_video=loss_video,
                         pred_audio=pred_audio, pred_video=pred_video, masks=masks)

    def align(self, video: Tensor, video_times: Tensor, video_valid: Tensor | None = None) -> Tensor:
        """Aligned video features (b, t, d) from unmasked video alone (no audio tokens)."""
        b, _, d = video.shape
        empty = video.new_zeros(b, 0, d)
        return self.transformer(video, video_times, empty, video_times.new_zeros(b, 0),
                                video_valid=video_valid).video


def neighbours_seen(seen: Tensor, reach: tuple[int, int]) -> Tensor:
    """seen (b, t) bool -> (b, t): frame i and its ``reach = (before, after)`` neighbours are all seen.

    Neighbours beyond the clip's ends count as seen (an encoder pads there with its own frame or zeros).
    """
    out = seen.clone()
    before, after = reach
    for k in range(1, before + 1):
        out[:, k:] &= seen[:, :-k]
    for k in range(1, after + 1):
        out[:, :-k] &= seen[:, k:]
    return out


def run_mma(mma: MMA, video_encoder: VideoEncoder, audio_encoder: nn.Module, frames: Tensor, mel: Tensor,
            masks: Masks, times: Tensor | None = None, video_valid: Tensor | None = None) -> MMAOutput:
    """One MMA step from raw inputs: frames (b, t, 3, h, w), mel (b, f, m), masks -> MMAOutput with
    ``aligned`` (b, t, d). ``video_encoder`` is an ``openfoley.encoders.video.VideoEncoder``;
    ``audio_encoder`` maps mel (b, f, m) to ``AudioTokens``."""
    b, t = frames.shape[:2]
    p = mma.patch
    if masks.video.shape != (b, t) or masks.audio.shape != (b, mel.shape[-1] // p):
        raise ValueError(f"masks video {tuple(masks.video.shape)} / audio {tuple(masks.audio.shape)} do not fit "
                         f"frames {tuple(frames.shape)} / mel {tuple(mel.shape)} with p={p}")
    if times is None:
        times = (torch.arange(t, device=frames.device, dtype=torch.float32) + 0.5) / video_encoder.fps
        times = times.expand(b, t)
    appearance, motion = video_encoder.frame_parts(frames)  # (b, t, d) each, no cross-frame mixing yet
    seen = masks.video if video_valid is None else masks.video & video_valid
    if motion is None:
        per_frame = appearance
        per_frame_seen = appearance
    else:  # frame i's motion shows its neighbours (motion_reach): hide it where one of them is masked
        per_frame = appearance + motion
        per_frame_seen = appearance + motion * neighbours_seen(seen, video_encoder.motion_reach)[..., None].to(motion.dtype)
    video_masked = video_encoder.mix(per_frame_seen, seen)  # masked frames cannot reach visible ones
    video_full = video_encoder.mix(per_frame, video_valid)
    hidden_mel = mel * masks.audio.repeat_interleave(p, dim=1)[:, None, :].to(mel.dtype)  # (b, f, m)
    tokens = audio_encoder(hidden_mel)
    if mma.video_target == "pixels":
        v_target = video_pixel_target(frames, mma.video_target_size)
    else:
        v_target = per_frame.detach()
    out = mma(video_masked, times, tokens.tokens, tokens.times, masks, audio_target(mel, p), v_target,
              video_valid=video_valid)
    aligned = mma.align(video_full, times, video_valid)
    return MMAOutput(loss=out.loss, loss_audio=out.loss_audio, loss_video=out.loss_video,
                     pred_audio=out.pred_audio, pred_video=out.pred_video, masks=masks, aligned=aligned)
