"""The evaluator front ends against hand-computed frame counts, shapes and mel-band positions."""

import math

import numpy as np
import pytest
import torch

from openfoley.evaluation.frontends import (
    cnn14_log_mel,
    passt_mel,
    resample,
    vggish_log_mel,
    vggish_mel_matrix,
    vggish_patches,
)


def _tone(freq, seconds, sr, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def _htk(f):
    return 1127.0 * math.log(1.0 + f / 700.0)


def _band_of(freq, n_mels, fmin, fmax):
    """Band whose mel-domain triangle is highest at ``freq`` (edges evenly spaced in HTK mel)."""
    lo, hi = _htk(fmin), _htk(fmax)
    step = (hi - lo) / (n_mels + 1)
    centres = [lo + (i + 1) * step for i in range(n_mels)]
    return int(np.argmin([abs(_htk(freq) - c) for c in centres]))


# --- VGGish ---------------------------------------------------------------------------------------

def test_vggish_frame_and_patch_counts():
    # 1 s at 16 kHz: 1 + (16000 - 400) // 160 = 98 frames -> one 96-frame patch.
    assert vggish_log_mel(np.zeros(16000)).shape == (98, 64)
    assert vggish_patches(np.zeros(16000)).shape == (1, 1, 96, 64)
    # 2 s: 1 + 31600 // 160 = 198 frames -> 2 patches; 0.95 s: 93 frames -> none.
    assert vggish_log_mel(np.zeros(32000)).shape == (198, 64)
    assert vggish_patches(np.zeros(32000)).shape == (2, 1, 96, 64)
    assert vggish_patches(np.zeros(15200)).shape == (0, 1, 96, 64)
    assert vggish_log_mel(np.zeros(399)).shape == (0, 64)


def test_vggish_patches_are_consecutive_frames():
    wav = np.random.default_rng(0).standard_normal(32000) * 0.1
    mel, patches = vggish_log_mel(wav), vggish_patches(wav)
    torch.testing.assert_close(patches[1, 0], mel[96:192])


def test_vggish_silence_is_log_offset():
    mel = vggish_log_mel(np.zeros(16000))
    torch.testing.assert_close(mel, torch.full_like(mel, math.log(0.01)))


def test_vggish_1khz_tone_peaks_at_the_hand_computed_band():
    # HTK mel(1000) = 1000.0; edges from mel(125) = 185.3 to mel(7500) = 2773.4 in 65 steps of 39.8:
    # band 19 is centred at 981.5 and band 20 at 1021.3, so band 19 is highest.
    expected = _band_of(1000.0, 64, 125.0, 7500.0)
    assert expected == 19
    mel = vggish_log_mel(_tone(1000.0, 1.0, 16000))
    assert int(mel.mean(dim=0).argmax()) == expected


def test_vggish_tone_peak_moves_with_frequency_and_band_limits():
    for f in (300.0, 2000.0, 5000.0):
        mel = vggish_log_mel(_tone(f, 1.0, 16000))
        assert int(mel.mean(dim=0).argmax()) == _band_of(f, 64, 125.0, 7500.0)
    w = vggish_mel_matrix().numpy()  # (257, 64)
    freqs = np.linspace(0, 8000, 257)
    assert np.all(w[0] == 0) and np.all(w >= 0) and w.max() <= 1.0
    assert np.all(w[(freqs <= 125) | (freqs >= 7500)] == 0)  # nothing outside 125-7500 Hz


def test_vggish_resamples_and_mixes_down():
    tone48 = _tone(1000.0, 1.0, 48000)
    stereo = np.stack([tone48, tone48])
    mel = vggish_log_mel(stereo, sr=48000)
    assert mel.shape == (98, 64)
    assert int(mel.mean(dim=0).argmax()) == 19


def test_resample_keeps_frequency_and_duration():
    y = resample(_tone(1000.0, 1.0, 48000), 48000, 16000).numpy()
    assert y.shape == (16000,)
    spec = np.abs(np.fft.rfft(y))
    assert int(spec.argmax()) == 1000  # 1 Hz bins for a 1 s signal


# --- PaSST ----------------------------------------------------------------------------------------

def test_passt_shape_padding_and_cropping():
    sr = 32000
    short = np.random.default_rng(1).standard_normal(3 * sr) * 0.1
    out = passt_mel(short)
    assert out.shape == (1, 128, 1000)  # 10 s: 1 + (320000 - 1) // 320 frames
    padded = np.concatenate([short, np.zeros(7 * sr)])
    torch.testing.assert_close(out, passt_mel(padded))
    long = np.concatenate([padded, np.ones(2 * sr)])
    torch.testing.assert_close(out, passt_mel(long))
    assert passt_mel(np.zeros((2, sr)), seconds=None).shape == (2, 128, 100)


def test_passt_silence_and_tone_band():
    sil = passt_mel(np.zeros(32000), seconds=1.0)
    torch.testing.assert_close(sil, torch.full_like(sil, (math.log(1e-5) + 4.5) / 5))
    mel = passt_mel(_tone(1000.0, 1.0, 32000), seconds=1.0)
    assert int(mel[0, :, 5:-5].mean(dim=1).argmax()) == _band_of(1000.0, 128, 0.0, 15500.0)


# --- CNN14 ----------------------------------------------------------------------------------------

def _slaney_mel(f):
    return f / (200 / 3) if f < 1000 else 15 + math.log(f / 1000) / (math.log(6.4) / 27)


def test_cnn14_shape_silence_and_tone_band():
    assert cnn14_log_mel(np.zeros(320000)).shape == (1, 1, 1001, 64)  # 320000 // 320 + 1
    sil = cnn14_log_mel(np.zeros(32000))
    torch.testing.assert_close(sil, torch.full_like(sil, -100.0))
    # Slaney mel edges evenly spaced from mel(50) to mel(14000); the nearest centre to mel(1000)
    lo, hi = _slaney_mel(50.0), _slaney_mel(14000.0)
    centres = lo + (np.arange(64) + 1) * (hi - lo) / 65
    expected = int(np.argmin(np.abs(centres - _slaney_mel(1000.0))))
    mel = cnn14_log_mel(_tone(1000.0, 1.0, 32000))
    assert int(mel[0, 0, 5:-5].mean(dim=0).argmax()) == expected


def test_frontends_reject_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        cnn14_log_mel(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="too short"):
        cnn14_log_mel(np.zeros(100))
