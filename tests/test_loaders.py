"""Dataset loaders: VGGSound CSVs (both layouts), plain video folders, and ``load_clips``."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from openfoley.data.loaders import _parse_vggsound, folder_manifest, load_clips, vggsound_manifest
from openfoley.data.manifest import ClipRecord, write_manifest
from openfoley.errors import DataError
from openfoley.io import probe, write_video

REAL_CSV = Path(__file__).resolve().parents[2] / "shared" / "metadata" / "vggsound_test.csv"  # ../shared


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """One real 1 s mp4 (h264 + aac), copied under many names by the tests."""
    p = tmp_path_factory.mktemp("media") / "clip.mp4"
    rng = np.random.default_rng(0)
    write_video(p, rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8), 12,
                audio=0.1 * rng.standard_normal(16000).astype(np.float32), sample_rate=16000)
    return p


def _media(root: Path, clip: Path, names: list[str]) -> None:
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, root / n)


def test_two_column_csv(tmp_path, clip, caplog):
    csv = tmp_path / "test.csv"
    csv.write_text('glLQrEijrKg_000300.mp4,playing hammond organ\n'
                   '-a_b-c_000010.mp4,"bird chirping, tweeting"\n'
                   'missingone_000001.mp4,dog barking\n'
                   'Zz9_000000.mp4,dog barking\n')
    classes = tmp_path / "classes.csv"
    classes.write_text('"bird chirping, tweeting",1050,animals\ndog barking,1050,animals\n')
    media = tmp_path / "media"
    _media(media, clip, ["glLQrEijrKg_000300.mp4", "sub/-a_b-c_000010.mp4", "Zz9_000000.mkv"])
    with caplog.at_level(logging.WARNING):
        recs = vggsound_manifest(csv, media, classes_csv=classes, split="test")
    assert [r.id for r in recs] == ["glLQrEijrKg_000300", "-a_b-c_000010", "Zz9_000000"]
    r = recs[1]
    assert (r.label, r.group, r.split, r.source) == ("bird chirping, tweeting", "animals", "test", "vggsound")
    assert r.extra == {"ytid": "-a_b-c", "yt_start": 10} and r.start == 0.0 and r.duration is None
    assert Path(r.path) == (media / "sub" / "-a_b-c_000010.mp4").resolve()
    assert recs[2].path.endswith(".mkv") and recs[0].group is None
    assert "1 of 4 rows have no media" in caplog.text and "test.csv:3 missingone_000001" in caplog.text
    with pytest.raises(DataError, match="1 of 4 rows have no media"):
        vggsound_manifest(csv, media, missing="error")


def test_four_column_csv_with_header(tmp_path, clip):
    csv = tmp_path / "vggsound.csv"
    csv.write_text("# YouTube ID,start seconds,label,train/test split\n"
                   "---g-f_I2yQ,1,people marching,test\n"
                   "--0PQM4-hqg,30,waterfall burbling,train\n")
    _media(tmp_path / "v", clip, ["---g-f_I2yQ_000001.mp4", "--0PQM4-hqg_000030.mp4"])
    recs = vggsound_manifest(csv, tmp_path / "v")
    assert [(r.id, r.label, r.split) for r in recs] == [
        ("---g-f_I2yQ_000001", "people marching", "test"),
        ("--0PQM4-hqg_000030", "waterfall burbling", "train")]
    assert probe(recs[0].path).video is not None  # the records point at real, readable media


def test_bad_csvs(tmp_path, clip):
    (tmp_path / "m").mkdir()
    bad = tmp_path / "bad.csv"
    bad.write_text("a_000001.mp4,dog\nnot a row at all\n")
    with pytest.raises(DataError, match=r"bad.csv:2: expected 'ytid_start.mp4,label'"):
        vggsound_manifest(bad, tmp_path / "m")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("a_000001.mp4,dog\nb,3,cat,train\n")
    with pytest.raises(DataError, match=r"mixed.csv:2: 4-column row in a 2-column"):
        vggsound_manifest(mixed, tmp_path / "m")
    dup = tmp_path / "dup.csv"
    dup.write_text("a_000001.mp4,dog\na,1,dog,test\n".replace("a,1,dog,test", "a_000001.mp4,cat"))
    with pytest.raises(DataError, match="listed twice"):
        vggsound_manifest(dup, tmp_path / "m")
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(DataError, match="no VGGSound rows"):
        vggsound_manifest(tmp_path / "empty.csv", tmp_path / "m")
    with pytest.raises(DataError, match="VGGSound CSV not found"):
        vggsound_manifest(tmp_path / "none.csv", tmp_path / "m")
    with pytest.raises(DataError, match="media folder not found"):
        vggsound_manifest(bad, tmp_path / "nowhere")


@pytest.mark.skipif(not REAL_CSV.is_file(), reason="shared VGGSound metadata not present")
def test_real_vggsound_test_csv_parses():
    rows = _parse_vggsound(REAL_CSV)
    assert len(rows) == 15446 and len({(y, s) for _, y, s, _, _ in rows}) == len(rows)
    assert rows[0][1:4] == ("glLQrEijrKg", 300, "playing hammond organ")


def test_folder_manifest(tmp_path, clip):
    root = tmp_path / "videos"
    _media(root, clip, ["dog/a.mp4", "dog/b.MKV", "cat/a.mp4", "top.mp4", "top.webm"])
    (root / "notes.txt").write_text("x")
    (root / "dog" / ".hidden.mp4").write_text("x")
    recs = folder_manifest(root, label_from_folder=True)
    assert [(r.id, r.label) for r in recs] == [
        ("cat/a", "cat"), ("dog/a", "dog"), ("dog/b", "dog"), ("top.mp4", None), ("top.webm", None)]
    assert all(Path(r.path).is_absolute() and Path(r.path).is_file() for r in recs)
    assert folder_manifest(root / "dog")[0].label is None
    with pytest.raises(DataError, match="no video files"):
        folder_manifest(tmp_path, exts=(".flv",))
    with pytest.raises(DataError, match="video folder not found"):
        folder_manifest(tmp_path / "none")


def test_load_clips_sources(tmp_path, clip):
    _media(tmp_path / "ds" / "media", clip, ["x.mp4"])
    m = tmp_path / "ds" / "m.jsonl"
    write_manifest(m, [ClipRecord(id="x", path="media/x.mp4", start=0.5)])
    (recs,) = load_clips(m)
    assert recs.path == str((tmp_path / "ds" / "media" / "x.mp4").resolve()) and recs.start == 0.5
    assert [r.id for r in load_clips(tmp_path / "ds" / "media")] == ["x"]
    csv = tmp_path / "ds" / "v.csv"
    csv.write_text("x_000000.mp4,thing\n")
    _media(tmp_path / "ds" / "media", clip, ["x_000000.mp4"])
    assert [r.label for r in load_clips(csv, tmp_path / "ds" / "media")] == ["thing"]
    write_manifest(m, [ClipRecord(id="x", path="a.mp4"), ClipRecord(id="x", path="b.mp4")])
    with pytest.raises(DataError, match="'x' appears more than once"):
        load_clips(m)
