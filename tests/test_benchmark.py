"""``openfoley benchmark``: rows rendered from a FoleyWorld split and evaluated, end to end on tiny parts."""

import json

import pytest
from smokemodel import smoke_weights
from test_evaluators import make_bank, train_tiny_audio

from openfoley.benchmark import (
    collect_results,
    differences_markdown,
    results_markdown,
    retrieval_sources,
    run_benchmark,
    summarise,
)
from openfoley.config import get_preset
from openfoley.data.extract import extract
from openfoley.data.foleyworld.render import render_split
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import ConfigError, ModelError
from openfoley.evaluation.evaluators import save_evaluator


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    bank = make_synth_bank(root / "bank", seed=0)
    render_split(bank, root / "fw", "test-closed", clips=3, cfg=RenderConfig(seconds=2.0, fps=25, size=64),
                 progress=False)
    render_split(bank, root / "fw", "train", clips=4, cfg=RenderConfig(seconds=2.0, fps=25, size=64),
                 progress=False)
    extract(root / "fw" / "train" / "manifest.jsonl", root / "store", get_preset("tiny"), progress=False)
    audio, report = train_tiny_audio(make_bank(root / "ebank", per_class=4), steps=5)
    save_evaluator(root / "ev" / "audio", audio, {"report": report})
    return {"split": root / "fw" / "test-closed", "ev": root / "ev", "weights": smoke_weights(tmp_path_factory),
            "root": root}


def test_rows_are_rendered_and_scored(parts):
    out = parts["root"] / "out"
    kw = dict(base_preset="tiny", full_model=str(parts["weights"]), evaluators=parts["ev"], progress=False,
              train_store=parts["root"] / "store", retrieval_videos=parts["root"] / "fw" / "train")
    res = run_benchmark(parts["split"], out, ["full", "ground-truth", "shuffled", "retrieval"], seeds=[0, 1], **kw)
    assert set(res) == {"full", "ground-truth", "shuffled", "retrieval"}
    assert set(res["full"]) == {0, 1} and set(res["retrieval"]) == {0, 1}
    assert set(res["ground-truth"]) == {None} and set(res["shuffled"]) == {None}  # fixed rows: one run
    for per_seed in res.values():
        for row in per_seed.values():
            assert row["clips"] == 3 and row["skipped"] == [] and row["align_acc"] is None
    # the real clips' own audio would score exactly 0; shuffled real audio is paired with the wrong clip
    assert res["shuffled"][None]["kld"] > 0
    for seed in (0, 1):
        assert len(list((out / "full" / f"seed-{seed}").glob("*.mp4"))) == 3
    assert collect_results(out) == {k: {s: json.loads(json.dumps(m)) for s, m in v.items()} for k, v in res.items()}

    # finished (row, seed) pairs are kept: a rerun renders and scores nothing again
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run_benchmark(parts["split"], out, ["full", "shuffled"], seeds=[0, 1], **kw)
    assert again["full"] == res["full"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamp


def test_missing_variant_and_unknown_row(parts):
    with pytest.raises(ModelError, match="no weights for variant 'no-mma'"):
        run_benchmark(parts["split"], parts["root"] / "out2", ["no-mma"], base_preset="tiny",
                      model_root=parts["root"] / "models", evaluators=parts["ev"], progress=False)
    with pytest.raises(ConfigError, match="unknown row"):
        run_benchmark(parts["split"], parts["root"] / "out3", ["nope"], evaluators=parts["ev"], progress=False)


def test_retrieval_finds_a_training_clip_for_itself(parts):
    """A training clip's nearest training clip by video features is itself."""
    train = sorted((parts["root"] / "fw" / "train").glob("*.mp4"))
    found = retrieval_sources(parts["weights"], parts["root"] / "store", parts["root"] / "fw" / "train", train)
    assert found == train


def _m(fad, f1, clips=10):
    return {"clips": clips, "fad": fad, "kld": 1.0, "align_acc": None, "onset_acc": 0.5, "onset_ap": 0.25,
            "event_time": {"f1": f1}}


def test_summary_is_mean_and_sample_std_over_seeds():
    s = summarise({0: _m(1.0, 0.2), 1: _m(3.0, 0.4), 2: _m(5.0, float("nan"), clips=9)})
    assert s["seeds"] == [0, 1, 2] and s["clips"] == 9
    assert s["fad"] == {"mean": 3.0, "std": 2.0, "n": 3}  # stdev of 1, 3, 5 with ddof 1
    assert s["event_f1"]["n"] == 2 and abs(s["event_f1"]["mean"] - 0.3) < 1e-12  # NaN seeds left out
    assert abs(s["event_f1"]["std"] - 0.1414213562373095) < 1e-12
    assert s["align_acc"] is None
    one = summarise({None: _m(2.0, 0.5)})
    assert one["seeds"] == [] and one["fad"] == {"mean": 2.0, "std": 0.0, "n": 1}


def test_markdown_table_cells():
    md = results_markdown("test-open", {"full": {0: _m(1.0, 0.2), 1: _m(3.0, 0.4)}, "shuffled": {None: _m(0.5, 0.1)}},
                          rows=["shuffled", "full", "absent"], title="t")
    lines = md.splitlines()
    assert lines[0] == "### t"
    assert lines[-2] == "| shuffled | - | 10 | 0.5 | 1.00 | n/a | 0.500 | 0.250 | 0.100 |"
    assert lines[-1] == "| full | 0,1 | 10 | 2.0 ± 1.4 | 1.00 ± 0.00 | n/a | 0.500 ± 0.000 | 0.250 ± 0.000 | 0.300 ± 0.141 |"


def test_cli_report_prints_the_tables_of_finished_rows(parts, capsys):
    from openfoley.cli import main

    run_benchmark(parts["split"], parts["root"] / "rep" / "test-closed", ["shuffled"], evaluators=parts["ev"],
                  progress=False)
    assert main(["benchmark", "--report", "--out", str(parts["root"] / "rep"), "--split", "test-closed"]) == 0
    out = capsys.readouterr().out
    assert "### test-closed: all rows" in out and "| shuffled | - | 3 |" in out
    saved = json.loads((parts["root"] / "rep" / "test-closed" / "results.json").read_text())
    assert list(saved) == ["shuffled"] and saved["shuffled"]["per_seed"]["None"]["clips"] == 3
    # nothing finished: one line on stderr, exit 2
    assert main(["benchmark", "--report", "--out", str(parts["root"] / "empty"), "--split", "test-open"]) == 2
    assert "no finished rows" in capsys.readouterr().err


def test_cut_off_variant_training_is_finished_and_its_clips_remade(parts, tmp_path):
    """Weights exported at a checkpoint of a cut-off run are not taken for the finished model."""
    from openfoley.benchmark import _weights_step

    kw = dict(base_preset="tiny", full_model=None, evaluators=parts["ev"], progress=False, limit=2,
              model_root=tmp_path / "models", train_store=parts["root"] / "store")
    out = tmp_path / "out"
    first = run_benchmark(parts["split"], out, ["no-mma"], train_steps=10, **kw)  # tiny preset: ckpt every 10
    run = tmp_path / "models" / "no-mma-seed0"
    assert _weights_step(run / "weights") == 10 and first["no-mma"][0]["made_by"]["step"] == 10
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "no-mma" / "seed-0").glob("*.mp4")}
    again = run_benchmark(parts["split"], out, ["no-mma"], train_steps=20, **kw)  # the longer run resumes at 10
    assert _weights_step(run / "weights") == 20 and again["no-mma"][0]["made_by"]["step"] == 20
    remade = {p.name: p.stat().st_mtime_ns for p in (out / "no-mma" / "seed-0").glob("*.mp4")}
    assert remade.keys() == stamp.keys() and all(remade[k] != stamp[k] for k in stamp)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics][-1] == 20


def test_new_evaluators_rescore_without_remaking_clips(parts, tmp_path):
    import shutil

    from openfoley.evaluation.evaluators import SyncClassifier, SyncConfig

    ev2 = tmp_path / "ev2"
    shutil.copytree(parts["ev"], ev2)
    out = tmp_path / "out"
    kw = dict(full_model=str(parts["weights"]), progress=False, limit=2)
    first = run_benchmark(parts["split"], out, ["full"], evaluators=ev2, **kw)
    assert first["full"][0]["align_acc"] is None
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "full" / "seed-0").glob("*.mp4")}
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    save_evaluator(ev2 / "sync", SyncClassifier(SyncConfig(window=1.0, frame_size=8, grid=4, width=8, k=4, lags=1)).eval())
    again = run_benchmark(parts["split"], out, ["full"], evaluators=ev2, **kw)
    assert again["full"][0]["align_acc"] is not None and again["full"][0]["evaluators"]["sync"].startswith("sync-v1-")
    assert {p.name: p.stat().st_mtime_ns for p in (out / "full" / "seed-0").glob("*.mp4")} == stamp


def test_another_sampler_remakes_the_clips_and_is_recorded(parts, tmp_path):
    """--steps/--solver change the clips: a finished row made with other sampler settings is redone."""
    out = tmp_path / "out"
    kw = dict(full_model=str(parts["weights"]), evaluators=parts["ev"], progress=False, limit=2)
    first = run_benchmark(parts["split"], out, ["full"], **kw)
    assert "sampler" not in first["full"][0]["made_by"]  # the model's own settings: made_by as before
    clip = out / "full" / "seed-0" / sorted(p.name for p in (out / "full" / "seed-0").glob("*.mp4"))[0]
    before = clip.read_bytes()
    again = run_benchmark(parts["split"], out, ["full"], steps=2, solver="midpoint", **kw)
    assert again["full"][0]["made_by"]["sampler"] == {"steps": 2, "solver": "midpoint"}
    assert clip.read_bytes() != before  # remade with two midpoint steps, not kept from the default run
    stamp = clip.stat().st_mtime_ns
    third = run_benchmark(parts["split"], out, ["full"], steps=2, solver="midpoint", **kw)
    assert third["full"] == again["full"] and clip.stat().st_mtime_ns == stamp  # same settings: kept
    third_bytes = clip.read_bytes()
    cfg = run_benchmark(parts["split"], out, ["full"], steps=2, solver="midpoint", cfg_scale=4.0, **kw)
    assert cfg["full"][0]["made_by"]["sampler"] == {"steps": 2, "solver": "midpoint", "cfg_scale": 4.0}
    assert clip.read_bytes() != third_bytes  # another guidance scale: remade
    with pytest.raises(ConfigError, match="solver"):
        run_benchmark(parts["split"], tmp_path / "bad", ["full"], solver="rk45", **kw)


def test_differences_from_full():
    res = {"full": {0: _m(1.0, 0.2), 1: _m(3.0, 0.4)}, "no-mma": {0: _m(4.0, 0.1), 1: _m(4.0, 0.1)},
           "shuffled": {None: _m(0.5, 0.1)}}
    lines = differences_markdown("test-closed", res).splitlines()
    assert lines[0] == "### test-closed: variant mean − full mean (spread of each)"
    assert len(lines) == 5  # title, blank, header, rule, one variant row: reference rows are not variants
    assert lines[-1] == ("| no-mma | +2.0 (0.0, 1.4) | +0.00 (0.00, 0.00) | n/a | +0.000 (0.000, 0.000) | "
                         "+0.000 (0.000, 0.000) | -0.200 (0.000, 0.141) |")
    assert differences_markdown("x", {"no-mma": res["no-mma"]}) == ""


def test_variants_train_on_live_renders(parts, tmp_path):
    """``train_live``: a missing variant trains on clips rendered on the fly from a sound bank."""
    from openfoley.benchmark import TrainData, _weights_step

    bank = make_synth_bank(tmp_path / "bank8k", seed=0, sample_rate=8000)  # the tiny preset's rate
    kw = dict(base_preset="tiny", full_model=None, evaluators=parts["ev"], progress=False, limit=2,
              model_root=tmp_path / "models", train_live=bank, train_walkers=0.5)
    res = run_benchmark(parts["split"], tmp_path / "out", ["no-mma"], train_steps=10, **kw)
    run = tmp_path / "models" / "no-mma-seed0"
    assert _weights_step(run / "weights") == 10 and res["no-mma"][0]["made_by"]["step"] == 10
    assert res["no-mma"][0]["clips"] == 2
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(m["step"] <= 10 for m in metrics)
    # the live set really is what it trained on: a render of the bank's train split, walkers as asked
    live = TrainData(live=bank, walkers=0.5).open(get_preset("tiny"))
    assert live.render.walker_share == 0.5 and live[0]["frames"].shape[-1] == get_preset("tiny").video.size
    with pytest.raises(ConfigError, match="not both"):
        TrainData(store=parts["root"] / "store", live=bank)
    with pytest.raises(ConfigError, match="walker share"):
        TrainData(live=bank, walkers=1.5)
