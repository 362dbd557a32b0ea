"""scripts/fit-global-route.py: only the global route trains, on cached conditions of live renders, and it lowers
the held-out flow loss; weights without the route are refused in one line."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import get_preset
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.model import FoleyModel

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fit-global-route.py"
TINY = get_preset("tiny")  # 2 s, 8 kHz
UNET = dataclasses.replace(TINY, flow=dataclasses.replace(TINY.flow, net="unet", global_cond=True))


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_synth_bank(tmp_path_factory.mktemp("route") / "bank", seed=0, sample_rate=8000)


def weights(folder: Path, cfg) -> Path:
    torch.manual_seed(0)
    model = FoleyModel(cfg)
    model.set_latent_stats(torch.zeros(cfg.audio.n_mels), torch.ones(cfg.audio.n_mels))
    with torch.no_grad():  # a network that is not the zero field, so the route has something to correct
        for name, p in model.generator.net.named_parameters():
            if not name.startswith(("global_proj.", "out_mod.")):
                p.add_(torch.randn(p.shape) * 0.05)
    save_weights(folder, model.state_dict(), cfg, {"step": 7})
    return folder


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_only_the_route_trains_and_the_held_out_loss_falls(bank, tmp_path):
    w = weights(tmp_path / "w", UNET)
    cache = tmp_path / "cache.pt"
    args = [w, tmp_path / "out", "--bank", bank, "--clips", 24, "--held-out", 8, "--steps", 60, "--lr", 1e-2,
            "--batch", 8, "--log-every", 30, "--cache", cache]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["held_out_loss_after"] < result["held_out_loss_before"]
    old, new = load_weights(w), load_weights(tmp_path / "out")
    changed = {k for k in old.state if not torch.equal(old.state[k], new.state[k])}
    assert changed == {"generator.net.global_proj.weight", "generator.net.global_proj.bias",
                       "generator.net.out_mod.weight", "generator.net.out_mod.bias"}
    assert new.meta["step"] == 7 and new.meta["route_fit"]["steps"] == 60
    again = run(*args[:1], tmp_path / "out2", *args[2:])  # the cache is read, not rebuilt: same result
    assert "24 cached clips" in again.stdout
    assert json.loads(again.stdout.strip().splitlines()[-1])["held_out_loss_after"] == result["held_out_loss_after"]


def test_weights_without_the_route_are_refused(tmp_path):
    w = weights(tmp_path / "w", TINY)
    r = run(w, tmp_path / "out")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {w}: flow.global_cond is off (join the route with scripts/switch-on.py first)"]
    assert not (tmp_path / "out").exists()
