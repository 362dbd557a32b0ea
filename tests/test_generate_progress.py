"""``openfoley generate``'s per-window progress: the window count before the first window, one step per
window with an ETA on stderr, nothing with ``--no-progress``; on the tiny smoke-trained model (2 s
windows) and a real 5 s mp4 (4 windows)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from smokemodel import smoke_weights

from openfoley.cli import main
from openfoley.io import write_video
from openfoley.pipeline import FoleyPipeline


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return smoke_weights(tmp_path_factory)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    n, h, w = 125, 48, 64  # 5 s at 25 fps
    fr = np.full((n, 3, h, w), 30, np.uint8)
    for i in range(n):
        y = int((h - 8) * abs(np.sin(i * 0.17)))
        fr[i, :, y : y + 8, 20:28] = 230
    return write_video(tmp_path_factory.mktemp("src") / "clip.mp4", fr, 25, preset="ultrafast")


def test_pipeline_reports_the_total_before_the_first_window(weights, clip):
    pipe = FoleyPipeline.from_pretrained(weights, device="cpu")
    calls: list[tuple[int, int]] = []
    res = pipe(clip, progress=lambda done, total: calls.append((done, total)))
    total = pipe.plan.count(round(5.0 * pipe.cfg.video.fps))
    assert total == res.windows >= 3
    assert calls == [(d, total) for d in range(total + 1)]


def test_cli_shows_a_window_bar_with_an_eta(weights, clip, tmp_path, capsys):
    assert main(["generate", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(weights),
                 "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    # tqdm redraws with \r: the states the bar went through, each "n/total [elapsed<remaining, rate]".
    states = re.findall(r"(\d+)/(\d+) \[(\d\d:\d\d)<([\d:?]+)", err)
    assert states, f"no progress bar on stderr: {err!r}"
    totals = {int(t) for _, t, _, _ in states}
    assert len(totals) == 1 and totals.pop() >= 3  # the total was known from the start
    assert int(states[0][0]) == 0 and int(states[-1][0]) == int(states[-1][1])
    assert "window" in err
    assert any(re.fullmatch(r"\d\d:\d\d", eta) for n, _, _, eta in states if int(n) > 0)  # an ETA once timed


def test_cli_no_progress_is_silent(weights, clip, tmp_path, capsys):
    assert main(["generate", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(weights),
                 "--device", "cpu", "--no-progress"]) == 0
    assert "window" not in capsys.readouterr().err
