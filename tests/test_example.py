"""The README's example video: rendered here, silent, with ground truth beside it."""

import json

from openfoley.cli import main
from openfoley.io import probe


def test_example_video(tmp_path, capsys):
    out = tmp_path / "ex.mp4"
    assert main(["data", "example", "--out", str(out), "--seconds", "2", "--size", "64"]) == 0
    info = probe(out)
    assert info.audio is None and info.video is not None
    assert (info.video.width, info.video.height) == (64, 64)
    assert abs(info.duration - 2.0) < 0.05
    truth = json.loads(out.with_suffix(".json").read_text())
    assert truth["events"] and all(0 <= e["time"] < 2.0 for e in truth["events"])
    assert main(["data", "example", "--out", str(out)]) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err
