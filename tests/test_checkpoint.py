"""Checkpoint round trips, atomicity and bad model folders."""

import json
import os

import pytest
import torch

from openfoley.checkpoint import list_resume, load_resume, load_state_into, load_weights, save_resume, save_weights
from openfoley.config import get_preset
from openfoley.errors import ModelError


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_weights_round_trip_identical_outputs(tmp_path):
    net, cfg = _net(), get_preset("tiny")
    save_weights(tmp_path / "w", net.state_dict(), cfg, {"step": 7})
    loaded = load_weights(tmp_path / "w")
    assert loaded.config == cfg and loaded.meta["step"] == 7
    other = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    load_state_into(other, loaded.state, "w")
    x = torch.randn(3, 4)
    assert torch.equal(net(x), other(x))


def test_overwrite_keeps_single_folder(tmp_path):
    net, cfg = _net(), get_preset("tiny")
    save_weights(tmp_path / "w", net.state_dict(), cfg, {"step": 1})
    save_weights(tmp_path / "w", net.state_dict(), cfg, {"step": 2})
    assert load_weights(tmp_path / "w").meta["step"] == 2
    assert sorted(os.listdir(tmp_path)) == ["w"]


def test_failed_save_leaves_previous(tmp_path):
    net, cfg = _net(), get_preset("tiny")
    save_weights(tmp_path / "w", net.state_dict(), cfg, {"step": 1})
    with pytest.raises(AttributeError):
        save_weights(tmp_path / "w", {"bad": "not a tensor"}, cfg)  # type: ignore[dict-item]
    assert load_weights(tmp_path / "w").meta["step"] == 1
    assert sorted(os.listdir(tmp_path)) == ["w"]


def test_bad_model_folders(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_weights(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        load_weights(tmp_path / "empty")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ModelError, match="expected a directory"):
        load_weights(f)
    net, cfg = _net(), get_preset("tiny")
    save_weights(tmp_path / "w", net.state_dict(), cfg)
    d = json.loads((tmp_path / "w" / "config.json").read_text())
    d["flow"]["no_such_key"] = 1
    (tmp_path / "w" / "config.json").write_text(json.dumps(d))
    with pytest.raises(ModelError, match="does not match this version"):
        load_weights(tmp_path / "w")


def test_state_mismatch_message():
    net = _net()
    state = dict(net.state_dict())
    state["0.weight"] = torch.zeros(3, 3)
    with pytest.raises(ModelError, match=r"wrong shapes \(e.g. 0.weight: \(3, 3\) vs \(8, 4\)\)"):
        load_state_into(_net(), state, "x")


def test_resume_keep_last(tmp_path):
    for step in (10, 20, 30, 40):
        save_resume(tmp_path, step, {"step": step, "rng": torch.get_rng_state()}, keep_last=2)
    kept = list_resume(tmp_path)
    assert [p.name for p in kept] == ["step-00000030", "step-00000040"]
    assert load_resume(kept[-1])["step"] == 40


def _convert_motion_model(tmp_path, script_name: str):
    """Run scripts/SCRIPT_NAME on a saved tiny motion model (step 3): (the script module, the converted
    weights, the original model's and the converted model's latents from the same frames and noise)."""
    import dataclasses
    import importlib.util
    from pathlib import Path

    from openfoley.model import FoleyModel

    spec = importlib.util.spec_from_file_location(
        script_name.replace("-", "_"), Path(__file__).resolve().parents[1] / "scripts" / f"{script_name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cfg = get_preset("tiny")
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, video="motion"))
    torch.manual_seed(0)
    save_weights(tmp_path / "w", FoleyModel(cfg).state_dict(), cfg, {"step": 3})
    assert script.main([str(tmp_path / "w"), str(tmp_path / "w1")]) == 0
    out = load_weights(tmp_path / "w1")
    model = FoleyModel(out.config).eval()
    model.load_state_dict(out.state)
    frames = torch.randint(0, 256, (1, cfg.video_frames, 3, cfg.video.size, cfg.video.size), dtype=torch.uint8)
    ref = FoleyModel(cfg).eval()
    ref.load_state_dict(load_weights(tmp_path / "w").state)
    a = ref.generate(frames, torch.Generator().manual_seed(1), steps=2)[0]
    b = model.generate(frames, torch.Generator().manual_seed(1), steps=2)[0]
    return script, out, a, b


def test_unpool_motion_script_keeps_outputs(tmp_path):
    """scripts/unpool-motion.py: a pool-2 motion model becomes pool 1 with the same generated latents;
    a model without the motion encoder is refused with one line and exit 2."""
    script, out, a, b = _convert_motion_model(tmp_path, "unpool-motion")
    assert out.config.encoder.motion_pool == 1 and out.meta["step"] == 3
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    assert script.main([str(tmp_path / "w1"), str(tmp_path / "w2")]) == 2  # already at pool 1
    assert not (tmp_path / "w2").exists()


def test_add_window_path_script_keeps_outputs(tmp_path):
    """scripts/add-window-path.py: a motion model gains the window path with the same generated latents
    and its step; a model without the motion encoder is refused with exit 2 and no output."""
    script, out, a, b = _convert_motion_model(tmp_path, "add-window-path")
    assert out.config.encoder.video == "window" and out.meta["step"] == 3
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert script.main([str(tmp_path / "w1"), str(tmp_path / "w2")]) == 2  # already has the path
    assert not (tmp_path / "w2").exists()
