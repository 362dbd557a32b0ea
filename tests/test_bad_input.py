"""Every bad input named in issue 2, through the Python API and through the CLI.

Each gives a one-line error naming the file and the problem (MediaError / OutputError; on the CLI: exit
code 2, one line on stderr, no traceback) and leaves no partial output file behind.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mediagen import make_media, mp4_boxes

from openfoley.cli import main
from openfoley.errors import MediaError, OutputError
from openfoley.io import mux, probe, read_audio, read_video, write_audio, write_video


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    good = make_media(d / "good.mp4", n_frames=50)
    faststart = make_media(d / "faststart.mp4", n_frames=50, container_options={"movflags": "faststart"})
    (d / "text.mp4").write_text("this is not a video\n" * 20)
    (d / "empty.mp4").write_bytes(b"")
    (d / "folder.mp4").mkdir()
    data, boxes = good.read_bytes(), mp4_boxes(good)
    mdat, moov = boxes["mdat"], boxes["moov"]
    assert mdat[0] < moov[0], "FFmpeg writes the index (moov) after the media data (mdat)"
    (d / "truncated.mp4").write_bytes(data[: mdat[0] + mdat[1] // 2])  # cut in the data: no index
    (d / "truncated_index.mp4").write_bytes(data[: moov[0] + moov[1] // 2])  # cut inside the index
    data, boxes = faststart.read_bytes(), mp4_boxes(faststart)
    assert boxes["moov"][0] < boxes["mdat"][0]
    cut = boxes["mdat"][0] + boxes["mdat"][1] // 2
    (d / "truncated_faststart.mp4").write_bytes(data[:cut])  # index intact, data cut
    return {
        "missing": d / "missing.mp4",
        "directory": d / "folder.mp4",
        "text": d / "text.mp4",
        "empty": d / "empty.mp4",
        "truncated": d / "truncated.mp4",
        "truncated_faststart": d / "truncated_faststart.mp4",
        "truncated_index": d / "truncated_index.mp4",
        "audio_only": make_media(d / "audio_only.m4a", vcodec=None, acodec="aac"),
        "video_only": make_media(d / "video_only.mp4", acodec=None),
        "good": good,
    }


BAD = {
    "missing": "file not found",
    "directory": "is a directory",
    "text": "not a media file",
    "empty": "empty file",
    "truncated": "truncated file",
    "truncated_faststart": "truncated file",
    "truncated_index": "truncated file",
}


def one_line(msg: str, path: Path) -> None:
    assert "\n" not in msg and str(path) in msg, msg


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("reader", ["probe", "read_video", "read_audio"])
def test_bad_file_api(files, case, reader):
    path = files[case]
    call = {"probe": lambda: probe(path), "read_video": lambda: read_video(path, 10, 16),
            "read_audio": lambda: read_audio(path, 16000)}[reader]
    with pytest.raises(MediaError, match=BAD[case]) as e:
        call()
    one_line(str(e.value), path)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_cli(files, case, capsys):
    path = files[case]
    assert main(["probe", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("openfoley probe: error: ") and BAD[case] in err
    one_line(err.strip(), path)
    assert "Traceback" not in err


def test_missing_stream(files, capsys):
    with pytest.raises(MediaError, match="has no video stream") as e:
        read_video(files["audio_only"], 10, 16)
    one_line(str(e.value), files["audio_only"])
    with pytest.raises(MediaError, match="has no audio stream") as e:
        read_audio(files["video_only"], 16000)
    one_line(str(e.value), files["video_only"])
    with pytest.raises(MediaError, match="no video stream"):
        mux(files["audio_only"], np.zeros(100, np.float32), 16000, files["audio_only"].with_suffix(".out.mp4"))
    assert not files["audio_only"].with_suffix(".out.mp4").exists()
    # Through the CLI, both are valid files to probe: each shows "none" for its missing stream.
    assert main(["probe", str(files["audio_only"]), str(files["video_only"])]) == 0
    out = capsys.readouterr().out
    assert out.count("video      none") == 1 and out.count("audio      none") == 1


def test_several_files_one_bad_subprocess(files):
    """Real process: bad files are reported (one line each), good ones still printed, exit code 2."""
    args = [str(files["good"]), str(files["text"]), str(files["missing"]), str(files["video_only"])]
    r = subprocess.run([sys.executable, "-m", "openfoley", "probe", *args], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"openfoley probe: error: {files['text']}: not a media file FFmpeg can read "
        "(Invalid data found when processing input)",
        f"openfoley probe: error: {files['missing']}: file not found",
    ]
    assert str(files["good"]) in r.stdout and str(files["video_only"]) in r.stdout


def test_debug_flag_raises(files):
    """--debug lets the error propagate, so Python prints its traceback."""
    with pytest.raises(MediaError, match="empty file"):
        main(["--debug", "probe", str(files["empty"])])


# --- outputs -------------------------------------------------------------------------------------

WAV = np.zeros(800, np.float32)
FRAMES = np.zeros((2, 3, 16, 16), np.uint8)


def writers(files):
    """Each writer as f(out, force) so every output rule is checked for each."""
    return {
        "write_audio": lambda out, force=False: write_audio(out, WAV, 8000, force=force),
        "write_video": lambda out, force=False: write_video(out, FRAMES, 10, force=force),
        "mux": lambda out, force=False: mux(files["good"], WAV, 8000, out, force=force),
    }


SUFFIX = {"write_audio": ".wav", "write_video": ".mp4", "mux": ".mp4"}


@pytest.mark.parametrize("writer", ["write_audio", "write_video", "mux"])
def test_output_rules_api(files, tmp_path, unwritable_folder, writer):
    w = writers(files)[writer]
    out = tmp_path / f"out{SUFFIX[writer]}"
    assert w(out) == out and out.stat().st_size > 0
    before = out.read_bytes()
    with pytest.raises(OutputError, match="output file exists") as e:
        w(out)
    one_line(str(e.value), out)
    assert out.read_bytes() == before
    w(out, force=True)
    bad_dir = unwritable_folder / f"x{SUFFIX[writer]}"
    with pytest.raises(OutputError, match="cannot write in folder") as e:
        w(bad_dir)
    one_line(str(e.value), bad_dir)
    assert sorted(os.listdir(tmp_path)) == sorted([out.name] + (["ro"] if os.geteuid() else []))


def test_output_equal_to_input_api(files):
    before = files["good"].read_bytes()
    with pytest.raises(OutputError, match="same file as the input") as e:
        mux(files["good"], WAV, 8000, files["good"], force=True)
    one_line(str(e.value), files["good"])
    assert files["good"].read_bytes() == before


def test_output_rules_cli(files, tmp_path, unwritable_folder, capsys):
    good = str(files["good"])
    report = tmp_path / "report.json"
    assert main(["probe", good, "-o", str(report)]) == 0 and report.exists()
    cases = [
        (["probe", good, "-o", str(report)], "output file exists"),
        (["probe", good, "-o", good, "--force"], "same file as the input"),
        (["probe", good, "-o", str(unwritable_folder / "r.json")], "cannot write in folder"),
        (["probe", good, "-o", str(tmp_path / "nope" / "r.json")], "does not exist"),
    ]
    capsys.readouterr()
    for argv, msg in cases:
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and msg in err and "Traceback" not in err, (argv, err)
    assert main(["probe", good, "-o", str(report), "--force"]) == 0
    # A bad input among the files: no report is written at all (no partial output).
    partial = tmp_path / "partial.json"
    assert main(["probe", good, str(files["text"]), "-o", str(partial)]) == 2
    assert not partial.exists()
    assert sorted(p for p in os.listdir(tmp_path) if p != "ro") == ["report.json"]
    assert files["good"].stat().st_size > 1000  # the input was never touched
