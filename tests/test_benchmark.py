"""``openfoley benchmark``: rows rendered from a FoleyWorld split and evaluated, end to end on tiny parts."""

import json
from pathlib import Path

import pytest

from openfoley.benchmark import retrieval_sources, run_benchmark
from openfoley.config import get_preset
from openfoley.data.extract import extract
from openfoley.data.foleyworld.render import render_split
from openfoley.data.foleyworld.scenes import RenderConfig
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import ConfigError, ModelError
from openfoley.evaluation.evaluators import save_evaluator
from smokemodel import smoke_weights
from test_evaluators import make_bank, train_tiny_audio


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
    res = run_benchmark(parts["split"], parts["root"] / "out", ["full", "ground-truth", "shuffled", "retrieval"],
                        base_preset="tiny", builtin_for_full=str(parts["weights"]), evaluators=parts["ev"],
                        progress=False, train_store=parts["root"] / "store",
                        retrieval_videos=parts["root"] / "fw" / "train")
    assert set(res) == {"full", "ground-truth", "shuffled", "retrieval"}
    for row in res.values():
        assert row["clips"] == 3 and row["skipped"] == [] and row["align_acc"] is None
    # the real clips' own audio would score exactly 0; shuffled real audio is paired with the wrong clip
    assert res["shuffled"]["kld"] > 0
    assert len(list((parts["root"] / "out" / "full").glob("*.mp4"))) == 3


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
