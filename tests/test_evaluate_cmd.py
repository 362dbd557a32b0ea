"""``evaluate_dirs`` and ``openfoley evaluate`` / ``openfoley evaluators train`` on real mp4 files.

Reference clips are synthetic falling-square clips (``training.synthetic``) encoded with PyAV; the
evaluators are trained here on a generated bank and a synthetic feature store (about 10 s of CPU).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_evaluators import make_bank, train_tiny_audio, train_tiny_sync

from openfoley.cli import main
from openfoley.config import get_preset
from openfoley.evaluation.evaluate import evaluate_dirs, format_table
from openfoley.evaluation.evaluators import load_evaluators, save_evaluator
from openfoley.io import write_video
from openfoley.training.synthetic import make_synthetic_store, synthetic_clip

N_CLIPS = 8


def _write_clips(folder: Path, clips, audio_from=None) -> None:
    folder.mkdir(parents=True)
    cfg = get_preset("tiny")
    for i, (frames, wav, times) in enumerate(clips):
        wav = wav if audio_from is None else audio_from[i][1]
        write_video(folder / f"clip-{i}.mp4", frames, cfg.video.fps, audio=wav, sample_rate=cfg.audio.sample_rate)
        (folder / f"clip-{i}.json").write_text(json.dumps({"events": [{"time": t} for t in times]}))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    cfg = get_preset("tiny")
    audio, audio_report = train_tiny_audio(make_bank(root / "bank", per_class=6), steps=30)
    store = make_synthetic_store(root / "store", cfg, 40, seed=0)
    sync, sync_report = train_tiny_sync(store, None, steps=80)
    ev = root / "ev"
    save_evaluator(ev / "audio", audio, {"report": audio_report})
    save_evaluator(ev / "sync", sync, {"report": sync_report})

    rng = np.random.default_rng(5)
    clips = [synthetic_clip(cfg, rng) for _ in range(N_CLIPS)]
    others = [synthetic_clip(cfg, rng) for _ in range(N_CLIPS)]
    _write_clips(root / "ref", clips)
    shutil.copytree(root / "ref", root / "same")
    _write_clips(root / "other", clips, audio_from=others)  # same video, another clip's audio
    return {"root": root, "ev": ev, "ref": root / "ref", "same": root / "same", "other": root / "other",
            "bank": root / "bank", "store": store}


@pytest.fixture(scope="module")
def results(setup):
    ev = load_evaluators(setup["ev"])
    return (evaluate_dirs(setup["same"], setup["ref"], ev), evaluate_dirs(setup["other"], setup["ref"], ev))


def test_identical_folders_score_perfectly(results):
    same, _ = results
    assert same["clips"] == N_CLIPS and same["skipped"] == []
    assert abs(same["fad"]) < 1e-6, same["fad"]
    assert abs(same["kld"]) < 1e-4, same["kld"]
    assert same["align_acc"] == same["align_acc_reference"]
    assert same["onset_acc"] == 1.0 and same["onset_ap"] == 1.0 and same["onset_detection_acc"] == 1.0
    assert same["event_time"]["clips"] == N_CLIPS
    assert same["sync_heldout"]["accuracy"] >= 0.8  # the classifier's own report travels with the result
    assert same["evaluators"]["audio"].startswith("audio-v1-")


def test_another_clips_audio_scores_worse(results):
    same, other = results
    # Measured: FAD 0.0 -> 1.78, KLD 0.0 -> 0.17, Align Acc 1.0 -> 0.0 (reference 1.0), onset detection
    # accuracy 1.0 -> 0.17, event-time F1 0.91 -> 0.15.
    assert other["fad"] > same["fad"] + 0.1, (same["fad"], other["fad"])
    assert other["kld"] > same["kld"] + 0.05, (same["kld"], other["kld"])
    assert same["align_acc_reference"] >= 0.75, same
    assert other["align_acc"] <= other["align_acc_reference"] - 0.5, other
    assert other["onset_detection_acc"] < same["onset_detection_acc"]
    assert other["event_time"]["f1"] < same["event_time"]["f1"]


def test_cli_prints_table_and_writes_json_atomically(setup, capsys, tmp_path):
    out = tmp_path / "results.json"
    argv = ["evaluate", "--generated", str(setup["same"]), "--reference", str(setup["ref"]),
            "--evaluators", str(setup["ev"]), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Align Acc" in printed and "FAD" in printed and "held-out accuracy" in printed
    data = json.loads(out.read_text())
    for key in ("fad", "kld", "align_acc", "onset_acc", "onset_ap", "evaluators", "sync_heldout"):
        assert key in data
    before = out.read_text()
    assert main(argv) == 2  # exists, no --force
    err = capsys.readouterr().err.strip()
    assert "output file exists" in err and len(err.splitlines()) == 1
    assert out.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


@pytest.mark.parametrize("case", ["missing", "empty", "no-match", "no-evaluators", "all-unreadable"])
def test_bad_inputs_give_one_line_errors(setup, tmp_path, capsys, case):
    gen, ref, ev = setup["same"], setup["ref"], setup["ev"]
    if case == "missing":
        gen, expect = tmp_path / "nope", "generated folder not found"
    elif case == "empty":
        gen, expect = tmp_path / "empty", "no .mp4 files"
        gen.mkdir()
    elif case == "no-match":
        gen, expect = tmp_path / "renamed", "no file name matches"
        gen.mkdir()
        shutil.copy(ref / "clip-0.mp4", gen / "other-name.mp4")
    elif case == "no-evaluators":
        ev, expect = tmp_path / "no-ev", "evaluators folder not found"
    else:
        gen, ref, expect = tmp_path / "g", tmp_path / "r", "could be read"
        for d in (gen, ref):
            d.mkdir()
            (d / "x.mp4").write_bytes(b"not a video at all")
    code = main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--evaluators", str(ev)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expect in err, err


def test_unreadable_pair_is_skipped_and_reported(setup, tmp_path):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    shutil.copytree(setup["same"], gen)
    shutil.copytree(setup["ref"], ref)
    (gen / "broken.mp4").write_bytes(b"\x00" * 100)
    shutil.copy(ref / "clip-0.mp4", ref / "broken.mp4")
    (ref / "lonely.mp4").write_bytes(b"")
    res = evaluate_dirs(gen, ref, setup["ev"], max_seconds=1.0)
    assert res["clips"] == N_CLIPS
    assert res["fad_windows"] == [N_CLIPS, N_CLIPS]  # 2 s clips cut to 1 s: one 1 s window each
    assert [s["name"] for s in res["skipped"]] == ["broken.mp4"] and "broken.mp4" in res["skipped"][0]["error"]
    assert res["unmatched"] == {"generated_only": [], "reference_only": ["lonely.mp4"]}


def test_evaluators_train_cli(setup, tmp_path, capsys):
    out = tmp_path / "ev"
    argv = ["evaluators", "train", "--bank", str(setup["bank"]), "--store", str(setup["store"]), "--out", str(out),
            "--audio-steps", "2", "--sync-steps", "2", "--batch-size", "4", "--window", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "val accuracy" in printed
    ev = load_evaluators(out)
    assert ev.audio.cfg.classes == ("chirp", "high tone", "low tone", "noise burst")
    assert ev.sync.cfg.window == 2.0 and ev.sync.cfg.audio.sample_rate == 8000
    assert ev.sync_meta["report"]["steps_done"] == 2
    assert main(argv) == 2  # exists without --force
    assert "exists" in capsys.readouterr().err

    # --only sync: just the sync folder is replaced; no bank needed; the audio weights stay as they were
    audio_version = ev.versions["audio"]
    only = ["evaluators", "train", "--only", "sync", "--store", str(setup["store"]), "--out", str(out),
            "--sync-steps", "3", "--batch-size", "4", "--window", "2", "--force"]
    assert main(only) == 0
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "val accuracy" not in printed
    again = load_evaluators(out)
    assert again.versions["audio"] == audio_version and again.sync_meta["report"]["steps_done"] == 3
    assert main(["evaluators", "train", "--only", "audio", "--out", str(tmp_path / "x")]) == 2
    assert "needs a sound bank" in capsys.readouterr().err

    # check: the held-out measurement on a whole store, as printed by train
    assert main(["evaluators", "check", "--store", str(setup["store"]), "--evaluators", str(out)]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    # the setup's classifier (80 steps on this very store) tells its own clips' pairs apart
    assert main(["evaluators", "check", "--store", str(setup["store"]), "--evaluators", str(setup["ev"])]) == 0
    acc = float(capsys.readouterr().out.split("held-out accuracy ")[1].split()[0])
    assert acc >= 0.8, acc
    # the shipped classifier reads 64 px, 16 kHz features: the tiny store does not fit it
    assert main(["evaluators", "check", "--store", str(setup["store"])]) == 2
    assert "differ from the sync classifier's" in capsys.readouterr().err


def test_audio_only_evaluators_report_no_align_acc(setup, tmp_path):

    folder = tmp_path / "ev"
    shutil.copytree(Path(setup["ev"]) / "audio", folder / "audio")
    res = evaluate_dirs(setup["same"], setup["ref"], load_evaluators(folder))
    assert res["align_acc"] is None and res["evaluators"]["sync"] == "none"
    assert abs(res["fad"]) < 1e-6 and res["onset_acc"] == 1.0
    assert "no sync classifier" in format_table(res)
