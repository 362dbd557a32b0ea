"""Quality measures for vocoders on held-out audio, and the training loss's spectral terms.

A vocoder inverts a log-mel, which carries no phase: any waveform whose magnitude spectrogram matches
the reference's is a perfect answer. Sample-domain measures (SNR, SI-SDR) would punish a correct
magnitude with a different phase, so every measure here compares magnitudes only:

* ``log_mel_l1``: mean |log-mel(ref) - log-mel(est)| with the model's own mel (natural-log units).
  "Does the audio have the spectrogram we asked for?": what the generator's output means.
* ``spectral_convergence``: ||S_ref - S_est||_F / ||S_ref||_F of STFT magnitudes, averaged over
  resolutions. Sensitive to the loud parts and to phase incoherence between overlapping frames (an
  inconsistent phase smears energy across bins and frames, as Griffin-Lim's artefacts do).
* ``log_spectral_distance``: per frame RMS over bins of the dB difference, averaged over frames and
  resolutions, with the reference floored 80 dB below its peak so silence does not dominate. The
  standard LSD of speech coding and bandwidth extension; sensitive to the quiet parts.

Evaluation uses STFT resolutions (``EVAL_RESOLUTIONS``) different from the training loss's
(``TRAIN_RESOLUTIONS``) and from the model's own mel frame, so the network is not scored on exactly
what it was fitted to.

Shapes: b batch, s samples.
"""

from __future__ import annotations

from typing import cast

import torch

from openfoley.config import AudioConfig
from openfoley.features.mel import log_mel

TRAIN_RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop)
EVAL_RESOLUTIONS: tuple[tuple[int, int], ...] = ((384, 96), (768, 192), (1536, 384))


def stft_mag(wav: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(b, s) -> (b, n_fft//2+1, frames) magnitudes, hann window, centred (reflect padding)."""
    window = torch.hann_window(n_fft, periodic=True, device=wav.device)
    pad = "reflect" if wav.shape[-1] > n_fft // 2 else "constant"
    return torch.stft(wav.float(), n_fft, hop_length=hop, window=window, center=True, pad_mode=pad,
                      return_complex=True).abs()


def _pair(ref: torch.Tensor, est: torch.Tensor) -> None:
    assert ref.shape == est.shape and ref.dim() == 2, (
        f"vocoder metrics: reference {tuple(ref.shape)} and estimate {tuple(est.shape)} must both be (b, s)")


def log_mel_l1(ref: torch.Tensor, est: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """(b, s), (b, s) -> (b,) mean absolute log-mel difference."""
    _pair(ref, est)
    return (log_mel(ref, cfg) - log_mel(est, cfg)).abs().flatten(1).mean(1)


def spectral_convergence(ref: torch.Tensor, est: torch.Tensor,
                         resolutions=EVAL_RESOLUTIONS) -> torch.Tensor:
    """(b, s), (b, s) -> (b,) spectral convergence averaged over STFT ``resolutions``."""
    _pair(ref, est)
    out = []
    for n_fft, hop in resolutions:
        r, e = stft_mag(ref, n_fft, hop), stft_mag(est, n_fft, hop)
        out.append((r - e).flatten(1).norm(dim=1) / r.flatten(1).norm(dim=1).clamp(min=1e-8))
    return torch.stack(out).mean(0)


def log_spectral_distance(ref: torch.Tensor, est: torch.Tensor, resolutions=EVAL_RESOLUTIONS,
                          range_db: float = 80.0) -> torch.Tensor:
    """(b, s), (b, s) -> (b,) LSD in dB; both spectra floored ``range_db`` below the reference peak."""
    _pair(ref, est)
    out = []
    for n_fft, hop in resolutions:
        r = 20 * torch.log10(stft_mag(ref, n_fft, hop).clamp(min=1e-10))  # (b, k, frames) dB
        e = 20 * torch.log10(stft_mag(est, n_fft, hop).clamp(min=1e-10))
        floor = r.flatten(1).amax(1)[:, None, None] - range_db
        d = torch.maximum(r, floor) - torch.maximum(e, floor)
        out.append(d.pow(2).mean(1).sqrt().mean(1))  # RMS over bins, mean over frames
    return torch.stack(out).mean(0)


def stft_loss(ref: torch.Tensor, est: torch.Tensor, resolutions=TRAIN_RESOLUTIONS,
              eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """(spectral convergence, log-magnitude L1) averaged over ``resolutions``: the usual MR-STFT loss.

    The convergence is taken over the whole batch (one ratio of Frobenius norms), so a near-silent
    crop cannot blow it up.
    """
    sc: torch.Tensor | float = 0.0
    mag: torch.Tensor | float = 0.0
    for n_fft, hop in resolutions:
        r, e = stft_mag(ref, n_fft, hop), stft_mag(est, n_fft, hop)
        sc = sc + (r - e).norm() / r.norm().clamp(min=1e-4)
        mag = mag + (r.clamp(min=eps).log() - e.clamp(min=eps).log()).abs().mean()
    n = len(resolutions)
    return cast(torch.Tensor, sc) / n, cast(torch.Tensor, mag) / n
