"""A white flash on frame k and a click at the same instant: the readers put both at the same time.

read_video must find the flash within half a frame, read_audio the click within 1 ms, for MP4/AAC (the
AAC encoder delay must be trimmed) and for PCM audio (Matroska, WAV).
"""

import pytest
import torch
from mediagen import has_encoder, make_media

from openfoley.io import read_audio, read_video

FPS, K = 25, 37
T = K / FPS  # 1.48 s


def flash_time(clip) -> tuple[float, float]:
    """(grid time, source time) of the brightest output frame."""
    i = int(clip.frames.float().mean(dim=(1, 2, 3)).argmax())
    return float(clip.times[i]), float(clip.source_times[i])


def click_time(wav: torch.Tensor, sr: int, start: float = 0.0) -> float:
    return start + int(wav.abs().argmax()) / sr


@pytest.fixture(scope="module", params=[("mp4", "libx264", "aac"), ("mkv", "libx264", "pcm_s16le")])
def av_file(request, tmp_path_factory):
    suffix, vc, ac = request.param
    path = tmp_path_factory.mktemp("sync") / f"flash.{suffix}"
    # GOP of 10 frames: reads that start mid-file must seek to a keyframe and decode forward.
    return make_media(path, n_frames=75, fps=FPS, vcodec=vc, acodec=ac, flash_frame=K, click_time=T,
                      video_options={"g": "10"})


@pytest.mark.parametrize("fps", [25, 30, 50])
def test_flash_found_within_half_a_frame(av_file, fps):
    clip = read_video(av_file, fps=fps, size=16)
    grid_t, src_t = flash_time(clip)
    assert abs(src_t - T) < 1e-6, f"flash decoded at {src_t}, expected {T}"
    # Shown from the first grid time at or after its timestamp ("latest frame at or before t").
    assert T - 1e-6 <= grid_t < T + 1 / fps, (grid_t, T)
    if fps == FPS:  # on the source's own grid: exactly at the flash (well within half a frame)
        assert abs(grid_t - T) < 0.5 / fps


@pytest.mark.parametrize("start,duration", [(0.0, None), (1.0, 1.0), (1.2, 0.6)])
def test_flash_with_seek(av_file, start, duration):
    clip = read_video(av_file, fps=FPS, size=16, start=start, duration=duration)
    if duration is not None:
        assert len(clip) == round(duration * FPS)
    assert abs(float(clip.times[0]) - start) < 1e-9
    grid_t, src_t = flash_time(clip)
    assert abs(grid_t - T) < 0.5 / FPS and abs(src_t - T) < 1e-6


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
@pytest.mark.parametrize("start,duration", [(0.0, None), (0.5, 2.0), (1.3, 0.5)])
def test_click_found_within_1ms(av_file, sr, start, duration):
    wav = read_audio(av_file, sr, start=start, duration=duration)
    assert wav.dtype == torch.float32 and wav.ndim == 1
    if duration is not None:
        assert wav.shape == (round(duration * sr),)
    else:
        assert abs(len(wav) / sr - 3.0) < 1024 / 48000, len(wav) / sr  # ends with the stream (+ < 1 AAC frame)
    got = click_time(wav, sr, start)
    assert abs(got - T) < 1e-3, f"click at {got:.5f} s, expected {T} s"


def test_click_in_wav_file(tmp_path):
    path = make_media(tmp_path / "click.wav", vcodec=None, acodec="pcm_s16le", sample_rate=44100,
                      channels=1, audio_seconds=2.0, click_time=0.7371)
    for sr in (8000, 16000, 22050, 44100):
        wav = read_audio(path, sr)
        assert len(wav) == 2 * sr
        assert abs(click_time(wav, sr) - 0.7371) < 1e-3
    wav = read_audio(path, 16000, start=0.7, duration=0.1)
    assert len(wav) == 1600 and abs(click_time(wav, 16000, 0.7) - 0.7371) < 1e-3


def test_mono_is_mean_of_channels(tmp_path):
    """A click in one channel of a stereo PCM file comes out at half amplitude (mean, not sum)."""
    import av
    import numpy as np

    path = tmp_path / "lr.wav"
    with av.open(str(path), "w") as out:
        s = out.add_stream("pcm_f32le", rate=8000)
        s.layout = "stereo"
        x = np.zeros((2, 8000), np.float32)
        x[0, 4000] = 0.8
        f = av.AudioFrame.from_ndarray(x, format="fltp", layout="stereo")
        f.sample_rate, f.pts = 8000, 0
        out.mux(s.encode(f))
        out.mux(s.encode(None))
    wav = read_audio(path, 8000)
    assert wav.shape == (8000,)
    assert float(wav[4000]) == pytest.approx(0.4, abs=1e-6)
    assert float(wav.abs().sum()) == pytest.approx(0.4, abs=1e-5)


@pytest.mark.skipif(not has_encoder("libopus"), reason="FFmpeg build has no Opus encoder")
def test_click_in_webm_opus(tmp_path):
    """Opus has an encoder delay too (312 samples at 48 kHz); Matroska's CodecDelay trims it."""
    path = make_media(tmp_path / "c.webm", vcodec="libvpx-vp9", acodec="libopus", n_frames=25,
                      click_time=0.61)
    got = click_time(read_audio(path, 16000), 16000)
    assert abs(got - 0.61) < 1e-3, got
