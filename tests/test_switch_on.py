"""scripts/switch-on.py: a setting whose new tensors start at zero joins a trained model with its outputs kept;
anything else is refused with one line, exit status 2 and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from smokemodel import smoke_weights

from openfoley.checkpoint import load_weights
from openfoley.model import FoleyModel, generation_difference

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "switch-on.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_global_route_joins_with_the_same_outputs(tmp_path_factory, tmp_path):
    weights = smoke_weights(tmp_path_factory)
    r = run(weights, tmp_path / "out", "flow.global_cond=true")
    assert r.returncode == 0, r.stderr
    assert "(2 new tensors, all zero)" in r.stdout  # the tiny preset's transformer: global_proj only
    old, new = load_weights(weights), load_weights(tmp_path / "out")
    assert new.config.flow.global_cond and not old.config.flow.global_cond
    assert new.meta["switched_on"] == ["flow.global_cond=true"]
    assert set(new.state) - set(old.state) == {"generator.net.global_proj.weight", "generator.net.global_proj.bias"}
    assert all(torch.equal(old.state[k], new.state[k]) for k in old.state)
    a, b = FoleyModel(old.config).eval(), FoleyModel(new.config).eval()
    a.load_state_dict(old.state)
    b.load_state_dict(new.state)
    assert generation_difference(a, b) == 0.0


def test_refusals_write_nothing(tmp_path_factory, tmp_path):
    weights = smoke_weights(tmp_path_factory)
    out = tmp_path / "out"
    for setting, message in (
        ("flow.cfg_scale=3", "error: the converted model differs from the original by"),  # no new tensors, other sound
        ("flow.width=48", "error: Error(s) in loading state_dict"),  # trained tensors change shape
        ("flow.global_cond=maybe", "error: flow.global_cond: expected true/false, got 'maybe'"),
        ("flow.global_cond", "error: override 'flow.global_cond' must look like section.key=value"),
        ("flow.global_cond=false", "error: the settings change nothing"),
    ):
        r = run(weights, out, setting)
        assert r.returncode == 2 and r.stderr.startswith(message) and len(r.stderr.strip().splitlines()) == 1, (setting, r.stderr)
        assert not out.exists()
    r = run(tmp_path / "none", out, "flow.global_cond=true")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "not found" in r.stderr


def test_grow_adds_layers_that_start_as_the_identity(tmp_path_factory, tmp_path):
    """--grow: one more velocity block, its tensors freshly initialised (not zero) except the cross-attention's
    output, and the same outputs; without --grow the same setting is refused."""
    weights = smoke_weights(tmp_path_factory)
    depth = load_weights(weights).config.flow.depth
    setting = f"flow.depth={depth + 1}"
    r = run(weights, tmp_path / "plain", setting)
    assert r.returncode == 2 and "do not start at zero" in r.stderr and not (tmp_path / "plain").exists()
    r = run(weights, tmp_path / "out", "--grow", setting)
    assert r.returncode == 0, r.stderr
    assert "new tensors, grown), same outputs (max diff 0.0e+00)" in r.stdout
    old, new = load_weights(weights), load_weights(tmp_path / "out")
    assert new.config.flow.depth == depth + 1 and new.meta["grown"] is True
    added = sorted(set(new.state) - set(old.state))
    assert added and all(k.startswith(f"generator.net.blocks.{depth}.") for k in added), added
    zero = {k for k in added if not new.state[k].any()}
    closed = {k for k in added if ".cross.out." in k}
    assert closed and closed <= zero and set(added) - zero  # the rest can learn
    a, b = FoleyModel(old.config).eval(), FoleyModel(new.config).eval()
    a.load_state_dict(old.state)
    b.load_state_dict(new.state)
    assert generation_difference(a, b) == 0.0
