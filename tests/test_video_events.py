"""benchmarks/video_events.py: exact sums of its table, a real run on rendered clips, its refusals."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openfoley.data.foleyworld.render import render_split
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.synthbank import make_synth_bank

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "video_events.py"
spec = importlib.util.spec_from_file_location("video_events", PATH)
ve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ve)


def test_clip_kind_is_the_first_events():
    assert ve.clip_kind([{"kind": "walk"}, {"kind": "call"}]) == "walk"
    assert ve.clip_kind([]) == "none"


def test_mix_tracks_by_hand():
    coarse = np.array([0.2, 0.6])  # 12.5 fps: centres 0.04, 0.12 s
    fine = np.array([0.0, 0.4, 0.8, 0.0])  # 25 fps: centres 0.02, 0.06, 0.10, 0.14 s
    for args in ((coarse, 12.5, fine, 25.0), (fine, 25.0, coarse, 12.5)):
        mixed, rate = ve.mix_tracks(*args)
        assert rate == 25.0
        # the coarse track at 0.02 (held: 0.2), 0.06 (0.3), 0.10 (0.5), 0.14 (held: 0.6)
        np.testing.assert_allclose(mixed, [0.1, 0.35, 0.65, 0.3], rtol=0, atol=1e-12)


def test_summary_means_per_kind_and_over_all():
    rows = [{"model": "m", "threshold": 0.3, "kind": "walk", "f1": 1.0, "precision": 1.0, "recall": 1.0},
            {"model": "m", "threshold": 0.3, "kind": "walk", "f1": 0.5, "precision": 0.25, "recall": 1.0},
            {"model": "m", "threshold": 0.3, "kind": "call", "f1": 0.0, "precision": 0.0, "recall": 0.0},
            {"model": "m", "threshold": 0.2, "kind": "call", "f1": 0.75, "precision": 0.5, "recall": 1.0}]
    s = ve.summarise(rows)
    assert s[("m", 0.3)]["walk"] == (0.75, 0.625, 1.0, 2)
    assert s[("m", 0.3)]["call"] == (0.0, 0.0, 0.0, 1)
    assert s[("m", 0.3)]["all"] == (0.5, 0.4166666666666667, 2 / 3, 3)
    assert s[("m", 0.2)]["all"] == (0.75, 0.5, 1.0, 1)
    t = ve.table(s, ["walk", "call"]).splitlines()
    assert t[0] == "| model | threshold | all (3): F1 (P / R) | walk (2) | call (1) |"
    assert t[2] == "| m | 0.30 | 0.500 (0.417 / 0.667) | 0.750 | 0.000 |"


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ve")
    bank = make_synth_bank(root / "bank", seed=0)
    render_split(bank, root / "fw", "test-closed", clips=2, cfg=RenderConfig(seconds=8.0, fps=25, size=64),
                 progress=False)
    return root / "fw"


def test_scores_the_built_in_model_on_rendered_clips(renders, tmp_path):
    log = tmp_path / "ve.jsonl"
    r = subprocess.run([sys.executable, str(PATH), "--models", "builtin", "--foleyworld", str(renders),
                        "--thresholds", "0.2", "0.5", "--log", str(log)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 and {r_["threshold"] for r_ in rows} == {0.2, 0.5}
    assert all(0 <= r_["f1"] <= 1 and r_["split"] == "test-closed" for r_ in rows)
    # a higher threshold keeps a subset of the peaks: precision may rise, recall cannot
    by = {(r_["clip"], r_["threshold"]): r_ for r_ in rows}
    for clip in {r_["clip"] for r_ in rows}:
        assert by[(clip, 0.5)]["recall"] <= by[(clip, 0.2)]["recall"]
    assert "| builtin | 0.20 |" in r.stdout and "| builtin | 0.50 |" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--split", "nope"], "does not exist"),
    (["--thresholds", "1.5"], "--thresholds"),
    (["--limit", "0"], "--limit"),
    (["--models", "/nonexistent/model"], "error: "),
])
def test_bad_input_is_refused_in_one_line(renders, args, message):
    r = subprocess.run([sys.executable, str(PATH), "--foleyworld", str(renders), *args], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert message in r.stderr


def test_table_marks_a_kind_a_row_lacks():
    rows = [{"model": "m", "threshold": 0.3, "kind": "walk", "f1": 1.0, "precision": 1.0, "recall": 1.0},
            {"model": "m", "threshold": 0.2, "kind": "call", "f1": 0.5, "precision": 0.5, "recall": 0.5}]
    t = ve.table(ve.summarise(rows), ["walk", "call"]).splitlines()
    assert t[2].endswith("| 1.000 | - |") and t[3].endswith("| - | 0.500 |")


def test_model_frames_pair_the_event_paths_decode_with_the_models(tmp_path, moving_square):
    """benchmarks/sync_check.model_frames: at the model's rate alone, or (alignment.event_fps 25) beside it the
    path's own frames, k per model frame, every k-th of them the model's (both decodes of one 25 fps file)."""
    import dataclasses

    sys.path.insert(0, str(PATH.parent))
    from sync_check import model_frames

    from openfoley.checkpoint import load_weights
    from openfoley.io import write_video
    from openfoley.pipeline.folders import builtin_model_dir

    cfg = load_weights(builtin_model_dir()).config
    slow = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, event_path=True, event_fps=None,
                                                                  event_pair=False))
    fast = dataclasses.replace(slow, alignment=dataclasses.replace(slow.alignment, event_fps=2 * cfg.video.fps))
    v = write_video(tmp_path / "v.mp4", moving_square(100, 128, fps=25), 25, preset="ultrafast")
    base, none = model_frames(v, slow)
    t = base.shape[1]
    assert none is None and base.shape[0] == 1 and t >= 50  # 4 s of frames at 12.5 fps, or the model's span
    base2, ev = model_frames(v, fast)
    assert ev.shape[:2] == (1, 2 * t) and ev.dtype == base2.dtype
    assert ev[0, ::2].equal(base2[0]) and base2.equal(base)


def test_store_event_frames_decode_a_stores_clips_again_at_the_paths_rate(renders, tmp_path):
    """benchmarks/sync_check.store_event_frames: for a model at one rate None; for its event path at 25 fps
    the store's clips decoded again from their files, every second frame the store's own frame."""
    import dataclasses

    sys.path.insert(0, str(PATH.parent))
    from sync_check import store_event_frames

    from openfoley.checkpoint import load_weights
    from openfoley.data.extract import extract
    from openfoley.features.store import FeatureStore
    from openfoley.pipeline.folders import builtin_model_dir

    cfg = load_weights(builtin_model_dir()).config
    slow = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, event_path=True, event_fps=None,
                                                                  event_pair=False))
    fast = dataclasses.replace(slow, alignment=dataclasses.replace(slow.alignment, event_fps=2 * cfg.video.fps))
    extract(renders / "test-closed" / "manifest.jsonl", tmp_path / "store", slow, progress=False)
    store = FeatureStore(tmp_path / "store")
    assert store_event_frames(store, [0, 1], slow) is None
    ev = store_event_frames(store, [1, 0], fast)
    assert ev.shape == (2, 2 * slow.video_frames, 3, slow.video.size, slow.video.size)
    assert ev[0, ::2].equal(store[1]["frames"]) and ev[1, ::2].equal(store[0]["frames"])


def test_the_mean_of_a_model_and_its_copy_is_the_model(renders, tmp_path):
    """--mix A B: the mean of two tracks; of a model and a copy of its folder it is the model's own track, so
    its rows equal the model's clip for clip; --mix outside --models, or of one model twice, is refused."""
    import shutil

    from openfoley.pipeline.folders import builtin_model_dir

    copy = shutil.copytree(builtin_model_dir(), tmp_path / "copy")
    log = tmp_path / "mix.jsonl"
    r = subprocess.run([sys.executable, str(PATH), "--models", "builtin", str(copy), "--foleyworld", str(renders),
                        "--thresholds", "0.2", "--mix", "builtin", str(copy), "--log", str(log)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    mixed = [x for x in rows if x["model"] == f"builtin+{copy}"]
    own = [x for x in rows if x["model"] == "builtin"]
    assert len(mixed) == len(own) == 2
    assert [(x["clip"], x["f1"], x["precision"], x["recall"]) for x in mixed] == \
        [(x["clip"], x["f1"], x["precision"], x["recall"]) for x in own]
    for bad in (["--mix", "builtin", "builtin"], ["--mix", "builtin", "other"]):
        r = subprocess.run([sys.executable, str(PATH), "--models", "builtin", "--foleyworld", str(renders), *bad],
                           capture_output=True, text=True)
        assert r.returncode == 2 and "--mix" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_falling_object_check_renders_score_as_a_split(tmp_path):
    """--falling FIRST LAST: benchmarks/sync_check.py's renders of those seeds (10 per seed, impacts only), the
    same clips as the check's (its contacts are the truth), scored as a split; FIRST > LAST is refused."""
    sys.path.insert(0, str(PATH.parent))
    from sync_check import check_clip, kind_pool

    from openfoley.checkpoint import load_weights
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.pipeline.folders import builtin_model_dir

    bank = make_synth_bank(tmp_path / "bank", seed=0)
    log = tmp_path / "falling.jsonl"
    r = subprocess.run([sys.executable, str(PATH), "--models", "builtin", "--falling", "3", "3", "--bank", str(bank),
                        "--thresholds", "0.3", "--log", str(log)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "10 clips of falling-3-3" in r.stdout
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [x["clip"] for x in rows] == [f"3/{i}" for i in range(10)]
    assert all(x["kind"] == "impact" and 0 <= x["f1"] <= 1 for x in rows)
    cfg = load_weights(builtin_model_dir()).config
    b = load_bank(bank)
    _, _, contacts = check_clip(b, kind_pool(b, "impact"), RenderConfig(seconds=cfg.seconds, size=128,
                                sample_rate=cfg.audio.sample_rate), 3, 0, tmp_path)
    assert rows[0]["events"] == len(contacts) > 0  # the check's own contacts are the truth
    for args, word in ((["--falling", "4", "3"], "FIRST"), (["--falling", "3", "3", "--mix", "builtin", "x"], "--mix")):
        bad = subprocess.run([sys.executable, str(PATH), *args, "--bank", str(bank)], capture_output=True, text=True)
        assert bad.returncode == 2 and word in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_peak_rules_score_sums_a_tracks_file_and_refuses_another_in_one_line(tmp_path):
    """benchmarks/peak_rules.py score: F1 of a hand-made tracks file (one clip: peaks at frames 2 and 6 of a
    25 fps track at 0.1 s and 0.26 s, events at those instants: F1 1 at 0.5, 0 above both peaks); a missing
    or foreign file is refused in one line."""
    script = PATH.parent / "peak_rules.py"
    track = np.zeros((1, 10))
    track[0, 2], track[0, 6] = 0.9, 0.7
    truth = np.empty(1, dtype=object)
    truth[0] = np.array([0.1, 0.26])  # frame centres 0.1 and 0.26 s
    good = tmp_path / "t.npz"
    np.savez(good, **{"fps": np.float64(25), "threshold": np.float64(0.5), "one/tracks": track, "one/truth": truth})
    r = subprocess.run([sys.executable, str(script), "score", str(good), "--threshold", "0.5", "0.95", "--wait"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[1]: line.split()[2] for line in r.stdout.splitlines() if line.startswith("thr")}
    assert rows == {"0.50": "1.000", "0.95": "0.000"}
    np.save(tmp_path / "x.npy", track)
    for bad in (tmp_path / "missing.npz", tmp_path / "x.npy"):
        r = subprocess.run([sys.executable, str(script), "score", str(bad)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "error:" in r.stderr
