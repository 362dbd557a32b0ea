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
    full = run(common[0], tmp_path / "full", *common[1:], "--ema", 0.9, "--ema-full")
    assert full.returncode == 0, full.stderr
    # without the warm-up the first updates weigh the live weights less: the average sits nearer the start
    fk = load_weights(tmp_path / "full").state[k]
    assert (fk - base.state[k]).norm() < (mean.state[k] - base.state[k]).norm()
    bad = run(common[0], tmp_path / "bad", *common[1:], "--ema-full")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: --ema-full needs --ema"]
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


def test_a_stopped_run_continues_from_its_checkpoint_bit_for_bit(bank, tmp_path):
    """--checkpoint: 6 steps, then the same command with --steps 12, gives the weights (and the average) of
    12 steps run straight; a changed setting or a finished run is refused in one line."""
    w = weights(tmp_path / "w", UNET)
    common = ["--bank", bank, "--clips", 16, "--held-out", 4, "--lr", 1e-2, "--batch", 4, "--log-every", 3,
              "--params", "generator", "--t-max", 0.1, "--low-share", 0.5, "--ema", 0.9, "--warmup", 4,
              "--cache", tmp_path / "cache.pt"]
    straight = run(w, tmp_path / "straight", "--steps", 12, *common)
    assert straight.returncode == 0, straight.stderr
    ck = tmp_path / "run.ck"
    half = run(w, tmp_path / "split", "--steps", 6, "--checkpoint", ck, *common)
    assert half.returncode == 0, half.stderr and ck.is_file()
    rest = run(w, tmp_path / "split", "--steps", 12, "--checkpoint", ck, *common)
    assert rest.returncode == 0, rest.stderr
    assert f"{ck}: continuing from step 6" in rest.stdout
    a, b = load_weights(tmp_path / "straight"), load_weights(tmp_path / "split")
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert b.meta["route_fit"]["start_step"] == 6 and a.meta["route_fit"]["start_step"] == 0
    again = run(w, tmp_path / "other", "--steps", 12, "--checkpoint", ck, *common)
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [
        f"error: {ck}: already at step 12; give --steps above it to go on"]
    changed = run(w, tmp_path / "other", "--steps", 20, "--checkpoint", ck, *common[:-4], "--warmup", 2,
                  *common[-2:])
    assert changed.returncode == 2 and changed.stderr.strip().splitlines() == [
        f"error: {ck}: made by another run (differs in warmup)"]
    assert not (tmp_path / "other").exists()


def test_bf16_steps_train_and_are_recorded(bank, tmp_path):
    """--precision bf16: the steps run under bfloat16 autocast (other weights than fp32's from the same
    draws), the held-out loss still falls, and the weights' meta says how they were trained."""
    w = weights(tmp_path / "w", UNET)
    common = [w, "--bank", bank, "--clips", 24, "--held-out", 8, "--steps", 40, "--lr", 1e-2, "--batch", 8,
              "--log-every", 40, "--cache", tmp_path / "cache.pt"]
    fp32 = run(common[0], tmp_path / "fp32", *common[1:])
    bf16 = run(common[0], tmp_path / "bf16", *common[1:], "--precision", "bf16")
    assert fp32.returncode == 0 and bf16.returncode == 0, bf16.stderr
    result = json.loads(bf16.stdout.strip().splitlines()[-1])
    assert result["held_out_loss_after"] < result["held_out_loss_before"]
    a, b = load_weights(tmp_path / "fp32"), load_weights(tmp_path / "bf16")
    assert b.meta["route_fit"]["precision"] == "bf16" and a.meta["route_fit"]["precision"] == "fp32"
    assert any(not torch.equal(a.state[k], b.state[k]) for k in a.state)
