"""Media filters on real files made with PyAV: duration, height, SNR, missing and unreadable media,
in-process and in parallel worker processes."""

import json

import av
import numpy as np
import pytest

from openfoley.data.curate import CurateConfig, curate
from openfoley.data.curate.media import MediaRule, check_media
from openfoley.data.curate.ontology import Ontology
from openfoley.data.manifest import read_manifest

SR = 16000
SAWING = Ontology.load().by_name("Sawing")  # unrelated to VGGSound: passes the label stages


def make_clip(path, seconds=10.0, height=240, snr_db=30.0, audio=True, video=True):
    """H.264 video (2 fps, grey frames) + lossless PCM audio whose SNR is known exactly: a 2 kHz floor
    everywhere and a 440 Hz event over the middle half (whole periods per 25 ms frame, see
    test_curate_snr)."""
    width = (height * 4 // 3) // 2 * 2
    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("libx264", rate=2) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"preset": "ultrafast"}
        aus = out.add_stream("pcm_s16le", rate=SR, layout="mono") if audio else None
        if vs is not None:
            img = np.full((height, width, 3), 128, np.uint8)
            for i in range(int(seconds * 2)):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = i
                out.mux(vs.encode(fr))
            out.mux(vs.encode(None))
        if aus is not None:
            n = int(seconds * SR)
            t = np.arange(n) / SR
            a_n = 0.01
            x = a_n * np.sin(2 * np.pi * 2000 * t)
            mid = slice(n // 4, 3 * n // 4)
            x[mid] += a_n * 10 ** (snr_db / 20) * np.sin(2 * np.pi * 440 * t[mid])
            pcm = np.round(x * 32767).astype(np.int16)[None, :]
            fr = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            fr.sample_rate, fr.pts = SR, 0
            out.mux(aus.encode(fr))
            out.mux(aus.encode(None))
    return path


CASES = {  # clip id stem -> (make_clip kwargs or None for missing/"garbage", expected stage)
    "good0000001": (dict(), "kept"),
    "good0000002": (dict(seconds=8.5, height=360, snr_db=20.0), "kept"),
    "short000001": (dict(seconds=5.0), "media_duration"),
    "long0000001": (dict(seconds=13.0), "media_duration"),
    "lowres00001": (dict(height=144), "media_height"),
    "videoless01": (dict(video=False), "media_height"),
    "silentvid01": (dict(audio=False), "media_no_audio"),
    "noisy000001": (dict(snr_db=10.0), "media_snr"),
    "broken00001": ("garbage", "media_unreadable"),
    "missing0001": (None, "media_missing"),
}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate_media")
    (root / "clips").mkdir()
    for ytid, (kw, _) in CASES.items():
        p = root / "clips" / f"{ytid}_000000.mkv"
        if kw == "garbage":
            p.write_bytes(b"\x00not a video" * 100)
        elif kw is not None:
            make_clip(p, **kw)
    lines = [f'{ytid}, 0.000, 10.000, "{SAWING}"' for ytid in CASES]
    (root / "seg.csv").write_text("\n".join(lines) + "\n")
    return root


def test_check_media_measures(media):
    rule = MediaRule().__dict__
    good = check_media(str(media / "clips" / "good0000001_000000.mkv"), rule)
    assert good["reason"] is None and good["height"] == 240
    assert good["duration"] == pytest.approx(10.0, abs=0.05)
    assert good["snr_db"] == pytest.approx(30.0, abs=0.1)  # exact up to 16-bit rounding of the floor
    noisy = check_media(str(media / "clips" / "noisy000001_000000.mkv"), rule)
    assert noisy["reason"] == "snr" and noisy["snr_db"] == pytest.approx(10.0, abs=0.1)
    bad = check_media(str(media / "clips" / "broken00001_000000.mkv"), rule)
    assert bad["reason"] == "unreadable" and "broken00001" in bad["error"]


# workers=2 starts a forkserver that imports openfoley.io (torch, scipy: ~5 s of CPU), hence slow.
@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_media_stages(media, tmp_path, workers):
    cfg = CurateConfig(audioset=(str(media / "seg.csv"),), media_dir=str(media / "clips"),
                       workers=workers, media_batch=4)
    res = curate(cfg, tmp_path / "out.jsonl")
    recs = read_manifest(res.manifest)
    assert {r.id for r in recs} == {f"{y}_000000" for y, (_, s) in CASES.items() if s == "kept"}
    stages = {s["stage"]: s["removed"] for s in json.loads(res.report_path.read_text())["stages"]}
    for stage in {s for _, s in CASES.values()} - {"kept"}:
        assert stages[stage] == sum(s == stage for _, s in CASES.values()), stage
    assert res.report["examples"]["media_missing"] == ["missing0001_000000"]
    r = next(r for r in recs if r.id == "good0000002_000000")
    assert r.resolve(tmp_path).resolve() == (media / "clips" / "good0000002_000000.mkv").resolve()
    assert r.duration == pytest.approx(8.5, abs=0.05) and r.extra["height"] == 360
    assert r.extra["snr_db"] == pytest.approx(20.0, abs=0.1)
