"""read_video / iter_video_windows / write_video on real files: VFR, resizing, rotation, windows, memory."""

import os
import re
import tracemalloc

import av
import numpy as np
import pytest
import torch
from mediagen import level, make_media

from openfoley.errors import MediaError
from openfoley.io import VideoClip, iter_video_windows, probe, read_video, write_video

PTS_MS = [0, 33, 50, 120, 130, 400, 410, 420, 700, 760]  # variable frame rate: gaps and bursts


@pytest.fixture(scope="module", params=["mp4", "mkv"])
def vfr_file(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / f"vfr.{request.param}"
    return make_media(path, n_frames=len(PTS_MS), pts_ms=PTS_MS, acodec=None, graded=True)


def test_vfr_resampled_to_fixed_fps(vfr_file):
    fps = 20
    clip = read_video(vfr_file, fps=fps, size=16, duration=0.8)
    assert clip.frames.shape == (16, 3, 16, 16) and clip.frames.dtype == torch.uint8
    assert torch.allclose(clip.times, torch.arange(16, dtype=torch.float64) / fps)
    assert (clip.times.diff() > 0).all() and (clip.source_times.diff() >= 0).all()
    for t, src, frame in zip(clip.times.tolist(), clip.source_times.tolist(), clip.frames, strict=True):
        i = max(j for j, p in enumerate(PTS_MS) if p <= round(t * 1000))  # latest frame at or before t
        assert src == pytest.approx(PTS_MS[i] / 1000, abs=1e-6), (t, src)
        assert abs(frame.float().mean().item() - level(i)) < 4, (t, i, frame.float().mean())


def test_vfr_to_end_of_stream(vfr_file):
    clip = read_video(vfr_file, fps=10, size=8)
    # The stream ends after its last frame (760 ms + that frame's duration): grid 0.0 .. 0.7 at least.
    assert 8 <= len(clip) <= 9
    assert float(clip.source_times[-1]) == pytest.approx(0.7 if len(clip) == 8 else 0.76, abs=1e-6)


def test_start_past_end_is_an_error(vfr_file):
    with pytest.raises(MediaError, match="past the end"):
        read_video(vfr_file, fps=10, size=8, start=5.0)


def test_crop_and_pad(tmp_path):
    path = make_media(tmp_path / "wide.mp4", n_frames=3, size=(48, 64), acodec=None)  # 4:3, grey 30
    pad = read_video(path, fps=25, size=32, resize="pad").frames[0]  # fit 32x24, bars of 4 rows
    assert (pad[:, :4] == 0).all() and (pad[:, 28:] == 0).all()
    assert (pad[:, 5:27].float() - 30).abs().max() <= 3
    crop = read_video(path, fps=25, size=32, resize="crop").frames[0]  # fill 43x32, crop the sides
    assert (crop.float() - 30).abs().max() <= 3
    rect = read_video(path, fps=25, size=(24, 40), resize="pad").frames
    assert rect.shape == (3, 3, 24, 40)
    assert (rect[0, :, :, :4] == 0).all() and (rect[0, :, :, 36:] == 0).all()  # 32x24 centred in 40


@pytest.mark.parametrize("rotation,corner", [(0, "tl"), (90, "bl"), (180, "br"), (270, "tr")])
def test_rotation_applied(tmp_path, rotation, corner):
    """The coded frame (48x64) has a white top-left square; rotation is counter-clockwise."""
    path = make_media(tmp_path / f"r{rotation}.mp4", n_frames=2, size=(48, 64), acodec=None,
                      rotation=rotation, pattern=True)
    assert probe(path).video.rotation == rotation
    tall = rotation % 180 == 90
    size = (64, 48) if tall else (48, 64)
    img = read_video(path, fps=25, size=size, resize="pad").frames[0, 0].float()
    assert (img > 0).all(), "the displayed frame fills the target: no bars"
    q = {"tl": img[:8, :8], "tr": img[:8, -8:], "bl": img[-8:, :8], "br": img[-8:, -8:]}
    for name, block in q.items():
        assert (block.mean() > 200) == (name == corner), (name, block.mean())


def test_windows_match_read_video(tmp_path):
    path = make_media(tmp_path / "w.mp4", n_frames=75, graded=True, acodec=None)  # 3 s
    whole = read_video(path, fps=10, size=16)
    assert len(whole) == 30
    wins = list(iter_video_windows(path, fps=10, size=16, window=1.0, hop=0.5))
    assert [len(w) for w in wins] == [10] * 5
    for j, w in enumerate(wins):
        assert torch.equal(w.frames, whole.frames[5 * j : 5 * j + 10])
        assert torch.equal(w.times, whole.times[5 * j : 5 * j + 10])
    wins = list(iter_video_windows(path, fps=10, size=16, window=0.7))  # 7 frames, no overlap
    assert [len(w) for w in wins] == [7, 7, 7, 7, 2]  # the short tail is yielded
    assert torch.equal(torch.cat([w.frames for w in wins]), whole.frames)


def _rss(key: str) -> int:
    """VmRSS / VmHWM (peak) of this process in bytes, from /proc/self/status."""
    text = open("/proc/self/status").read()
    return int(re.search(rf"{key}:\s+(\d+) kB", text).group(1)) * 1024


def _peak_rss_growth(fn) -> int:
    """Peak resident memory reached while ``fn()`` runs, above the resident memory before it."""
    base = _rss("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS (Linux >= 4.0)
        f.write("5")
    fn()
    return _rss("VmHWM") - base


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc peak-RSS reset")
def test_4k_read_with_bounded_memory(tmp_path):
    """3840x2160 frames are scaled as they are decoded: peak RSS (FFmpeg's buffers included) stays far
    below what holding the frames at full resolution takes."""
    n = 8
    path = make_media(tmp_path / "4k.mp4", n_frames=n, size=(2160, 3840), acodec=None, graded=True)
    read_video(path, fps=25, size=64, duration=0.04)  # warm up: imports, first allocations
    frame = 2160 * 3840 * 3  # 24.9 MB: one full-resolution RGB frame

    def full_res():  # what a reader that decodes first and scales later would hold
        with av.open(str(path)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(frames) == n

    clips = []
    growth = _peak_rss_growth(lambda: clips.append(read_video(path, fps=25, size=64)))
    naive = _peak_rss_growth(full_res)
    assert clips[0].frames.shape == (n, 3, 64, 64)
    # Holding all 8 frames is 199 MB; the allocator may reuse pages freed earlier in the process, so the
    # naive reader is only required to show half of that (measured here: 148-193 MB), and the scaling
    # reader must stay under three frames (measured: 1-39 MB).
    assert naive > 4 * frame, f"the check must be able to fail: full-res decode grew {naive / 1e6:.0f} MB"
    assert growth < 3 * frame, f"reading 4K at 64x64 grew peak RSS by {growth / 1e6:.0f} MB"


def test_long_video_windows_bounded_memory(tmp_path):
    """10 minutes of video read in 10 s windows: Python memory stays at about one window."""
    path = make_media(tmp_path / "long.mp4", n_frames=1800, fps=3, size=(48, 64), acodec=None,
                      graded=True)
    assert probe(path).duration == pytest.approx(600, abs=0.5)
    whole_bytes = 600 * 3 * 64 * 64  # read_video at 1 fps, 64x64: 7.4 MB
    tracemalloc.start()
    n, last = 0, None
    for w in iter_video_windows(path, fps=1, size=64, window=10):
        n += len(w)
        last = w
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 600 and float(last.times[-1]) == pytest.approx(599.0)
    assert peak < whole_bytes / 5, f"peak {peak / 1e6:.1f} MB for windows of 10 s"


def test_write_video_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.full((12, 3, 31, 45), 40, np.uint8)  # odd size: padded to 32x46
    frames[5] = 250
    wav = (0.1 * rng.standard_normal(16000)).astype(np.float32)  # longer than the 0.96 s video
    out = write_video(tmp_path / "o.mp4", torch.from_numpy(frames), fps=12.5, audio=wav, sample_rate=16000)
    info = probe(out)
    assert (info.video.codec, info.video.width, info.video.height, info.video.frames) == ("h264", 46, 32, 12)
    assert info.video.pix_fmt == "yuv420p" and info.video.fps == pytest.approx(12.5)
    assert info.audio.codec == "aac" and info.audio.sample_rate == 16000
    assert info.audio.duration == pytest.approx(12 / 12.5, abs=1e-6)  # audio cut to the video
    back = read_video(out, fps=12.5, size=(32, 46))
    assert int(back.frames.float().mean(dim=(1, 2, 3)).argmax()) == 5
    assert (back.frames[0, :, :31, :45].float() - 40).abs().max() <= 3


def test_write_video_refuses_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"\(t, 3, h, w\)"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=10)
    assert not list(tmp_path.iterdir())


def test_clip_asserts_shapes():
    with pytest.raises(AssertionError, match="times"):
        VideoClip(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.float64),
                  torch.zeros(3, dtype=torch.float64), 10.0)
