"""``openfoley probe``: a readable table per file, --json for machines, -o for a report file."""

import json

import pytest
from mediagen import make_media

from openfoley.cli import build_parser, main


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    return [
        make_media(d / "clip.mp4", n_frames=50, fps=25, size=(48, 64), sample_rate=44100),
        make_media(d / "phone.mp4", n_frames=10, fps=30, size=(48, 64), acodec=None, rotation=90),
        make_media(d / "fx.wav", vcodec=None, acodec="pcm_s16le", sample_rate=16000, channels=1,
                   audio_seconds=1.25),
    ]


def test_probe_is_the_first_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices)[0] == "probe"


def test_table(media, capsys):
    assert main(["probe", *map(str, media)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 3
    clip, phone, fx = (b.splitlines() for b in blocks)
    assert clip[0] == str(media[0])
    assert clip[1].startswith("  container  mp4, 2.000 s, ")
    assert clip[2] == "  video      h264 64x48 yuv420p, 25.000 fps, 50 frames, 2.000 s"
    assert clip[3] == "  audio      aac 44100 Hz, 2 ch, 2.000 s"
    assert phone[2].endswith("rotated 90 deg (shown 48x64)") and phone[3] == "  audio      none"
    assert fx[1].startswith("  container  wav, 1.250 s, 40.") and fx[1].endswith(" kB")  # 40 kB + header
    assert fx[2] == "  video      none" and fx[3] == "  audio      pcm_s16le 16000 Hz, 1 ch, 1.250 s"


def test_json(media, capsys):
    assert main(["probe", "--json", str(media[0]), str(media[2])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["path"] for d in data] == [str(media[0]), str(media[2])]
    assert data[0]["video"] == {"codec": "h264", "width": 64, "height": 48, "fps": 25.0, "frames": 50,
                                "rotation": 0, "pix_fmt": "yuv420p", "duration": 2.0}
    assert data[1]["video"] is None and data[1]["audio"]["sample_rate"] == 16000


def test_json_marks_bad_files_and_exits_2(media, tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    assert main(["probe", "--json", str(bad), str(media[2])]) == 2
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data[0]["path"] == str(bad) and "not a media file" in data[0]["error"]
    assert data[1]["audio"]["channels"] == 1
    assert err.count("\n") == 1 and str(bad) in err


def test_report_file(media, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["probe", *map(str, media), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    data = json.loads(out.read_text())
    assert [d["container"] for d in data] == ["mp4", "mp4", "wav"]
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
