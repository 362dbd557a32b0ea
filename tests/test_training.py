"""Training (Algorithm 1): smoke run artefacts, hard-kill resume, DDP equivalence, bad input.

These run the real trainer in real processes: a SIGKILL'd subprocess, and torchrun with 2 gloo ranks.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from openfoley.checkpoint import list_resume, load_resume, load_weights
from openfoley.cli import main
from openfoley.config import apply_overrides, get_preset
from openfoley.features.store import FeatureStore
from openfoley.training.data import StoreBatches
from openfoley.training.synthetic import make_synthetic_store

TINY = ["train.log_every=1", "train.ckpt_every=2", "train.keep_last=10"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _cmd(*args):
    return [sys.executable, "-m", "openfoley", "train", "--preset", "tiny", "--no-progress", *args]


def _logged_steps(run: Path) -> list[int]:
    """The steps of metrics.jsonl's training records, in file order (a resumed run repeats some)."""
    return [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def _losses(run: Path) -> dict[int, float]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "loss" in r:
            out[r["step"]] = r["loss"]
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    cfg = get_preset("tiny")
    return make_synthetic_store(tmp_path_factory.mktemp("store") / "s", cfg, clips=12, seed=3)


def test_smoke_writes_both_artefacts(tmp_path, capsys):
    assert main(["train", "--preset", "tiny", "--smoke", "--no-progress", "--out", str(tmp_path / "run")]) == 0
    w = load_weights(tmp_path / "run" / "weights")
    assert w.meta["step"] == 2 and w.meta["weights"] == "ema"
    assert w.config == apply_overrides(get_preset("tiny"), ["train.max_steps=2"])
    assert [p.name for p in list_resume(tmp_path / "run")] == ["step-00000002"]
    state = load_resume(list_resume(tmp_path / "run")[-1])
    assert set(state) >= {"model", "optimizer", "scheduler", "ema", "step", "scaler"}


def _layout(store, world: int, accum: int, global_batch: int, workers: int = 0) -> list[list[str]]:
    """Clip ids of each optimiser step's global batch, as ``train`` has ``world`` ranks x ``accum``
    micro-batches read them: rank-major, then micro-batch order (how the gradients are summed)."""
    micro = global_batch // (world * accum)
    ranks = [StoreBatches(store, global_batch, micro, seed=0, workers=workers, micros_per_step=accum,
                          first_micro=r * accum) for r in range(world)]
    try:
        return [[i for r, rb in enumerate(ranks) for m in range(accum) for i in rb.get(step, r * accum + m).ids]
                for step in range(6)]
    finally:
        for rb in ranks:
            rb.close()


def test_batches_partition_global_batch():
    """2 ranks x 1 micro-batch read exactly what 1 rank x 2 micro-batches read (the DDP sampler)."""
    data = list(range(10))
    one = StoreBatches(data, global_batch=4, micro_batch=2, seed=0)
    seen = [one.indices(s, g) for s in range(5) for g in range(2)]
    flat = [i for b in seen for i in b]
    # every epoch (10 positions) is a permutation of the store
    assert sorted(flat[:10]) == data and sorted(flat[10:20]) == data
    # the two layouts, compared batch for batch (through the prefetching worker path too)
    store = [{"id": f"c{i}", "frames": torch.zeros(1, 3, 2, 2, dtype=torch.uint8), "mel": torch.full((2, 2), i)}
             for i in range(10)]
    single = _layout(store, world=1, accum=2, global_batch=4)
    assert single == _layout(store, world=2, accum=1, global_batch=4)
    assert single == _layout(store, world=2, accum=1, global_batch=4, workers=1)
    assert single == _layout(store, world=1, accum=4, global_batch=4) == _layout(store, world=4, accum=1, global_batch=4)
    assert [i for b in single[:5] for i in b] == [f"c{i}" for i in flat]


def test_kill_and_resume_continues_loss_curve(tmp_path, store):
    ref, run = tmp_path / "ref", tmp_path / "run"
    common = ["--data", str(store), "--max-steps", "8", *sum((["--set", s] for s in TINY), [])]
    subprocess.run(_cmd("--out", str(ref), *common), check=True, env=_env(), capture_output=True)
    proc = subprocess.Popen(_cmd("--out", str(run), *common), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name >= "step-00000004" for p in list_resume(run)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(int(p.name.split("-")[1]) for p in list_resume(run))
    assert 4 <= killed_at < 8, f"the run was not interrupted mid-training (last checkpoint {killed_at})"
    subprocess.run(_cmd("--out", str(run), *common), check=True, env=_env(), capture_output=True)
    a, b = _losses(ref), _losses(run)
    assert sorted(b) == list(range(1, 9))
    # in the file: the killed run's steps 1..last (it may have logged past its last checkpoint), then
    # the resumed run's, from the step after that checkpoint to the end
    steps = _logged_steps(run)
    last = len(steps) - (8 - killed_at)
    assert killed_at <= last <= 8 and steps == list(range(1, last + 1)) + list(range(killed_at + 1, 9)), steps
    for step in range(killed_at + 1, 9):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), f"step {step}: {b[step]} vs {a[step]}"


def test_ddp_two_ranks_equals_one_process(tmp_path, store):
    k = 3
    sets = ["--set", "train.batch_size=4", "--set", "train.log_every=1", "--set", "train.ckpt_every=3"]
    one = subprocess.run(_cmd("--data", str(store), "--out", str(tmp_path / "one"), "--max-steps", str(k),
                              "--set", "train.grad_accum=2", *sets), env=_env(), capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          "--master_port", str(29500 + os.getpid() % 1000), "-m", "openfoley", "train",
                          "--preset", "tiny", "--no-progress", "--device", "cpu", "--data", str(store),
                          "--out", str(tmp_path / "two"), "--max-steps", str(k), *sets],
                         env=_env(), capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    a = load_resume(list_resume(tmp_path / "one")[-1])["model"]
    b = load_resume(list_resume(tmp_path / "two")[-1])["model"]
    assert a.keys() == b.keys()
    worst = max(float((a[n].float() - b[n].float()).abs().max()) for n in a)
    assert worst < 1e-5, f"largest weight difference after {k} steps: {worst}"
    moved = load_resume(list_resume(tmp_path / "one")[-1])["step"]
    assert moved == k


def test_missing_store_and_mismatched_config(tmp_path, store, capsys):
    assert main(["train", "--preset", "tiny", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == f"openfoley train: error: {tmp_path / 'nope'}: feature store not found"
    assert main(["train", "--preset", "small", "--data", str(store), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"openfoley train: error: {store}: feature store does not match the "
                                               "config (audio.f_max: store 4000.0, config 8000.0; ")
    assert err[0].endswith("; re-extract with this config or choose the store's settings")
    assert main(["train", "--preset", "tiny", "--out", str(tmp_path / "r3")]) == 2
    assert capsys.readouterr().err.strip() == ("openfoley train: error: --data STORE or --live BANK is required "
                                               "(or use --smoke)")
    assert main(["train", "--preset", "tiny", "--live", str(tmp_path), "--live-walkers", "1.5",
                 "--out", str(tmp_path / "r4")]) == 2
    assert capsys.readouterr().err.strip() == "openfoley train: error: --live-walkers must be in [0, 1], got 1.5"


def test_incompatible_run_folder(tmp_path, store, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--out", str(run),
                 "--max-steps", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--out", str(run),
                 "--max-steps", "2", "--set", "flow.kind=ddpm"]) == 2
    assert "different config" in capsys.readouterr().err
    # sampling and vocoder settings are not training settings: a run resumes with other values
    assert main(["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--out", str(run),
                 "--max-steps", "2", "--set", "flow.onset_guidance=3.0", "--set", "flow.onset_guide=peaks",
                 "--set", "audio.griffin_lim_iters=7"]) == 0


def test_nan_loss_stops_with_step_and_ids(tmp_path, store, capsys):
    # a learning rate so large the weights overflow: the trainer must stop, naming the step and clips
    run = tmp_path / "run"
    rc = main(["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--out", str(run),
               "--max-steps", "30", "--set", "train.lr=1e30", "--set", "train.grad_clip=1e30",
               "--set", "train.warmup_steps=0", "--set", "train.ckpt_every=1"])
    err = capsys.readouterr().err
    assert rc == 2 and "at step" in err and "synth-3-" in err
    kept = list_resume(run)
    assert kept, "the last good checkpoint must be kept"
    assert all(torch.isfinite(v).all() for v in load_resume(kept[-1])["model"].values() if v.is_floating_point())


def test_validation_loss_and_samples(tmp_path, store):
    from openfoley.io import probe

    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--val", str(store),
                 "--out", str(run), "--max-steps", "2", "--set", "train.val_every=2",
                 "--set", "train.sample_every=2"]) == 0
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in recs if "val_loss" in r]
    assert len(val) == 1 and val[0] > 0
    wavs = sorted((run / "samples" / "step-00000002").glob("*.wav"))
    pngs = sorted((run / "samples" / "step-00000002").glob("*.png"))
    assert len(wavs) == 2 and len(pngs) == 2
    assert abs(probe(wavs[0]).duration - get_preset("tiny").seconds) < 0.01
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_max_steps_sets_the_schedule_and_can_grow_on_resume(tmp_path, store):
    run = tmp_path / "run"
    base = ["train", "--preset", "tiny", "--no-progress", "--data", str(store), "--out", str(run),
            "--set", "train.warmup_steps=1", "--set", "train.log_every=1", "--set", "train.ckpt_every=1"]
    assert main([*base, "--max-steps", "3"]) == 0
    lrs = [json.loads(x)["lr"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)  # cosine reached its end at the run's own last step
    assert main([*base, "--max-steps", "5"]) == 0  # extending a finished run resumes it
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]


def test_init_continues_from_weights_at_their_step_and_resumes_exactly(tmp_path, store):
    """--init: a new run folder continues a weights folder (what survives on a new machine) at its step;
    an interrupted --init run resumes to the same result as an uninterrupted one."""
    from openfoley.config import get_preset as preset
    from openfoley.training.loop import train

    cfg = apply_overrides(preset("tiny"), TINY)
    st = FeatureStore(store)
    first = train(cfg, st, tmp_path / "a", max_steps=8, stop_after=4, progress=False)
    # stop_after leaves the weights of step 4 (ckpt_every=2) with the schedule laid out for 8 steps
    assert load_weights(first.weights).meta["step"] == 4
    whole = train(cfg, st, tmp_path / "b", max_steps=8, init=first.weights, progress=False)
    assert whole.step == 8
    steps = sorted(_losses(tmp_path / "b"))
    assert steps == [5, 6, 7, 8]  # carried on from step 4: data order and seeds of steps 5..8
    part = train(cfg, st, tmp_path / "c", max_steps=8, init=first.weights, stop_after=2, progress=False)
    assert part.step == 6
    rest = train(cfg, st, tmp_path / "c", max_steps=8, init=first.weights, progress=False)  # resumes, ignores init
    assert rest.step == 8
    a, c = _losses(tmp_path / "b"), _losses(tmp_path / "c")
    for s in (7, 8):
        assert c[s] == pytest.approx(a[s], rel=1e-5, abs=1e-6)
    wb, wc = load_weights(tmp_path / "b" / "weights").state, load_weights(tmp_path / "c" / "weights").state
    assert all(torch.allclose(wb[k], wc[k], atol=1e-6) for k in wb)
    # after --init at step 4 the learning rate is the plain schedule's, ramped up over warmup_steps (2)
    from openfoley.training.loop import _schedule
    from openfoley.training.optim import lr_factor

    tc = apply_overrides(cfg, ["train.max_steps=8"]).train
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=tc.lr)
    sched = _schedule(opt, tc, 4)
    got = []
    for _ in range(4):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    want = [tc.lr * lr_factor(4 + s, 2, 8) * min(1.0, (s + 1) / 2) for s in range(4)]
    assert got == pytest.approx(want, rel=1e-12) and got[0] == pytest.approx(tc.lr * lr_factor(4, 2, 8) / 2)
    lrs = [json.loads(x)["lr"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines() if '"lr"' in x]
    assert lrs[:3] == pytest.approx(want[1:], rel=1e-9)  # logged after each step: the next step's rate
    with pytest.raises(Exception, match="step 4"):
        train(cfg, st, tmp_path / "d", max_steps=4, init=first.weights, progress=False)


def test_init_from_a_model_whose_event_path_reads_its_own_frames_keeps_that_path(tmp_path, store):
    """A model whose event path reads frames at twice its rate (alignment.event_fps, as scripts/fit-event-path.py
    --fps leaves it): `openfoley train --init` trains the rest on batches of the model's frames and keeps the
    path tensor for tensor (it gets no loss and no optimiser state); the other tensors move."""
    import dataclasses

    from openfoley.checkpoint import save_weights
    from openfoley.config import get_preset as preset
    from openfoley.training.loop import train

    base = apply_overrides(preset("tiny"), [*TINY, "alignment.onset_weight=1.0", "alignment.onset_head_kernel=3",
                                            "alignment.event_path=true"])
    st = FeatureStore(store)
    first = train(base, st, tmp_path / "a", max_steps=2, progress=False)  # at the model's rate: the path trains
    w0 = load_weights(first.weights)
    fast = dataclasses.replace(base, alignment=dataclasses.replace(base.alignment, event_fps=2 * base.video.fps))
    assert fast.event_rate == 2
    save_weights(tmp_path / "fast", w0.state, fast, dict(w0.meta))
    run = train(fast, st, tmp_path / "b", max_steps=4, init=tmp_path / "fast", progress=False)
    assert run.step == 4 and all(v == v for v in _losses(tmp_path / "b").values())  # finite losses
    w1 = load_weights(run.weights)
    assert w1.config.alignment.event_fps == 2 * base.video.fps
    path = [k for k in w0.state if k.startswith("event_path.")]
    assert path and all(torch.equal(w0.state[k], w1.state[k]) for k in path)
    moved = [k for k in w0.state if k.startswith("generator.") and not torch.equal(w0.state[k], w1.state[k])]
    assert moved  # the rest trained
