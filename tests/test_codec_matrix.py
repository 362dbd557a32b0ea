"""Real codecs and containers, made here with PyAV's own encoders (Theora, which PyAV's FFmpeg cannot
encode, with the static FFmpeg of the ``imageio-ffmpeg`` test dependency), through ``openfoley generate``.

Every input below that this FFmpeg build can encode goes through ``openfoley generate INPUT -o OUT``
(no other flag: the built-in model) into one of MP4, MKV and MOV, and into the other two through
``io.mux`` with the sound that generate wrote (the call generate makes), so each input meets each
container. Every output must have the input's frames at the input's times, the input's rotation and
display aspect ratio, one audio track (the generated one; the original is dropped) that ends with the
video, and a duration equal to the input's within one AAC frame. Where the container can hold the
input's video stream it is copied (identical packets); where not it is re-encoded as H.264, and
generate says so in one line. Which containers copy which codec is part of the expectation (docs/io.md
has the table).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from mediagen import video_packets

from openfoley.cli import main
from openfoley.errors import ConfigError, OutputError
from openfoley.io import mux, probe, read_audio, read_video

AAC_FRAME = 1024  # samples per AAC frame
CONTAINERS = ("mp4", "mkv", "mov")
VPX = {"deadline": "realtime", "cpu-used": "8"}
X264 = {"preset": "ultrafast"}


@dataclass(frozen=True)
class Case:
    """One input file: ``encoder`` at ``size`` (h, w), ``frames`` frames at ``fps`` (or at ``pts`` in
    ``tb``), in ``name``'s container. ``copied``: the output containers that take its video as it is
    (None: not asserted)."""

    name: str
    encoder: str
    copied: tuple[str, ...] | None
    pix_fmt: str = "yuv420p"
    size: tuple[int, int] = (48, 64)
    frames: int = 12
    fps: int = 25
    options: dict[str, str] = field(default_factory=dict)
    pts: tuple[int, ...] | None = None
    tb: Fraction | None = None
    rotation: int = 0
    audio: str | None = None


CASES = [
    Case("theora.ogg", "libtheora", ("mkv",), audio="libvorbis"),  # made by imageio-ffmpeg's FFmpeg
    Case("mpeg4.avi", "mpeg4", ("mp4", "mkv", "mov"), options={"bf": "2"}, audio="libmp3lame"),  # DivX-style
    Case("msmpeg4.avi", "msmpeg4", ("mkv", "mov")),
    Case("cinepak.avi", "cinepak", ("mov",), pix_fmt="rgb24"),
    Case("mjpeg.avi", "mjpeg", ("mp4", "mkv", "mov"), pix_fmt="yuvj420p"),
    Case("vp8.webm", "libvpx", ("mkv",), options=VPX, audio="libopus"),
    Case("vp9.webm", "libvpx-vp9", ("mp4", "mkv"), options=VPX),
    Case("prores.mov", "prores_ks", ("mkv", "mov"), pix_fmt="yuv422p10le"),
    Case("mpeg2.mpg", "mpeg2video", ("mp4", "mkv", "mov"), audio="mp2"),  # MPEG-PS: starts at 0.53 s
    Case("h264.mkv", "libx264", ("mp4", "mkv", "mov"), options={**X264, "bf": "2"}),
    Case("camcorder.mts", "libx264", ("mp4", "mkv", "mov"), options={**X264, "bf": "2"}, audio="aac"),  # MPEG-TS
    Case("av1.mp4", "libsvtav1", ("mp4", "mkv"), options={"preset": "12"}),  # decoded by libdav1d
    Case("anim.gif", "gif", ("mov",), pix_fmt="rgb8", tb=Fraction(1, 100),
         pts=(0, 10, 15, 40, 45, 50, 80, 90, 95, 100, 130, 140)),  # frame delays of 0.04-0.3 s
    Case("vfr.mp4", "libx264", ("mp4", "mkv", "mov"), options=X264, tb=Fraction(1, 1000),
         pts=(0, 33, 70, 100, 180, 200, 233, 300, 366, 400, 433, 500)),
    Case("vfr.webm", "libvpx", ("mkv",), options=VPX, tb=Fraction(1, 1000),
         pts=(0, 40, 90, 100, 170, 200, 260, 300, 310, 400, 450, 520)),
    Case("phone.mp4", "libx264", ("mp4", "mkv", "mov"), options=X264, size=(64, 48), rotation=90, audio="aac"),
    Case("rot270.webm", "libvpx", ("mkv",), options=VPX, size=(64, 48), rotation=270),  # re-encoded, rotated
    Case("odd-853x480.webm", "libvpx-vp9", ("mp4", "mkv"), options=VPX, size=(480, 853), frames=6),
    Case("odd-7x5.webm", "libvpx", ("mkv",), options=VPX, size=(5, 7)),
    Case("odd-1x1.webm", "libvpx", ("mkv",), options=VPX, size=(1, 1)),
]


def can_encode(name: str) -> bool:
    if name not in av.codecs_available:
        return False
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:  # noqa: BLE001 - UnknownCodecError and friends
        return False


def frame_image(case: Case, i: int) -> np.ndarray:
    """Frame i of ``case``: uint8 (h, w, 3), grey of a level distinct per frame, white top-left block."""
    h, w = case.size
    img = np.full((h, w, 3), 30 + 15 * (i % 12), np.uint8)
    img[: max(1, h // 3), : max(1, w // 3)] = 255
    return img


def external_ffmpeg(encoders: list[str]) -> str | None:
    """The FFmpeg program of the ``imageio-ffmpeg`` test dependency when it has ``encoders`` (its static
    build has libtheora, which PyAV's bundled FFmpeg lacks), else None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    listed = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return exe if all(f" {e} " in listed for e in encoders) else None


def make_external(case: Case, path: Path, exe: str) -> Path:
    """``make`` for a constant-rate case through an FFmpeg program: the same frames piped in as rgb24,
    and silent stereo 48 kHz audio as long as the video if ``case.audio``."""
    assert case.pts is None and not case.rotation and not case.options
    h, w = case.size
    cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(case.fps), "-i", "-"]
    if case.audio:
        cmd += ["-f", "lavfi", "-t", f"{case.frames / case.fps}", "-i", "anullsrc=r=48000:cl=stereo",
                "-c:a", case.audio, "-strict", "-2"]
    cmd += ["-c:v", case.encoder, "-pix_fmt", case.pix_fmt, str(path)]
    frames = b"".join(frame_image(case, i).tobytes() for i in range(case.frames))
    subprocess.run(cmd, input=frames, check=True, capture_output=True)
    return path


def make(case: Case, folder: Path) -> Path:
    """Write ``case``: grey frames of distinct levels, a white top-left block (shows rotation and
    crops), silent original audio as long as the video if ``case.audio``. An encoder that PyAV's FFmpeg
    lacks is taken from ``external_ffmpeg`` where it has it (Theora)."""
    path = folder / case.name
    missing = [e for e in (case.encoder, case.audio) if e and not can_encode(e)]
    if missing:
        exe = external_ffmpeg([e for e in (case.encoder, case.audio) if e])
        if exe is None:
            pytest.skip(f"this FFmpeg build has no {' or '.join(missing)} encoder (nor has imageio-ffmpeg's), "
                        f"so no {case.name} can be made")
        return make_external(case, path, exe)
    h, w = case.size
    with av.open(str(path), mode="w") as out:
        vs = out.add_stream(case.encoder, rate=case.fps)
        vs.width, vs.height, vs.pix_fmt = w, h, case.pix_fmt
        vs.options = dict(case.options)
        if case.tb is not None:
            vs.codec_context.time_base = case.tb
        if case.rotation:
            vs.set_display_rotation(case.rotation)
        aus = None
        if case.audio:
            aus = out.add_stream(case.audio, rate=48000)
            aus.layout = "stereo"
            if case.audio == "vorbis":
                aus.options = {"strict": "-2"}
        for i in range(case.frames):
            fr = av.VideoFrame.from_ndarray(frame_image(case, i), format="rgb24")
            if case.pts is not None:
                fr.pts, fr.time_base = case.pts[i], case.tb
            else:
                fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
        if aus is not None:
            end = (case.pts[-1] * case.tb + Fraction(1, case.fps)) if case.pts else Fraction(case.frames, case.fps)
            n = int(end * 48000)
            for s in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(np.zeros((2, min(1024, n - s)), np.float32), format="fltp",
                                                layout="stereo")
                fr.sample_rate, fr.pts = 48000, s
                out.mux(aus.encode(fr))
            out.mux(aus.encode(None))
    return path


@dataclass
class Shown:
    """The decoded video of a file: frame times on the file's clock and where the last frame ends."""

    codec: str
    times: np.ndarray
    end: float
    dar: Fraction  # display aspect ratio of the coded frame: w * sar / h
    width: int
    height: int
    pix_fmt: str


def shown(path: Path) -> Shown:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        origin = (c.start_time or 0) / av.time_base
        rate = vs.average_rate or vs.guessed_rate or 25
        times, end, fmt = [], 0.0, ""
        for fr in c.decode(vs):
            t = float(fr.time) - origin
            times.append(t)
            end = t + (float(fr.duration * vs.time_base) if fr.duration else 1 / float(rate))
            fmt = fr.format.name
        cc = vs.codec_context
        sar = Fraction(vs.sample_aspect_ratio or 1) or Fraction(1)
        return Shown(cc.codec.name, np.array(times), end, Fraction(cc.width) * sar / cc.height, cc.width, cc.height,
                     fmt)


def nal_units(data: bytes) -> list[bytes]:
    """H.264 NAL units of one packet, whether Annex B (start codes: MPEG-TS) or length-prefixed (MP4/MKV)."""
    if data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        parts = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
        return [u.rstrip(b"\x00") for u in parts if u]
    units, i = [], 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        units.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return units


def payloads(path: Path, codec: str) -> list:
    """The video stream's packets (H.264: as NAL units, the one change a copy into MP4/MKV makes)."""
    packets = video_packets(path)
    return [nal_units(p) for p in packets] if codec == "h264" else packets


def check(src: Path, out: Path, case: Case, sr: int) -> bool:
    """All the matrix's promises for one output; returns whether the video was copied."""
    a, b = shown(src), shown(out)
    what = f"{case.name} -> {out.suffix}"
    assert len(b.times) == len(a.times), (what, a.times, b.times)
    assert np.abs(b.times - a.times).max() <= 1e-3, (what, a.times, b.times)  # Matroska stores milliseconds
    assert b.dar == a.dar, (what, a.dar, b.dar)
    info_in, info = probe(src), probe(out)
    assert info.video.rotation == info_in.video.rotation, what
    with av.open(str(out)) as c:
        tracks = [(s.type, s.codec_context.codec.name) for s in c.streams]
    assert tracks[1:] == [("audio", "aac")], (what, tracks)  # the generated sound only; the original dropped
    assert info.audio.sample_rate == sr
    assert abs(info.duration - a.end) <= AAC_FRAME / sr + 1e-3, (what, info.duration, a.end)
    heard = read_audio(out, sr)
    assert abs(len(heard) / sr - a.end) <= AAC_FRAME / sr + 1e-3, (what, len(heard) / sr, a.end)
    copied = b.codec == a.codec
    if case.copied is not None:
        assert copied == (out.suffix[1:] in case.copied), (what, a.codec, b.codec)
    if copied:  # stream copy: identical bytes (H.264 from MPEG-TS: the same NAL units, length-prefixed)
        assert payloads(out, b.codec) == payloads(src, a.codec), what
    else:
        assert (b.codec, b.pix_fmt) == ("h264", "yuv420p"), (what, b.codec, b.pix_fmt)
        assert (b.width, b.height) == (a.width + a.width % 2, a.height + a.height % 2), what
    # The same picture: rotation applied, aspect kept, the white block in the same corner.
    pa = read_video(src, fps=25, size=(12, 16), resize="pad").frames.float()
    pb = read_video(out, fps=25, size=(12, 16), resize="pad").frames.float()
    assert pa.shape == pb.shape and float((pa - pb).abs().mean()) < 12, (what, float((pa - pb).abs().mean()))
    return copied


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c.name for c in CASES])
def test_generate_into_every_container(i, tmp_path, capsys):
    case = CASES[i]
    src = make(case, tmp_path)
    before = src.read_bytes()
    first = CONTAINERS[i % 3]  # the CLI's own container rotates, so each container gets generate's outputs
    out = tmp_path / f"out.{first}"
    capsys.readouterr()
    assert main(["generate", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    wav, sr = sf.read(out.with_suffix(".wav"), dtype="float32")
    copied = check(src, out, case, sr)
    assert err.count("re-encoding it as H.264") == (0 if copied else 1), err  # one line, only when it happens
    assert "Traceback" not in err
    for suffix in CONTAINERS:
        if suffix != first:
            check(src, mux(src, wav, sr, tmp_path / f"api.{suffix}"), case, sr)
    assert src.read_bytes() == before  # the input is never touched
    assert not list(tmp_path.glob(".*partial*")), "a temporary file was left behind"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    return lambda name: make(next(c for c in CASES if c.name == name), folder)


def test_copy_refuses_with_one_line_and_leaves_nothing(made, tmp_path, capsys):
    src = shutil.copy(made("cinepak.avi"), tmp_path / "in.avi")
    capsys.readouterr()
    assert main(["generate", str(src), "-o", str(tmp_path / "x.mkv"), "--video", "copy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"openfoley generate: error: {tmp_path / 'x.mkv'}: cannot copy"), err
    assert "a .mov output can hold it as it is" in err and "--video auto or reencode" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]
    with pytest.raises(OutputError, match="cannot copy .* cinepak video stream into .mp4"):
        mux(src, np.zeros(800, np.float32), 16000, tmp_path / "y.mp4", video="copy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]
    with pytest.raises(ConfigError, match="video must be one of auto, copy, reencode"):
        mux(src, np.zeros(800, np.float32), 16000, tmp_path / "y.mov", video="transcode")


def test_modes_copy_and_reencode_on_a_copyable_stream(made, tmp_path):
    src = made("h264.mkv")
    lines, progress = [], []
    wav = np.zeros(8000, np.float32)
    copy = mux(src, wav, 16000, tmp_path / "c.mp4", video="copy", on_reencode=lines.append)
    assert video_packets(copy) == video_packets(src) and lines == []
    auto = mux(src, wav, 16000, tmp_path / "a.mp4", on_reencode=lines.append)
    assert video_packets(auto) == video_packets(src) and lines == []  # auto copies where it can
    re = mux(src, wav, 16000, tmp_path / "r.mp4", video="reencode", on_reencode=lines.append,
             progress=lambda d, t: progress.append((d, t)))
    a, b = shown(src), shown(re)
    assert b.codec == "h264" and video_packets(re) != video_packets(src)
    assert np.array_equal(a.times, b.times) and abs(a.end - b.end) < 1e-9
    assert lines == ["h264.mkv: re-encoding the video as H.264 (asked for)"]
    assert progress[-1] == (12, 12) and [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_a_copy_refused_part_way_is_redone_as_a_reencode(made, tmp_path):
    """Timestamps MP4 cannot store show only when the packet comes: the copy restarts as a re-encode."""
    dup = tmp_path / "dup.mkv"
    with av.open(str(made("h264.mkv"))) as i, av.open(str(dup), "w") as o:
        vs = i.streams.video[0]
        vo = o.add_stream_from_template(vs)
        for k, pkt in enumerate(p for p in i.demux(vs) if p.size):
            if k == 3:  # a second frame at 0.08 s (as cut-and-joined recordings have)
                pkt.pts, pkt.dts = pkt.pts - 40, None
            pkt.stream = vo
            o.mux(pkt)
    lines = []
    out = mux(dup, np.zeros(8000, np.float32), 16000, tmp_path / "o.mp4", on_reencode=lines.append)
    assert len(lines) == 1 and "non monotonically increasing dts" in lines[0], lines
    assert shown(out).codec == "h264" and probe(out).audio is not None
    with pytest.raises(OutputError, match="cannot copy"):
        mux(dup, np.zeros(8000, np.float32), 16000, tmp_path / "c.mp4", video="copy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup.mkv", "o.mp4"]


def test_original_audio_kept_copied_or_as_aac(made, tmp_path):
    """--keep-original-audio: the track's packets where the container takes them, else AAC."""
    src = made("vp8.webm")  # VP8 + Opus: MOV holds neither
    wav = np.zeros(8000, np.float32)
    mkv = mux(src, wav, 16000, tmp_path / "k.mkv", keep_original_audio=True)
    mov = mux(src, wav, 16000, tmp_path / "k.mov", keep_original_audio=True)
    with av.open(str(mkv)) as c, av.open(str(src)) as s:
        assert [x.codec_context.codec.name for x in c.streams.audio] == ["aac", "opus"]
        assert [bytes(p) for p in c.demux(c.streams.audio[1]) if p.size] == [
            bytes(p) for p in s.demux(audio=0) if p.size]
    with av.open(str(mov)) as c:
        kept = c.streams.audio[1].codec_context
        assert (c.streams.audio[0].codec_context.codec.name, kept.codec.name) == ("aac", "aac")
        assert (kept.sample_rate, kept.channels) == (48000, 2)
    assert abs(probe(mov).duration - shown(src).end) <= AAC_FRAME / 16000 + 1e-3
