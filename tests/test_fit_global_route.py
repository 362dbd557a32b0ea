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


def test_ema_saves_the_average_and_snapshots(bank, tmp_path):
    """--ema: the same training run (same seed, same draws) saves the moving average, not the last
    weights; --save-every writes OUT-<step> on the way; a bad decay is refused with nothing written."""
    w = weights(tmp_path / "w", UNET)
    common = [w, "--bank", bank, "--clips", 16, "--held-out", 4, "--steps", 20, "--lr", 1e-3, "--batch", 4,
              "--log-every", 10, "--params", "generator", "--grad-clip", 1.0, "--warmup", 5,
              "--cache", tmp_path / "cache.pt"]
    raw = run(common[0], tmp_path / "raw", *common[1:])
    assert raw.returncode == 0, raw.stderr
    avg = run(common[0], tmp_path / "avg", *common[1:], "--ema", 0.9, "--save-every", 10)
    assert avg.returncode == 0, avg.stderr
    assert (tmp_path / "avg-10" / "model.safetensors").is_file() and not (tmp_path / "avg-20").exists()
    base, last, mean = (load_weights(p) for p in (w, tmp_path / "raw", tmp_path / "avg"))
    k = "generator.net.out.weight" if "generator.net.out.weight" in base.state else next(
        n for n in base.state if n.startswith("generator.net.") and base.state[n].dim() > 1)
    assert not torch.equal(last.state[k], base.state[k]) and not torch.equal(mean.state[k], last.state[k])
    # the average trails the last weights: it sits nearer the start than they do
    assert (mean.state[k] - base.state[k]).norm() < (last.state[k] - base.state[k]).norm()
    assert mean.meta["route_fit"]["ema"] == 0.9 and last.meta["route_fit"]["ema"] is None
    for k2 in base.state:  # the video side never trains
        if not k2.startswith("generator."):
            assert torch.equal(mean.state[k2], base.state[k2]), k2
    bad = run(common[0], tmp_path / "bad", *common[1:], "--ema", 1.5)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: --ema must be in (0, 1)"]
    assert not (tmp_path / "bad").exists()
    for flag, value in (("--warmup", -1), ("--grad-clip", 0), ("--save-every", 0)):
        bad = run(common[0], tmp_path / "bad", *common[1:], flag, value)
        assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
            "error: --warmup must be >= 0, --grad-clip > 0 and --save-every >= 1"], flag
        assert not (tmp_path / "bad").exists()


def test_the_held_out_checks_do_not_change_the_training_draws(bank, tmp_path):
    """A held-out check seeds the global RNG (the network's dropout) for itself alone: the trained weights
    do not depend on how often the run is measured (``--t-max`` path, dropout on)."""
    w = weights(tmp_path / "w", UNET)
    cache = tmp_path / "cache.pt"
    common = ["--bank", bank, "--clips", 16, "--held-out", 4, "--steps", 12, "--lr", 1e-2, "--batch", 4,
              "--params", "generator", "--t-max", 0.1, "--low-share", 0.5, "--cache", cache]
    outs = []
    for every in (3, 12):
        r = run(w, tmp_path / f"out{every}", "--log-every", every, *common)
        assert r.returncode == 0, r.stderr
        outs.append(load_weights(tmp_path / f"out{every}").state)
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    assert any(not torch.equal(outs[0][k], v) for k, v in load_weights(w).state.items())
