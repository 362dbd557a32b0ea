"""Log-mel and its inverse: closed-form filterbank, pure tones, shapes per preset, Griffin-Lim bounds."""

import math

import numpy as np
import pytest
import torch

from openfoley.config import AudioConfig, get_preset
from openfoley.errors import ConfigError
from openfoley.features.mel import (
    griffin_lim,
    hz_to_mel,
    log_mel,
    log_mel_to_wav,
    mel_edges,
    mel_filterbank,
    mel_magnitude,
    mel_to_hz,
    mel_to_linear,
    resample_time,
    spectral_convergence,
    stft,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _slaney_mel(f):
    """The Slaney scale written independently: 200/3 Hz per mel to 1 kHz, then 27 mels per x6.4."""
    f = np.asarray(f, dtype=np.float64)
    return np.where(f < 1000, f * 3 / 200, 15 + 27 * np.log(np.maximum(f, 1e-9) / 1000) / np.log(6.4))


def test_mel_scale_closed_form():
    assert float(hz_to_mel(torch.tensor(1000.0))) == pytest.approx(15.0)
    assert float(hz_to_mel(torch.tensor(6400.0))) == pytest.approx(42.0)
    assert float(hz_to_mel(torch.tensor(300.0))) == pytest.approx(4.5)
    f = torch.tensor([0.0, 50.0, 999.0, 1000.0, 2500.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)).numpy(), f.numpy(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hz_to_mel(f).numpy(), _slaney_mel(f.numpy()), rtol=1e-12)


def test_filterbank_triangles_closed_form():
    sr, n_fft, n_mels, fmin, fmax = 16000, 2**14, 20, 50.0, 7000.0
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).double().numpy()
    assert fb.shape == (n_mels, n_fft // 2 + 1)
    x = np.linspace(0, sr / 2, n_fft // 2 + 1)
    dx = x[1] - x[0]
    # Analytic edges: equal steps on the Slaney scale, inverted in closed form.
    m = np.linspace(_slaney_mel(fmin), _slaney_mel(fmax), n_mels + 2)
    e = np.where(m < 15, m * 200 / 3, 1000 * 6.4 ** ((m - 15) / 27))
    np.testing.assert_allclose(mel_edges(n_mels, fmin, fmax).numpy(), e, rtol=1e-10)
    for i in range(n_mels):
        row = fb[i]
        assert abs(x[row.argmax()] - e[i + 1]) <= dx, f"filter {i}: peak not at {e[i + 1]:.2f} Hz"
        assert row.max() == pytest.approx(2 / (e[i + 2] - e[i]), rel=2 * dx / (e[i + 2] - e[i + 1]))
        outside = (x <= e[i]) | (x >= e[i + 2])
        assert np.all(row[outside] == 0), f"filter {i} non-zero outside its neighbours' centres"
        assert np.all(row[(x > e[i] + dx) & (x < e[i + 2] - dx)] > 0)
        assert row.sum() * dx == pytest.approx(1.0, rel=1e-3)  # Slaney area normalisation


def test_filterbank_rejects_bad_range():
    with pytest.raises(ConfigError, match="f_max"):
        mel_filterbank(8000, 512, 64, 0.0, 5000.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
def test_pure_tone_peaks_in_its_bin(preset, device):
    a = get_preset(preset).audio
    e = mel_edges(a.n_mels, a.f_min, a.fmax).numpy()
    t = torch.arange(a.sample_rate // 2, device=device) / a.sample_rate
    bins = [a.n_mels // 4, a.n_mels // 2, 3 * a.n_mels // 4, a.n_mels - 3]
    # A tone at a triangle's centre, and one 30% of the way from that centre to the next.
    freqs = [(i, e[i + 1]) for i in bins] + [(i, e[i + 1] + 0.3 * (e[i + 2] - e[i + 1])) for i in bins]
    wav = torch.stack([torch.sin(2 * math.pi * f * t) for _, f in freqs])
    lm = log_mel(wav, a)  # (b, f, m)
    got = lm.mean(-1).argmax(-1).cpu().tolist()
    assert got == [i for i, _ in freqs], f"tones at {[round(f) for _, f in freqs]} Hz peaked in {got}"


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
def test_shapes_match_config(preset):
    cfg = get_preset(preset)
    wav = torch.zeros(2, cfg.samples)
    lm = log_mel(wav, cfg.audio)
    assert lm.shape == (2, cfg.audio.n_mels, cfg.mel_frames)
    assert log_mel(wav[0], cfg.audio).shape == (cfg.audio.n_mels, cfg.mel_frames)
    assert float(lm.max()) == pytest.approx(math.log(cfg.audio.log_floor))
    assert resample_time(lm, cfg.model_mel_frames).shape == (2, cfg.audio.n_mels, cfg.model_mel_frames)
    wav_back = log_mel_to_wav(resample_time(lm, cfg.model_mel_frames), cfg.audio, iters=1,
                              native_frames=cfg.mel_frames)
    assert wav_back.shape == (2, cfg.samples)


def test_small_preset_frames():
    cfg = get_preset("small")
    assert log_mel(torch.zeros(cfg.samples), cfg.audio).shape == (64, 400)  # 8 s, 16 kHz, hop 320


def test_batch_equals_single():
    a = get_preset("tiny").audio
    g = torch.Generator().manual_seed(3)
    wav = torch.randn(3, 4000, generator=g)
    batched = log_mel(wav, a)
    for i in range(3):
        torch.testing.assert_close(batched[i], log_mel(wav[i], a), rtol=1e-5, atol=1e-5)


def test_resample_time_linear_exact():
    ramp = 2.0 + 0.5 * torch.arange(400, dtype=torch.float32)  # (m,)
    out = resample_time(ramp[None, None], 128)[0, 0]
    pos = (torch.arange(128) + 0.5) * 400 / 128 - 0.5  # cell-centred sample positions
    torch.testing.assert_close(out, 2.0 + 0.5 * pos)
    # Down and back up: a smooth curve returns closely.
    x = torch.sin(torch.linspace(0, 3, 400))[None]
    back = resample_time(resample_time(x, 128), 400)
    assert float((back - x)[:, 4:-4].abs().max()) < 2e-3


def test_mel_to_linear_nonnegative_and_nnls_helps():
    a = get_preset("small").audio
    g = torch.Generator().manual_seed(0)
    wav = torch.randn(1, 16000, generator=g)
    y = mel_magnitude(wav, a)
    fb = mel_filterbank(a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max)
    res = []
    for iters in (0, 8):
        x = mel_to_linear(y, a, nnls_iters=iters)
        assert x.shape == (1, a.n_fft // 2 + 1, y.shape[-1]) and bool((x >= 0).all())
        res.append(float((torch.einsum("fk,bkm->bfm", fb, x) - y).norm() / y.norm()))
    assert res[1] < res[0], f"NNLS updates did not reduce the mel residual: {res}"


def _test_signals(sr: int, g: torch.Generator) -> torch.Tensor:
    """(2, sr): a decaying white-noise burst, and a speech-like harmonic tone with a gliding f0."""
    t = torch.arange(sr) / sr
    env = torch.where(t >= 0.3, torch.exp(-(t - 0.3) / 0.15), torch.zeros(()))
    burst = 0.5 * torch.randn(sr, generator=g) * env
    f0 = 120 + 100 * t  # glide 120 -> 220 Hz
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sr
    speech = sum(torch.sin(k * phase) / k for k in range(1, 11))
    speech = 0.3 * speech * (0.5 - 0.5 * torch.cos(2 * math.pi * 4 * t))  # 4 Hz syllables
    return torch.stack([burst, speech])


def test_griffin_lim_convergence_bounds():
    # Measured (small preset, 1 s signals, 32 iterations, seed 1): from the true magnitude SC is
    # 0.096 (burst) / 0.041 (speech-like); from the log-mel, the mel-domain SC is 0.043 / 0.084.
    # Bounds leave ~50% headroom for BLAS differences across machines.
    a = get_preset("small").audio
    x = _test_signals(a.sample_rate, torch.Generator().manual_seed(0))
    mag = stft(x, a).abs()[..., :-1]
    y = griffin_lim(mag, a, iters=32, generator=torch.Generator().manual_seed(1), init="random")
    assert y.shape == x.shape
    sc = spectral_convergence(mag, stft(y, a).abs()[..., :-1])
    assert bool((sc < 0.15).all()), f"Griffin-Lim SC {sc.tolist()}"
    y2 = log_mel_to_wav(log_mel(x, a), a, iters=32, generator=torch.Generator().manual_seed(1), init="random")
    sc_mel = spectral_convergence(mel_magnitude(x, a), mel_magnitude(y2, a))
    assert bool((sc_mel < 0.13).all()), f"log-mel -> wav mel-domain SC {sc_mel.tolist()}"
    # Iterating helps: 2 iterations is far worse than 32 (the bound above is not trivially met).
    y0 = griffin_lim(mag, a, iters=2, generator=torch.Generator().manual_seed(1), init="random")
    assert bool((spectral_convergence(mag, stft(y0, a).abs()[..., :-1]) > 2 * sc).all())


def test_griffin_lim_deterministic_with_generator():
    a = get_preset("tiny").audio
    lm = log_mel(torch.randn(1, 4000, generator=torch.Generator().manual_seed(0)), a)
    w1 = log_mel_to_wav(lm, a, iters=3, generator=torch.Generator().manual_seed(5), init="random")
    w2 = log_mel_to_wav(lm, a, iters=3, generator=torch.Generator().manual_seed(5), init="random")
    w3 = log_mel_to_wav(lm, a, iters=3, generator=torch.Generator().manual_seed(6), init="random")
    assert torch.equal(w1, w2) and not torch.equal(w1, w3)
    # The pghi start uses no randomness: the generator does not matter.
    p5 = log_mel_to_wav(lm, a, iters=3, generator=torch.Generator().manual_seed(5), init="pghi")
    assert torch.equal(p5, log_mel_to_wav(lm, a, iters=3, generator=torch.Generator().manual_seed(6), init="pghi"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    a = AudioConfig()
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(log_mel(wav.cuda(), a).cpu(), log_mel(wav, a), rtol=1e-3, atol=1e-3)
    out = log_mel_to_wav(log_mel(wav.cuda(), a), a, iters=4)
    assert out.device.type == "cuda" and out.shape == wav.shape
