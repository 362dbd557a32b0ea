"""mux: the video packets are copied byte for byte, the new audio is AAC and ends with the video."""

import av
import numpy as np
import pytest
import torch
from mediagen import make_media, video_packets

from openfoley.errors import OutputError
from openfoley.io import mux, probe, read_audio, read_video

AAC_FRAME = 1024  # samples per AAC frame


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """2 s of H.264 with B-frames (reordered packets) + stereo AAC, flash at frame 20 (0.8 s)."""
    path = tmp_path_factory.mktemp("mux") / "in.mp4"
    return make_media(path, n_frames=50, fps=25, flash_frame=20, click_time=0.3,
                      video_options={"preset": "medium", "bf": "2"})


def click(t: float, sr: int, seconds: float) -> np.ndarray:
    x = np.zeros(round(seconds * sr), np.float32)
    x[round(t * sr)] = 0.9
    return x


@pytest.mark.parametrize("audio_seconds", [1.3, 2.0, 3.7])  # shorter, equal, longer than the video
@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_mux_copies_video_and_fits_audio(source, tmp_path, audio_seconds, suffix):
    sr = 16000
    out = mux(source, torch.from_numpy(click(0.8, sr, audio_seconds)), sr, tmp_path / f"out.{suffix}")
    assert video_packets(out) == video_packets(source)  # stream copy: identical bytes
    info = probe(out)
    assert info.audio.codec == "aac" and info.audio.sample_rate == sr and info.audio.channels == 1
    assert abs(info.audio.duration - info.video.duration) <= AAC_FRAME / sr, (info.audio, info.video)
    wav = read_audio(out, sr)
    assert abs(len(wav) / sr - 2.0) <= AAC_FRAME / sr
    assert abs(int(wav.abs().argmax()) / sr - 0.8) < 1e-3  # the click stays on the flash
    clip = read_video(out, fps=25, size=8)
    assert abs(float(clip.times[int(clip.frames.float().mean(dim=(1, 2, 3)).argmax())]) - 0.8) < 0.02


def test_mux_replaces_or_keeps_original_audio(source, tmp_path):
    sr = 22050
    stereo = np.stack([click(1.1, sr, 2.0), click(1.1, sr, 2.0)])
    replaced = mux(source, stereo, sr, tmp_path / "r.mp4")
    with av.open(str(replaced)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.channels == 2
    kept = mux(source, stereo, sr, tmp_path / "k.mp4", keep_original_audio=True)
    with av.open(str(kept)) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "audio"]
        assert c.streams.audio[1].codec_context.sample_rate == 48000  # the original track, copied
    with av.open(str(kept)) as c, av.open(str(source)) as s:
        orig = [bytes(p) for p in s.demux(audio=0) if p.size]
        copied = [bytes(p) for p in c.demux(c.streams.audio[1]) if p.size]
    assert copied == orig
    assert abs(int(read_audio(kept, sr).abs().argmax()) / sr - 1.1) < 1e-3  # the first track is the new one


def test_mux_audio_from_file(source, tmp_path):
    from openfoley.io import write_audio

    wav_path = write_audio(tmp_path / "fx.wav", click(0.5, 16000, 2.0), 16000)
    out = mux(source, wav_path, 16000, tmp_path / "o.mp4")
    assert abs(int(read_audio(out, 16000).abs().argmax()) / 16000 - 0.5) < 1e-3


def test_mux_refuses_output_equal_to_input(source):
    before = source.read_bytes()
    with pytest.raises(OutputError, match="same file as the input"):
        mux(source, np.zeros(100, np.float32), 16000, source, force=True)
    assert source.read_bytes() == before


def test_mux_refuses_unknown_suffix(source, tmp_path):
    with pytest.raises(OutputError, match="must end in"):
        mux(source, np.zeros(100, np.float32), 16000, tmp_path / "o.avi")
    assert list(tmp_path.iterdir()) == []
