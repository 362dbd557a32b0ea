"""probe on real files of several containers and codecs, each made here with PyAV."""

import json

import pytest
from mediagen import has_encoder, make_media

from openfoley.io import ProbeResult, probe

# (suffix, video encoder, audio encoder, expected container, video codec, audio codec)
CASES = [
    ("mp4", "libx264", "aac", "mp4", "h264", "aac"),
    ("mov", "libx264", "aac", "mov", "h264", "aac"),
    ("avi", "mpeg4", "libmp3lame", "avi", "mpeg4", "mp3"),
    ("ogg", "libtheora", "vorbis", "ogg", "theora", "vorbis"),
    ("ogg", "libvpx", "vorbis", "ogg", "vp8", "vorbis"),
    ("webm", "libvpx-vp9", "libopus", "webm", "vp9", "opus"),
    ("mkv", "libx264", "pcm_s16le", "matroska", "h264", "pcm_s16le"),
    ("mkv", "mpeg4", "flac", "matroska", "mpeg4", "flac"),
]


@pytest.mark.parametrize("suffix,vc,ac,container,vcodec,acodec", CASES,
                         ids=[f"{c[0]}-{c[4]}-{c[5]}" for c in CASES])
def test_probe_containers(tmp_path, suffix, vc, ac, container, vcodec, acodec):
    for enc in (vc, ac):
        if not has_encoder(enc):
            pytest.skip(f"this FFmpeg build has no {enc} encoder, so no {suffix}/{vcodec} file can be made")
    sr = 48000 if ac == "libopus" else 44100
    path = make_media(tmp_path / f"clip.{suffix}", n_frames=30, fps=15, size=(36, 60), vcodec=vc,
                      acodec=ac, sample_rate=sr, channels=2)
    r = probe(path)
    assert isinstance(r, ProbeResult)
    assert r.path == path and r.size_bytes == path.stat().st_size
    assert r.container == container
    assert r.duration == pytest.approx(2.0, abs=0.07)
    v = r.video
    assert (v.codec, v.width, v.height, v.rotation, v.pix_fmt) == (vcodec, 60, 36, 0, "yuv420p")
    assert v.fps == pytest.approx(15.0)
    # AVI: FFmpeg's mpeg4 encoder leaves one empty "skipped frame" chunk, which the index counts.
    assert v.frames == 30 or (suffix == "avi" and v.frames == 31)
    a = r.audio
    assert (a.codec, a.sample_rate, a.channels) == (acodec, sr, 2)
    assert a.duration == pytest.approx(2.0, abs=0.07)  # mp3/vorbis/opus end on whole codec frames


@pytest.mark.parametrize("suffix,codec", [("wav", "pcm_s16le"), ("flac", "flac"), ("m4a", "aac")])
def test_probe_audio_only(tmp_path, suffix, codec):
    path = make_media(tmp_path / f"a.{suffix}", vcodec=None, acodec=codec, sample_rate=22050, channels=1,
                      audio_seconds=1.5)
    r = probe(path)
    assert r.video is None and r.container == suffix
    assert (r.audio.codec, r.audio.sample_rate, r.audio.channels) == (codec, 22050, 1)
    assert r.audio.duration == pytest.approx(1.5, abs=1e-3) and r.duration == pytest.approx(1.5, abs=1e-3)


def test_probe_video_only_rotation_and_counted_frames(tmp_path):
    path = make_media(tmp_path / "v.mkv", n_frames=17, fps=10, acodec=None, rotation=90)  # mkv: no frame count
    r = probe(path)
    assert r.audio is None and r.video.frames == 17 and r.video.rotation == 90
    assert r.video.display_size == (48, 64)  # coded 64x48, shown rotated
    assert probe(path, count_frames=False).video.frames == 17  # estimated from duration * fps


def test_to_dict_is_json(tmp_path):
    path = make_media(tmp_path / "c.mp4", n_frames=5)
    d = json.loads(json.dumps(probe(path).to_dict()))
    assert d["path"] == str(path) and d["video"]["codec"] == "h264" and d["audio"]["channels"] == 2


def test_probe_mpeg_program_stream_duration_from_packets(tmp_path):
    """MPEG-PS stores no duration; FFmpeg's estimate was 0.04 s for these 12 frames (0.48 s)."""
    path = make_media(tmp_path / "v.mpg", n_frames=12, fps=25, vcodec="mpeg2video", acodec=None)
    for count in (True, False):
        r = probe(path, count_frames=count)
        assert r.container == "mpeg" and r.video.frames == 12, r
        assert abs(r.video.duration - 0.48) < 1e-6 and abs(r.duration - 0.48) < 1e-6, r
