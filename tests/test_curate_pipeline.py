"""``curate`` end to end on metadata written by the tests from the real ontology and class list:
class / descendant / ancestor / unrelated labels, captions, malformed rows, resume, CLI."""

import argparse
import json

import pytest

from openfoley.cli import COMMANDS
from openfoley.cli import curate as cli_curate
from openfoley.data.curate import CurateConfig, curate
from openfoley.data.curate.ontology import Ontology
from openfoley.data.manifest import read_manifest, write_manifest
from openfoley.errors import DataError, OutputError

ONTO = Ontology.load()


def ids(*names):
    return ",".join(ONTO.by_name(n) for n in names)


# (ytid, labels, expected stage or "kept"). Every YTID is 11 characters like YouTube's.
AUDIOSET = [
    ("class000001", ids("Bark"), "vggsound_class"),  # "dog barking" -> Bark
    ("class000002", ids("Electric guitar", "Music"), "vggsound_class"),  # "playing electric guitar"
    ("desc0000001", ids("Rimshot"), "vggsound_class"),  # descendant of Snare drum / Drum
    ("desc0000002", ids("Toot"), "vggsound_class"),  # descendant of Vehicle horn, car horn, honking
    ("ancestor001", ids("Dog"), "vggsound_ancestor"),  # ancestor of Bark, nothing finer
    ("ancestor002", ids("Music", "Guitar"), "vggsound_ancestor"),  # Guitar unexplained
    ("unrelated01", ids("Sawing"), "kept"),
    ("unrelated02", ids("Jackhammer", "Outside, urban or manmade"), "kept"),
    ("unrelated03", ids("Bird", "Gull, seagull"), "kept"),  # Bird explained by an unmapped child
    ("unrelated04", ids("Music", "Pop music"), "kept"),  # Music explained by Pop music
    ("unknown0001", "/m/notreal", "unknown_labels"),
    ("unknown0002", ids("Sawing") + ",/m/notreal", "kept"),  # counted, judged on the known id
]


def audioset_csv(path, extra_lines=()):
    lines = ["# Segments csv created Sun Mar  5 10:54:31 2017",
             "# YTID, start_seconds, end_seconds, positive_labels"]
    lines += [f'{y}, 30.000, 40.000, "{lab}"' for y, lab, _ in AUDIOSET]
    lines += list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


PANDA = [
    ("A man is playing the electric guitar on stage.", "vggsound_caption"),
    ("Two dogs are barking at a mail carrier.", "vggsound_caption"),
    ("A man is sanding a wooden table in a workshop.", "kept"),
    ("A close up of a map with red pins.", "kept"),
]


def panda_csv(path):
    stamps = [["0:00:00.000", "0:00:10.000"], ["0:00:10.000", "0:00:20.000"],
              ["0:00:20.000", "0:00:29.000"], ["0:00:29.000", "0:00:40.000"]]
    caps = [c for c, _ in PANDA]
    rows = ["videoID,url,timestamp,caption,matching_score",
            f'pandavid001,https://youtu.be/x,"{stamps!r}","{caps!r}","[0.4, 0.4, 0.4, 0.4]"',
            "pandavid002,https://youtu.be/y,\"[['0:00:00.000', '0:00:04.000']]\",\"['A red ball on a table.']\",\"[0.3]\"",
            ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_rules_on_fixtures(tmp_path):
    a = audioset_csv(tmp_path / "seg.csv", ['malformed01, 30.0, 20.0, "/m/05tny_"',
                                            'malformed02, 30.0, 40.0, "/m/05tny_'])
    p = panda_csv(tmp_path / "panda.csv")
    res = curate(CurateConfig(audioset=(str(a),), panda=(str(p),)), tmp_path / "out.jsonl")
    kept = {r.id for r in read_manifest(res.manifest)}
    want = {f"{y}_000030" for y, _, s in AUDIOSET if s == "kept"} | {"pandavid001_002", "pandavid001_003"}
    assert kept == want
    rep = json.loads(res.report_path.read_text())
    stages = {s["stage"]: s["removed"] for s in rep["stages"]}
    for stage in ("vggsound_class", "vggsound_ancestor", "unknown_labels", "vggsound_caption"):
        want_n = sum(s == stage for _, _, s in AUDIOSET) + sum(s == stage for _, s in PANDA)
        assert stages[stage] == want_n, stage
    assert stages["malformed"] == 2 and stages["segment_duration"] == 1  # the 4 s Panda clip
    assert rep["examples"]["malformed"] == [
        f"{a}:15: end_seconds 20.0 is not after start_seconds 30.0",
        f"{a}:16: unbalanced quotes in positive_labels"]
    assert rep["unknown_ids"]["rows_with_unknown_ids"] == 2
    assert rep["unknown_ids"]["most_common"] == {"/m/notreal": 2}
    # Each label removal is charged to one VGGSound class (for an ancestor: the first class in table
    # order below it, e.g. "Dog" -> "dog howling").
    assert rep["removed_by_vggsound_class"]["dog barking"] == 1
    assert rep["removed_by_vggsound_class"]["dog howling"] == 1
    assert sum(rep["removed_by_vggsound_class"].values()) == stages["vggsound_class"] + stages["vggsound_ancestor"]
    assert rep["removed_by_caption_class"] == {"playing electric guitar": 1, "dog barking": 1}
    assert rep["kept"] == len(want) and rep["clips_in"] == len(AUDIOSET) + 5
    rec = next(r for r in read_manifest(res.manifest) if r.id == "unrelated01_000030")
    assert (rec.source, rec.split, rec.duration, rec.extra["segment"]) == ("audioset", "test", 10.0, [30.0, 40.0])
    assert rec.extra["label_names"] == ["Sawing"]
    assert not (tmp_path / ".out.jsonl.curate").exists()  # work folder removed on success
    # Records are streamed out in exactly write_manifest's serialisation.
    write_manifest(tmp_path / "again.jsonl", read_manifest(res.manifest))
    assert (tmp_path / "again.jsonl").read_text() == res.manifest.read_text()

    # Ancestor rule off: the bare ancestors are kept.
    res2 = curate(CurateConfig(audioset=(str(a),), exclude_ancestors=False), tmp_path / "o2.jsonl")
    assert {"ancestor001_000030", "ancestor002_000030"} <= {r.id for r in read_manifest(res2.manifest)}


def test_strict_and_bad_inputs(tmp_path):
    a = audioset_csv(tmp_path / "seg.csv", ["onlythree, 1.0, 2.0"])
    with pytest.raises(DataError, match=r"seg.csv:15: malformed row \(expected 4 fields"):
        curate(CurateConfig(audioset=(str(a),), strict=True), tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(DataError, match="not found"):
        curate(CurateConfig(audioset=(str(tmp_path / "none.csv"),)), tmp_path / "x.jsonl")
    bad = tmp_path / "p.csv"
    bad.write_text("id,caption\n")
    with pytest.raises(DataError, match=r"p.csv:1: header lacks"):
        curate(CurateConfig(panda=(str(bad),)), tmp_path / "y.jsonl")
    ok = audioset_csv(tmp_path / "ok.csv")
    curate(CurateConfig(audioset=(str(ok),)), tmp_path / "z.jsonl")
    with pytest.raises(OutputError, match="already exists"):
        curate(CurateConfig(audioset=(str(ok),)), tmp_path / "z.jsonl")


def test_resume_gives_the_same_result(tmp_path):
    """Interrupt after the first checkpoint, rerun: same manifest and same counts as one clean run."""
    lines = []
    for k in range(300):
        lab = ids("Sawing") if k % 3 else ids("Bark")
        lines.append(f'resume{k:05d}, {k}.000, {k + 10}.000, "{lab}"')
        if k % 50 == 7:
            lines.append("garbage line")
    a = tmp_path / "big.csv"
    a.write_text("\n".join(lines) + "\n")
    cfg = CurateConfig(audioset=(str(a),), batch_rows=40, checkpoint_every=40)
    clean = curate(cfg, tmp_path / "clean.jsonl")

    calls = []

    def stop(n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        curate(cfg, tmp_path / "resumed.jsonl", progress=stop)
    assert not (tmp_path / "resumed.jsonl").exists()
    state = json.loads((tmp_path / ".resumed.jsonl.curate" / "state.json").read_text())
    assert state["pos"]["line"] == 80  # two batches of 40 rows (a malformed row counts as a row)
    with pytest.raises(DataError, match="other settings"):
        curate(CurateConfig(audioset=(str(a),), exclude_ancestors=False), tmp_path / "resumed.jsonl")
    resumed = curate(cfg, tmp_path / "resumed.jsonl")
    assert (tmp_path / "resumed.jsonl").read_text() == (tmp_path / "clean.jsonl").read_text()
    strip = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "rows_per_second", "manifest")}
    assert strip(resumed.report) == strip(clean.report)
    assert clean.report["kept"] == 200 and clean.report["stages"][0]["removed"] == 6


def _cli(argv):
    """The ``curate`` subcommand alone (``openfoley.cli.main`` also imports every other command,
    some of which load torch; ``COMMANDS`` listing "curate" is checked separately)."""
    parser = argparse.ArgumentParser()
    cli_curate.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli(tmp_path, capsys):
    a = audioset_csv(tmp_path / "seg.csv")
    out = tmp_path / "bench.jsonl"
    assert _cli(["curate", "--audioset", str(a), "--out", str(out), "--no-exclude-ancestors"]) == 0
    printed = capsys.readouterr().out
    assert "vggsound_class" in printed and "wrote 7 clips" in printed
    assert len(read_manifest(out)) == 7  # 5 kept + the two bare ancestors
    with pytest.raises(OutputError, match="already exists"):
        _cli(["curate", "--audioset", str(a), "--out", str(out)])
    assert "curate" in COMMANDS


def test_audioset_row_parser():
    from openfoley.data.curate.audioset import AudioSetRow, RowError, parse_audioset

    assert parse_audioset('--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"') == AudioSetRow(
        "--PJHxphWEs", 30.0, 40.0, ("/m/09x0r", "/t/dd00088"))
    assert parse_audioset("abc,1,2,/m/09x0r").labels == ("/m/09x0r",)  # single id, unquoted
    assert parse_audioset('abc, 1, 2, " /m/a , /m/b "').labels == ("/m/a", "/m/b")  # slow path, same answer
    assert parse_audioset("abc, 7.5, 17.5, /m/a").clip_id == "abc_000007"
    for bad, msg in [("abc, 1, 2", "expected 4 fields"), ("abc, 1.2.3, 5, /m/a", "not a number"),
                     ("abc, 5, 5, /m/a", "not after"), ('abc, 1, 2, "/m/a', "unbalanced"),
                     ("abc, 1, 2, /m/a,/m/b", "must be quoted"), ('abc, 1, 2, "/m/a,,/m/b"', "bad positive"),
                     ("abc, nan, 2, /m/a", "finite"), ('a"c, 1, 2, /m/a', "bad YTID"),
                     ("abc, 1, 2, /m/\ufffd", "UTF-8")]:
        with pytest.raises(RowError, match=msg):
            parse_audioset(bad)
