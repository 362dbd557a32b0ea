"""scripts/take-generator.py: a model with a generator stage's velocity network and the rest of its base
model (another onset head included), sampler settings applied; mismatched models refused in one line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import get_preset
from openfoley.model import FoleyModel

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "take-generator.py"
TINY = get_preset("tiny")


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def models(tmp_path: Path, conv_head: bool = True):
    """base: a random tiny model with a 3-frame onset head; stage: the same model with a linear head and
    a changed velocity network (what the generator stage writes from the model before the head changed)."""
    torch.manual_seed(0)
    stage_model = FoleyModel(TINY)
    stage_model.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
    base_cfg = dataclasses.replace(TINY, alignment=dataclasses.replace(TINY.alignment, onset_head_kernel=3)) \
        if conv_head else TINY
    torch.manual_seed(1)
    base_state = FoleyModel(base_cfg).state_dict()
    stage_state = stage_model.state_dict()
    for k in base_state:  # share everything but the onset head
        if not k.startswith("mma.onset_head."):
            base_state[k] = stage_state[k].clone()
    with torch.no_grad():
        for k, v in stage_state.items():
            if k.startswith("generator.net.") and v.is_floating_point():
                v.add_(0.01)
    save_weights(tmp_path / "stage", stage_state, TINY, {"route_fit_step": 5})
    save_weights(tmp_path / "base", base_state, base_cfg, {"step": 9})
    return stage_state, base_state


def test_the_velocity_network_comes_from_the_stage_and_the_rest_from_the_base(tmp_path):
    stage, base = models(tmp_path)
    r = run(tmp_path / "stage", tmp_path / "base", tmp_path / "out", "flow.cfg_scale=3")
    assert r.returncode == 0, r.stderr
    out = load_weights(tmp_path / "out")
    assert set(out.state) == set(base)
    for k, v in out.state.items():
        want = stage[k] if k.startswith("generator.net.") else base[k]
        assert torch.equal(v, want), k
    assert any(not torch.equal(stage[k], base[k]) for k in base if k.startswith("generator.net."))
    assert out.config.flow.cfg_scale == 3.0 and out.config.alignment.onset_head_kernel == 3
    assert out.meta["step"] == 9 and out.meta["generator_from"]["settings"] == ["flow.cfg_scale=3"]


def test_mismatched_models_and_an_input_as_output_are_refused(tmp_path):
    stage, base = models(tmp_path)
    r = run(tmp_path / "stage", tmp_path / "base", tmp_path / "base")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'base'}: is one of the inputs; give a new folder"]
    key = next(k for k in base if k.startswith("mma.") and not k.startswith("mma.onset_head.")
               and base[k].is_floating_point())
    changed = dict(base)
    changed[key] = base[key] + 1
    save_weights(tmp_path / "other", changed, load_weights(tmp_path / "base").config)
    r = run(tmp_path / "stage", tmp_path / "other", tmp_path / "out")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'stage'} was not trained on {tmp_path / 'other'}'s conditions "
        f"(1 tensors outside the velocity network differ, e.g. {key})"]
    assert not (tmp_path / "out").exists()


def test_mix_interpolates_the_velocity_network_only(tmp_path):
    stage, base = models(tmp_path)
    r = run(tmp_path / "stage", tmp_path / "base", tmp_path / "half", "--mix", 0.25)
    assert r.returncode == 0, r.stderr
    out = load_weights(tmp_path / "half")
    for k, v in out.state.items():
        if k.startswith("generator.net.") and v.is_floating_point():
            want = (0.25 * stage[k].double() + 0.75 * base[k].double()).to(v.dtype)
            assert torch.equal(v, want), k
        elif not k.startswith("generator.net."):
            assert torch.equal(v, base[k]), k
    assert out.meta["generator_from"]["mix"] == 0.25
    r = run(tmp_path / "stage", tmp_path / "base", tmp_path / "none", "--mix", 0)
    assert r.returncode == 0, r.stderr  # mix 0: the base model's network, with the stage's provenance
    assert all(torch.equal(v, base[k]) for k, v in load_weights(tmp_path / "none").state.items())
    bad = run(tmp_path / "stage", tmp_path / "base", tmp_path / "bad", "--mix", 1.5)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: --mix must be in [0, 1], not 1.5"]
    assert not (tmp_path / "bad").exists()


def test_a_base_with_event_paths_and_other_sampler_settings_is_taken(tmp_path):
    """The built-in model got its event paths and its guide's height and floor after the stage had
    started: event-path tensors the stage lacks and sampling-only settings are not a different model; any
    other tensor the stage lacks is."""
    stage, _ = models(tmp_path, conv_head=False)
    flow = dataclasses.replace(TINY.flow, onset_peak_height=1.6, onset_floor=0.05)
    align = dataclasses.replace(TINY.alignment, event_path=True, onset_weight=1.0, event_pair=True, event_fps=25.0)
    cfg = dataclasses.replace(TINY, flow=flow, alignment=align)
    torch.manual_seed(2)
    base = FoleyModel(cfg).state_dict()
    paths = {k for k in base if k.startswith(("event_path.", "coarse_event_path."))}
    assert paths and not paths & set(stage)
    for k in base:  # the stage's tensors, but another velocity network (the onset head is the base's own)
        if k in stage:
            base[k] = stage[k] - 0.01 if k.startswith("generator.net.") and stage[k].is_floating_point() else stage[k]
    save_weights(tmp_path / "paths", base, cfg, {"step": 9})
    r = run(tmp_path / "stage", tmp_path / "paths", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    out = load_weights(tmp_path / "out")
    assert set(out.state) == set(base) and out.config.flow.onset_peak_height == 1.6
    for k, v in out.state.items():
        assert torch.equal(v, stage[k] if k.startswith("generator.net.") else base[k]), k
    extra = dict(base, **{"mma.extra": torch.zeros(3)})
    save_weights(tmp_path / "extra", extra, cfg)
    r = run(tmp_path / "stage", tmp_path / "extra", tmp_path / "no")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'stage'} and {tmp_path / 'extra'} are different models (their tensors are not the "
        "same set)"]
    assert not (tmp_path / "no").exists()
