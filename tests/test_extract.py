"""``data extract``: real generated clips into a feature store; exact contents, padding, failures,
resume, torchrun ranks, worker processes and the CLI."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from openfoley.cli import main
from openfoley.config import get_preset
from openfoley.data.extract import extract
from openfoley.data.manifest import ClipRecord, write_manifest
from openfoley.errors import DataError
from openfoley.features.mel import log_mel
from openfoley.features.store import FeatureStore, complete_parts
from openfoley.io import read_audio, read_video, write_video

CFG = get_preset("tiny")  # 2 s clips, 12.5 fps, 32x32 frames, 8 kHz audio, 100 mel frames


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("media")
    sr = 16000
    # A: 3 s at 25 fps, black with a white flash during [1.0, 1.2) s; a 1 kHz tone after 1 s.
    frames = np.zeros((75, 3, 64, 64), np.uint8)
    frames[25:30] = 255
    t = np.arange(3 * sr) / sr
    wav = (0.3 * np.sin(2 * np.pi * 1000 * t) * (t >= 1.0)).astype(np.float32)
    write_video(d / "a.mp4", frames, 25, audio=wav, sample_rate=sr)
    rng = np.random.default_rng(0)
    for name in ("b", "c", "d", "e"):  # 1 s noise clips, shorter than the 2 s window
        write_video(d / f"{name}.mp4", rng.integers(0, 256, (25, 3, 48, 64), dtype=np.uint8), 25,
                    audio=0.1 * rng.standard_normal(sr).astype(np.float32), sample_rate=sr)
    write_video(d / "silent.mp4", frames[:25], 25)  # video without an audio stream
    (d / "text.mp4").write_text("not a video")
    return d


def _manifest(media: Path, path: Path, ids=None) -> Path:
    recs = [ClipRecord(id="a", path="a.mp4", start=0.5, label="flash", group="light"),
            ClipRecord(id="a_short", path="a.mp4", duration=0.5),
            ClipRecord(id="b", path="b.mp4"), ClipRecord(id="c", path="c.mp4"),
            ClipRecord(id="d", path="d.mp4"), ClipRecord(id="e", path="e.mp4"),
            ClipRecord(id="silent", path="silent.mp4"), ClipRecord(id="text", path="text.mp4"),
            ClipRecord(id="missing", path="nowhere.mp4"), ClipRecord(id="late", path="b.mp4", start=5.0)]
    recs = [r for r in recs if ids is None or r.id in ids]
    write_manifest(path, [replace(r, path=str(media / r.path)) for r in recs])
    return path


def test_store_holds_exact_decoded_features(media, tmp_path):
    res = extract(_manifest(media, tmp_path / "m.jsonl"), tmp_path / "s", CFG, progress=False)
    assert (res.added, res.skipped) == (6, 0)
    failed = {i: m for i, _, m in res.failed}
    assert set(failed) == {"silent", "text", "missing", "late"}
    assert "has no audio stream" in failed["silent"] and "past the end" in failed["late"]
    s = FeatureStore(tmp_path / "s")
    s.check_compatible(CFG)
    assert len(s) == 6 and set(s.ids) == {"a", "a_short", "b", "c", "d", "e"}

    a = s[s.index_of("a")]
    assert (a["label"], a["group"], a["valid_seconds"]) == ("flash", "light", 2.0)
    ref = read_video(media / "a.mp4", 12.5, 32, start=0.5, duration=2.0).frames
    assert torch.equal(a["frames"], ref)
    wav = read_audio(media / "a.mp4", 8000, start=0.5, duration=2.0)
    assert torch.equal(a["mel"], log_mel(wav, CFG.audio).half().float())
    # The flash at [1.0, 1.2) s of the file shows at grid times 0.5 + i / 12.5 = 1.06, 1.14 only.
    bright = a["frames"].float().mean(dim=(1, 2, 3)) > 128
    assert torch.nonzero(bright).flatten().tolist() == [7, 8]
    # The tone starts at 1.0 s of the file = 0.5 s of the clip = mel frame 25: its bin lights up there.
    k = int(a["mel"][:, 40:].mean(-1).argmax())
    assert float(a["mel"][k, :20].max()) < float(a["mel"][k, 30:].min())

    sh = s[s.index_of("a_short")]  # section of 0.5 s: video holds its last frame, audio is silent
    assert sh["valid_seconds"] == 0.5
    n = round(0.5 * 12.5)
    assert torch.equal(sh["frames"][n:], sh["frames"][n - 1 : n].expand(25 - n, -1, -1, -1))
    first_silent = math.ceil((0.5 * 8000 + CFG.audio.n_fft / 2) / CFG.audio.hop_length)
    assert torch.all(sh["mel"][:, first_silent:] == np.float16(math.log(CFG.audio.log_floor)))
    assert s[s.index_of("b")]["valid_seconds"] == pytest.approx(1.0, abs=0.05)  # 1 s file, 2 s window

    meta = json.loads((tmp_path / "s" / "store.json").read_text())
    assert (meta["clips"], meta["failed"], meta["complete"]) == (6, 4, True)
    assert len((tmp_path / "s" / "failed-r0.jsonl").read_text().splitlines()) == 4


def test_resume_skips_done_and_checks_config(media, tmp_path):
    out = tmp_path / "s"
    extract(_manifest(media, tmp_path / "m1.jsonl", {"b", "c"}), out, CFG, shard_clips=1, progress=False)
    assert complete_parts(out) == ["part-r0-w0-00000", "part-r0-w0-00001"]
    assert json.loads((out / "store.json").read_text())["complete"] is True
    stale = out / "parts" / ".tmp-part-r0-w0-00007-999.frames.npy"  # left by a killed run
    stale.write_bytes(b"x")
    res = extract(_manifest(media, tmp_path / "m2.jsonl", {"b", "c", "d", "e"}), out, CFG, shard_clips=1,
                  progress=False)
    assert (res.added, res.skipped, res.store_clips) == (2, 2, 4)
    assert complete_parts(out)[-1] == "part-r0-w0-00003" and not stale.exists()
    assert FeatureStore(out).ids == ["b", "c", "d", "e"]
    with pytest.raises(DataError, match=r"other settings \(audio.f_max"):
        extract(tmp_path / "m2.jsonl", out, get_preset("small"), progress=False)


def test_torchrun_ranks_take_disjoint_shares(media, tmp_path, monkeypatch):
    m = _manifest(media, tmp_path / "m.jsonl", {"a", "b", "c", "d", "e"})
    out = tmp_path / "s"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    r1 = extract(m, out, CFG, progress=False)
    assert (r1.assigned, r1.added) == (2, 2)
    assert json.loads((out / "store.json").read_text())["complete"] is False
    assert FeatureStore(out).ids == ["b", "d"]  # records[1::2]: a readable, smaller store meanwhile
    monkeypatch.setenv("RANK", "0")
    r0 = extract(m, out, CFG, progress=False)
    assert (r0.assigned, r0.added, r0.store_clips) == (3, 3, 5)
    assert json.loads((out / "store.json").read_text())["complete"] is True
    parts = complete_parts(out)
    assert [p[:7] for p in parts] == ["part-r0", "part-r1"]
    assert sorted(FeatureStore(out).ids) == ["a", "b", "c", "d", "e"]


def test_worker_processes_match_inline(media, tmp_path):
    m = _manifest(media, tmp_path / "m.jsonl", {"b", "c", "d", "e", "text"})
    inline = extract(m, tmp_path / "one", CFG, progress=False)
    multi = extract(m, tmp_path / "two", CFG, workers=2, progress=False)
    assert (multi.added, [f[0] for f in multi.failed]) == (inline.added, ["text"]) == (4, ["text"])
    assert {p[:10] for p in complete_parts(tmp_path / "two")} == {"part-r0-w0", "part-r0-w1"}
    s1, s2 = FeatureStore(tmp_path / "one"), FeatureStore(tmp_path / "two")
    for cid in s1.ids:
        x, y = s1[s1.index_of(cid)], s2[s2.index_of(cid)]
        assert torch.equal(x["frames"], y["frames"]) and torch.equal(x["mel"], y["mel"])


def test_cli(media, tmp_path, capsys):
    m = _manifest(media, tmp_path / "m.jsonl", {"b", "text"})
    code = main(["data", "extract", "--manifest", str(m), "--out", str(tmp_path / "s"), "--preset", "tiny",
                 "--set", "video.size=16", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "1 clips in store" in out and "unreadable text:" in out
    assert FeatureStore(tmp_path / "s")[0]["frames"].shape == (25, 3, 16, 16)
    assert main(["data", "extract", "--manifest", str(tmp_path / "none.jsonl"), "--out",
                 str(tmp_path / "s2"), "--no-progress"]) == 2
    assert "manifest not found" in capsys.readouterr().err and not (tmp_path / "s2").exists()
