"""``openfoley generate`` end to end on the tiny smoke-trained model and real media files."""

from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from mediagen import make_media, video_packets
from smokemodel import smoke_weights

from openfoley.cli import main
from openfoley.io import probe, read_audio, write_video
from openfoley.io.image import decode_png
from openfoley.lite.runtime import LitePipeline
from openfoley.pipeline import FoleyPipeline

AAC_FRAME = 1024  # samples per AAC frame


def frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """uint8 (n, 3, h, w): a bright square bouncing on a dark background."""
    fr = np.full((n, 3, h, w), 30, np.uint8)
    ys = ((h - 8) * np.abs(np.sin(np.arange(n) * 0.17))).astype(int)
    for i, y in enumerate(ys):
        fr[i, :, y : y + 8, 20:28] = 230
    return fr


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return smoke_weights(tmp_path_factory)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """3 s at 25 fps, 64x48, with its own (sine) audio track."""
    sr = 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr)).astype(np.float32)
    return write_video(tmp_path_factory.mktemp("src") / "clip.mp4", frames(75), 25, audio=tone, sample_rate=sr,
                       preset="ultrafast")


def gen(*args) -> int:
    return main(["generate", "--no-progress", "--device", "cpu", *map(str, args)])


def audio_streams(path) -> int:
    with av.open(str(path)) as c:
        return len(c.streams.audio)


@pytest.mark.parametrize("runtime", ["auto", "torch"])  # auto: the lite runtime on this CPU machine
def test_single_file(runtime, weights, source, tmp_path, capsys):
    v = shutil.copy(source, tmp_path / "clip.mp4")
    assert gen(v, "--model", weights, "--plot", "--seed", 5, "--runtime", runtime) == 0
    out = tmp_path / "clip_foley.mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_foley.mp4", "clip_foley.png",
                                                          "clip_foley.wav"]
    assert str(out) in capsys.readouterr().out
    assert video_packets(out) == video_packets(v)  # the original video stream, copied
    info = probe(out)
    sr = 8000  # the tiny model's rate
    assert info.audio.codec == "aac" and info.audio.sample_rate == sr and audio_streams(out) == 1
    assert abs(info.audio.duration - info.video.duration) <= AAC_FRAME / sr
    wav, wav_sr = sf.read(tmp_path / "clip_foley.wav", dtype="float32")
    assert wav_sr == sr and len(wav) == round(3.0 * sr)
    pipe = LitePipeline.from_pretrained(weights) if runtime == "auto" else FoleyPipeline.from_pretrained(weights, "cpu")
    ref = pipe(v, seed=5).wav
    assert np.abs(wav - np.clip(ref, -1, 1)).max() <= 1.0 / 32767  # OUT.wav is the generated sound (16-bit)
    heard = read_audio(out, sr).numpy()  # the mp4's AAC track carries the same sound
    assert abs(len(heard) - len(wav)) <= AAC_FRAME
    m = min(len(heard), len(wav))
    assert np.corrcoef(heard[:m], wav[:m])[0, 1] > 0.9
    assert decode_png((tmp_path / "clip_foley.png").read_bytes()).shape[1] == 960


def test_seed_section_and_original_audio(weights, source, tmp_path):
    out = tmp_path / "a.mp4"
    assert gen(source, "-o", out, "--model", weights, "--seed", 3) == 0
    first = (tmp_path / "a.wav").read_bytes()
    assert gen(source, "-o", out, "--model", weights, "--seed", 3, "--force") == 0
    assert (tmp_path / "a.wav").read_bytes() == first  # same seed, same sound
    assert gen(source, "-o", out, "--model", weights, "--seed", 4, "--force") == 0
    assert (tmp_path / "a.wav").read_bytes() != first
    # a section, placed on the video's clock, with the original audio kept as a second track
    sec = tmp_path / "s.mp4"
    assert gen(source, "-o", sec, "--model", weights, "--start", 1.0, "--duration", 1.5, "--keep-original-audio") == 0
    wav, sr = sf.read(tmp_path / "s.wav", dtype="float32")
    assert len(wav) == round(1.5 * sr)
    assert audio_streams(sec) == 2 and video_packets(sec) == video_packets(source)
    heard = read_audio(sec, sr).numpy()
    assert np.abs(heard[: int(0.9 * sr)]).max() < 1e-3 < np.abs(heard[int(1.1 * sr) : int(2.4 * sr)]).max()


def test_folder_with_a_bad_file(weights, tmp_path, capsys):
    d = tmp_path / "videos"
    d.mkdir()
    for name in ("a", "b"):
        write_video(d / f"{name}.mp4", frames(40), 25, preset="ultrafast")
    (d / "bad.mp4").write_text("this is not a video\n")
    (d / "notes.txt").write_text("ignored\n")
    rc = gen(d, "--model", weights)
    out = capsys.readouterr()
    assert rc == 2
    assert sorted(p.name for p in (tmp_path / "videos_foley").iterdir()) == ["a.mp4", "a.wav", "b.mp4", "b.wav"]
    assert "generated 2 of 3 videos" in out.out and "bad.mp4" in out.out
    assert "bad.mp4" in out.err and "Traceback" not in out.err
    assert gen(d, "--model", weights, "-o", tmp_path / "again", "--force") == 2


def _bad_model(weights, tmp_path):
    bad = shutil.copytree(weights, tmp_path / "oldmodel")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["alignment"]["renamed_field"] = 0.5
    (bad / "config.json").write_text(json.dumps(cfg))
    return bad


CASES = {
    "missing file": lambda t, w, s: ["missing.mp4"],
    "empty folder": lambda t, w, s: [(t / "empty").mkdir() or t / "empty"],
    "file given as --model": lambda t, w, s: [s, "-o", t / "o.mp4", "--model", s],
    "text named .mp4": lambda t, w, s: [(t / "notes.mp4").write_text("hello\n") and t / "notes.mp4", "-o", t / "o.mp4"],
    "audio only": lambda t, w, s: [make_media(t / "audio.mp4", vcodec=None, acodec="aac", sample_rate=8000,
                                              channels=1, audio_seconds=2.0), "-o", t / "o.mp4"],
    "single frame": lambda t, w, s: [write_video(t / "one.mp4", frames(1), 25, preset="ultrafast"), "-o", t / "o.mp4"],
    "not a model": lambda t, w, s: [s, "-o", t / "o.mp4", "--model", (t / "m").mkdir() or t / "m"],
    "config of another version": lambda t, w, s: [s, "-o", t / "o.mp4", "--model", _bad_model(w, t)],
    "cuda absent": lambda t, w, s: [s, "-o", t / "o.mp4", "--device", "cuda"],
    "output is input": lambda t, w, s: [shutil.copy(s, t / "in.mp4"), "-o", t / "in.mp4"],
    "output exists": lambda t, w, s: [s, "-o", (t / "o.wav").write_text("x") and t / "o.mp4"],
    "output folder missing": lambda t, w, s: [s, "-o", t / "nowhere" / "o.mp4"],
    "negative onset guidance": lambda t, w, s: [s, "-o", t / "o.mp4", "--onset-guidance", "-1"],
}
EXPECT = {
    "missing file": "no such file", "empty folder": "no video files", "file given as --model": "not a model folder",
    "text named .mp4": "not a media file", "audio only": "no video stream", "single frame": "too short",
    "not a model": "not a model folder", "config of another version": "does not match this version",
    "cuda absent": "CUDA is not available", "output is input": "same file as the input",
    "output exists": "exists", "output folder missing": "does not exist",
    "negative onset guidance": "--onset-guidance must be a finite number >= 0",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_no_files(case, weights, source, tmp_path, capsys):
    if case == "cuda absent" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    args = CASES[case](tmp_path, weights, source)
    before = {p: p.stat().st_size for p in tmp_path.rglob("*")}
    rc = main(["generate", "--no-progress", *map(str, args)] + ([] if "--model" in map(str, args) else
                                                               ["--model", str(weights)]))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("openfoley generate: error:") and EXPECT[case] in err[0], err
    after = {p: p.stat().st_size for p in tmp_path.rglob("*")}
    assert after == before, set(after) ^ set(before)  # nothing written, nothing left half-done
