"""read_audio / write_audio: exact round trips, resampling against closed-form sines, exact spans."""

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from openfoley.errors import MediaError, OutputError
from openfoley.io import read_audio, write_audio


def sine(freq: float, sr: int, seconds: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def test_float_wav_round_trip_is_exact(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, 8000).astype(np.float32)
    path = write_audio(tmp_path / "x.wav", torch.from_numpy(x), 8000, subtype="FLOAT")
    y = read_audio(path, 8000)
    assert y.dtype == torch.float32 and y.shape == (8000,)
    assert torch.equal(y, torch.from_numpy(x))


@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_pcm16_round_trip_within_one_step(tmp_path, suffix):
    x = sine(440, 16000, 0.5)
    path = write_audio(tmp_path / f"x.{suffix}", x, 16000)
    assert sf.info(str(path)).subtype == "PCM_16"
    y = read_audio(path, 16000).numpy()
    assert np.abs(y - x).max() <= 1.5 / 32768


def test_stereo_written_channels_first_and_read_as_mean(tmp_path):
    left, right = sine(300, 8000, 0.25), sine(700, 8000, 0.25)
    path = write_audio(tmp_path / "s.wav", np.stack([left, right]), 8000, subtype="FLOAT")
    data, sr = sf.read(str(path), dtype="float32")
    assert sr == 8000 and data.shape == (2000, 2) and np.array_equal(data[:, 1], right)
    assert np.allclose(read_audio(path, 8000).numpy(), (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("sr_in,sr_out", [(44100, 16000), (48000, 8000), (8000, 48000), (22050, 44100)])
def test_resampling_matches_the_closed_form(tmp_path, sr_in, sr_out):
    """A 440 Hz sine read at another rate equals the sine sampled at the new rate (away from the edges)."""
    path = write_audio(tmp_path / "s.wav", sine(440, sr_in, 1.0), sr_in, subtype="FLOAT")
    y = read_audio(path, sr_out).numpy()
    assert len(y) == sr_out
    ref = sine(440, sr_out, 1.0)
    edge = sr_out // 50  # 20 ms: the signal starts/stops abruptly at the file's ends
    assert np.abs(y[edge:-edge] - ref[edge:-edge]).max() < 2e-3


def test_span_is_exact_and_zero_padded_past_the_end(tmp_path):
    sr = 16000
    path = write_audio(tmp_path / "s.wav", sine(250, sr, 2.0), sr, subtype="FLOAT")
    y = read_audio(path, sr, start=1.9, duration=0.5).numpy()
    assert y.shape == (8000,)
    ref = sine(250, sr, 2.0)[round(1.9 * sr):]
    assert np.array_equal(y[:1600], ref)  # same rate: samples copied exactly
    assert not y[1600:].any()  # past the stream's end: zeros
    y = read_audio(path, 8000, start=0.25, duration=0.5).numpy()  # resampled span: phase kept
    assert y.shape == (4000,)
    assert np.abs(y - sine(250, 8000, 0.5, phase=2 * np.pi * 250 * 0.25)).max() < 2e-3
    assert not read_audio(path, 8000, start=3.0, duration=0.25).any()  # wholly past the end


def test_start_past_end_without_duration_is_an_error(tmp_path):
    path = write_audio(tmp_path / "s.wav", sine(250, 8000, 1.0), 8000)
    with pytest.raises(MediaError, match="past the end"):
        read_audio(path, 8000, start=1.5)


def test_write_audio_clips_and_warns(tmp_path, caplog):
    x = np.array([0.5, 1.5, -2.0, 0.0], np.float32)
    with caplog.at_level(logging.WARNING):
        path = write_audio(tmp_path / "c.wav", x, 8000)
    assert "clipping 2 samples" in caplog.text
    data, _ = sf.read(str(path), dtype="float32")
    assert data.max() <= 1.0 and data.min() == -1.0


def test_write_audio_refuses_other_suffixes_and_bad_arrays(tmp_path):
    with pytest.raises(OutputError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "x.mp3", np.zeros(10, np.float32), 8000)
    with pytest.raises(ValueError, match="floating point"):
        write_audio(tmp_path / "x.wav", np.zeros(10, np.int16), 8000)
    with pytest.raises(ValueError, match="NaN"):
        write_audio(tmp_path / "x.wav", np.full(10, np.nan, np.float32), 8000)
    assert list(tmp_path.iterdir()) == []
