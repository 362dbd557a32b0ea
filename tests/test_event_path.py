"""alignment.event_path: a copy of the video side for the onset track alone (openfoley.alignment.event_path)
and scripts/fit-event-path.py, which trains it on live renders with the generator left as it is."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from openfoley.alignment.event_path import EventPath, mix_coarse
from openfoley.alignment.mma import onset_target, sharp_guide_target
from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import Config, get_preset
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.errors import ConfigError, MediaError
from openfoley.model import Batch, FoleyModel, generation_difference

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fit-event-path.py"
TINY = get_preset("tiny")  # 2 s, 8 kHz
HEAD = dataclasses.replace(TINY, alignment=dataclasses.replace(TINY.alignment, onset_weight=1.0, onset_head_kernel=3))
PATHED = dataclasses.replace(HEAD, alignment=dataclasses.replace(HEAD.alignment, event_path=True))


def model_of(cfg: Config, seed: int = 0) -> FoleyModel:
    torch.manual_seed(seed)
    return FoleyModel(cfg).eval()


def frames(b: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, TINY.video_frames, 3, TINY.video.size, TINY.video.size), generator=g,
                         dtype=torch.uint8)


def test_the_switch_needs_an_onset_head():
    with pytest.raises(ConfigError, match="event_path needs"):
        dataclasses.replace(TINY, alignment=dataclasses.replace(TINY.alignment, event_path=True))
    assert not any(k.startswith("event_path.") for k in model_of(HEAD).state_dict())  # off: the old keys


def test_a_copy_gives_the_onset_heads_track_and_a_changed_path_moves_only_the_track():
    base = model_of(HEAD)
    pathed = FoleyModel(PATHED).eval()
    missing, unexpected = pathed.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("event_path.") for k in missing)
    pathed.event_path.copy_from(base.video_encoder, base.mma)
    fr = frames()
    with torch.no_grad():
        a, b = base.video_condition(fr), pathed.video_condition(fr)
    assert torch.equal(a.onset, b.onset)  # the same track, to the last bit
    with torch.no_grad():
        pathed.event_path.onset_head.b.bias.add_(0.25)
        c = pathed.video_condition(fr)
    torch.testing.assert_close(c.onset, a.onset + 0.25, rtol=0, atol=1e-6)
    assert torch.equal(c.flow.tokens, a.flow.tokens) and torch.equal(c.flow.keys, a.flow.keys)  # the generator's


def test_training_adds_the_event_paths_loss_on_the_same_target():
    base = model_of(HEAD)
    pathed = FoleyModel(PATHED).eval()
    pathed.load_state_dict(base.state_dict(), strict=False)
    with torch.no_grad():
        for p in pathed.event_path.parameters():
            p.add_(torch.randn(p.shape) * 0.02)
    g = torch.Generator().manual_seed(0)
    fr = frames()
    mel = torch.randn(2, TINY.audio.n_mels, TINY.mel_frames, generator=g)
    out_a = base(Batch(fr, mel), torch.Generator().manual_seed(3))
    out_b = pathed(Batch(fr, mel), torch.Generator().manual_seed(3))
    x = base.model_mel(mel)
    expected = torch.nn.functional.mse_loss(pathed.event_path(fr), onset_target(x, TINY.video_frames))
    torch.testing.assert_close(out_b.loss_onset - out_a.loss_onset, expected, rtol=1e-5, atol=1e-7)
    out_b.loss_onset.backward()
    grads = [p.grad for p in pathed.event_path.parameters()]
    assert all(gr is not None for gr in grads) and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_event_path_loss_is_the_squared_error_against_the_onset_target():
    path = EventPath(HEAD).eval()
    fr = frames(1)
    x = torch.zeros(1, TINY.audio.n_mels, TINY.mel_frames)
    x[..., 10:] = 1.0  # one rise of 1 at mel frame 10: a target of 1 in one frame and 0 elsewhere
    target = onset_target(x, TINY.video_frames)
    assert float(target.sum()) == 1.0
    with torch.no_grad():
        track = path(fr)
        assert float(path.loss(fr, x)) == pytest.approx(float(((track - target) ** 2).mean()), rel=1e-6)


# --- scripts/fit-event-path.py -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_synth_bank(tmp_path_factory.mktemp("event") / "bank", seed=0, sample_rate=8000)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("event") / "w"
    model = model_of(HEAD)
    model.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
    save_weights(folder, model.state_dict(), HEAD, {"step": 7})
    return folder


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300)


COMMON = ["--steps", 4, "--batch", 2, "--falling-share", 0.5, "--warmup", 1, "--eval-every", 2, "--lr", 1e-3,
          "--no-eval"]


def test_the_script_trains_the_path_alone_and_continues_bit_for_bit(bank, weights, tmp_path):
    r = run(weights, tmp_path / "out", "--bank", bank, *COMMON)
    assert r.returncode == 0, r.stderr
    old, new = load_weights(weights), load_weights(tmp_path / "out")
    assert new.config.alignment.event_path and new.meta["step"] == 7 and new.meta["event_path"]["steps"] == 4
    assert all(torch.equal(old.state[k], new.state[k]) for k in old.state)  # everything else as it was
    changed = [k for k in new.state if k.startswith("event_path.")
               and not torch.equal(new.state[k], old.state[k.replace("event_path.transformer.", "mma.transformer.")
                                   .replace("event_path.onset_head.", "mma.onset_head.")
                                   .replace("event_path.video_encoder.", "video_encoder.")])]
    assert len(changed) > 10  # the copy trained
    ck = tmp_path / "ck.pt"
    half = run(weights, tmp_path / "split", "--bank", bank, *COMMON, "--checkpoint", ck, "--stop-after", 2)
    assert half.returncode == 0 and "stopped at step 2" in half.stdout and not (tmp_path / "split").exists()
    rest = run(weights, tmp_path / "split", "--bank", bank, *COMMON, "--checkpoint", ck)
    assert rest.returncode == 0 and "continued from" in rest.stdout, rest.stderr
    split = load_weights(tmp_path / "split")
    assert all(torch.equal(split.state[k], new.state[k]) for k in new.state)
    other = run(weights, tmp_path / "other", "--bank", bank, *COMMON, "--seed", 9, "--checkpoint", ck)
    assert other.returncode == 2 and "other settings" in other.stderr and not (tmp_path / "other").exists()


def test_the_script_refuses_bad_input_in_one_line(bank, weights, tmp_path):
    for args, says in ([[weights, weights], "is WEIGHTS"],
                       [[tmp_path / "none", tmp_path / "o"], "not found"],
                       [[weights, tmp_path / "o", "--falling-share", 2], "--falling-share"],
                       [[weights, tmp_path / "o", "--stop-after", 2], "--stop-after"]):
        r = run(*args, "--bank", bank, "--no-eval")
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run(weights, tmp_path / "o", "--bank", tmp_path, "--no-eval")  # a folder that is not a sound bank
    assert r.returncode == 2 and "not a sound bank" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()
    nohead = tmp_path / "nohead"
    save_weights(nohead, model_of(TINY).state_dict(), TINY, {})
    r = run(nohead, tmp_path / "o", "--bank", bank, "--no-eval")
    assert r.returncode == 2 and "event_path needs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# --- alignment.event_fps: the event path reads frames of its own at k times the model's rate ---------------

FAST = dataclasses.replace(PATHED, alignment=dataclasses.replace(PATHED.alignment, event_fps=25.0))


def test_the_event_rate_is_a_whole_multiple_of_the_models_and_needs_the_path():
    assert (FAST.event_rate, FAST.event_frames, PATHED.event_rate, PATHED.event_frames) == (2, 50, 1, 25)
    for bad in (20.0, 6.25, 0.0, float("nan")):
        with pytest.raises(ConfigError, match="event_fps"):
            dataclasses.replace(FAST, alignment=dataclasses.replace(FAST.alignment, event_fps=bad))
    with pytest.raises(ConfigError, match="event_fps"):
        dataclasses.replace(HEAD, alignment=dataclasses.replace(HEAD.alignment, event_fps=25.0))
    with pytest.raises(ConfigError, match="onset channel"):
        dataclasses.replace(FAST, alignment=dataclasses.replace(FAST.alignment, onset_condition=0.5))
    same = dataclasses.replace(PATHED, alignment=dataclasses.replace(PATHED.alignment, event_fps=12.5))
    assert same.event_rate == 1  # the model's own rate: the path reads the model's frames


def test_a_faster_event_path_reads_its_own_frames_and_leaves_the_generators_condition():
    slow = model_of(PATHED)
    fast = FoleyModel(FAST).eval()
    fast.load_state_dict(slow.state_dict())  # the same tensors: the rate is not in the weights
    fr = frames()
    g = torch.Generator().manual_seed(5)
    ev = torch.randint(0, 256, (2, 50, 3, TINY.video.size, TINY.video.size), generator=g, dtype=torch.uint8)
    with torch.no_grad():
        a = slow.video_condition(fr)
        b = fast.video_condition(fr, event_frames=ev)
        # the path at 25 fps: frame j at (j + 0.5) / 25 s
        times = (torch.arange(50, dtype=torch.float32) + 0.5) / 25.0
        expected = fast.event_path(ev.float() / 255.0, times.expand(2, -1))
    assert b.onset.shape == (2, 50)
    torch.testing.assert_close(b.onset, expected, rtol=0, atol=1e-6)
    assert torch.equal(b.flow.tokens, a.flow.tokens) and torch.equal(b.flow.keys, a.flow.keys)
    with torch.no_grad():  # frames timed from 3 s on: the path's frames on the same clock
        shifted = fast.video_condition(fr, times=a.times + 3.0, event_frames=ev)
        moved = fast.event_path(ev.float() / 255.0, (times + 3.0).expand(2, -1))
    torch.testing.assert_close(shifted.onset, moved, rtol=0, atol=1e-5)  # the times' float rounding apart
    assert (shifted.onset - b.onset).abs().max() > 1e-3  # the clock matters
    with pytest.raises(ValueError, match="event_frames"):
        fast.video_condition(fr)
    with pytest.raises(ValueError, match="event_frames"):
        fast.video_condition(fr, event_frames=ev[:, :49])
    # training batches hold the model's frames only: the path is frozen and gets no loss, the rest trains
    fast.train()
    out = fast(Batch(fr, torch.zeros(2, TINY.audio.n_mels, TINY.mel_frames)), torch.Generator().manual_seed(0))
    (out.flow.loss + out.loss_onset + out.loss_mask).backward()
    assert not any(p.requires_grad or p.grad is not None for p in fast.event_path.parameters())
    assert all(p.grad is not None for p in fast.generator.parameters() if p.requires_grad)
    assert not any(p.requires_grad for p in FoleyModel(FAST).event_path.parameters())
    assert all(p.requires_grad for p in FoleyModel(PATHED).event_path.parameters())  # at the model's rate it trains


def test_a_conversion_check_gives_a_faster_path_its_own_frames():
    """generation_difference (every weight conversion's check) on a model whose event path reads 25 fps: it
    used to call generate without the path's frames and stop with a ValueError."""
    a, b = model_of(FAST), model_of(FAST)
    assert generation_difference(a, b) == 0.0
    with torch.no_grad():
        for p in b.generator.parameters():
            p.add_(0.01)  # a fresh velocity network is the zero field: make it another one
    assert generation_difference(a, b) > 1e-3


def test_the_condition_alone_needs_no_event_frames():
    """``track=False`` (a condition cache, a probe): the generator's condition of the model's frames alone, bit
    for bit the one that comes with the track, and no track; a model whose condition carries the track (the
    onset channel, at the model's rate) computes it all the same."""
    fast = model_of(FAST)
    fr = frames()
    ev = torch.randint(0, 256, (2, 50, 3, TINY.video.size, TINY.video.size),
                       generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    with torch.no_grad():
        full, alone = fast.video_condition(fr, event_frames=ev), fast.video_condition(fr, track=False)
    assert alone.onset is None and full.onset is not None
    for name in ("tokens", "keys", "key_times", "key_mask"):
        assert torch.equal(getattr(alone.flow, name), getattr(full.flow, name)), name
    channel = model_of(dataclasses.replace(HEAD, alignment=dataclasses.replace(HEAD.alignment, onset_condition=0.5)))
    with torch.no_grad():
        a, b = channel.video_condition(fr), channel.video_condition(fr, track=False)
    assert b.onset is not None and torch.equal(a.onset, b.onset) and torch.equal(a.flow.tokens, b.flow.tokens)


def test_the_sharp_guide_puts_a_faster_tracks_peaks_on_their_own_mel_frames():
    cfg = dataclasses.replace(FAST, flow=dataclasses.replace(FAST.flow, onset_guide="sharp"))
    m = model_of(cfg)
    onset = torch.full((1, 50), 0.1)
    onset[0, 7] = 0.9  # a peak in event frame 7: the second half of model frame 3
    target = m.guide_target(onset)
    placed = sharp_guide_target(target, 100, 0, cfg.flow.onset_floor)  # 100 mel frames, 2 per event frame
    assert float(placed[0, 14]) == pytest.approx(cfg.flow.onset_peak_height)
    assert int((placed[0] > cfg.flow.onset_floor).sum()) == 1


def test_the_pipeline_decodes_the_event_paths_frames_and_takes_them_as_frames_too(tmp_path, moving_square):
    """A file and the same file's frames at 25 fps give the same sound and the same video events, the events
    on the 25 fps grid; frames at the model's rate alone are not enough."""
    from openfoley.io import read_video, write_video
    from openfoley.pipeline import FoleyPipeline

    model = model_of(FAST)
    model.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
    with torch.no_grad():
        model.event_path.onset_head.b.bias.add_(1.0)  # a track above the threshold, so peaks become events
    save_weights(tmp_path / "w", model.state_dict(), FAST, {"step": 1})
    v = write_video(tmp_path / "v.mp4", moving_square(75, 48, fps=25), 25, preset="ultrafast")  # 3 s: 2 windows
    pipe = FoleyPipeline.from_pretrained(tmp_path / "w", device="cpu")
    a = pipe(v, seed=3)
    fr = read_video(v, 25.0, TINY.video.size, resize=TINY.video.resize).frames
    b = pipe(fr, seed=3)
    assert a.windows == b.windows == 2 and a.wav.shape == b.wav.shape
    np.testing.assert_array_equal(a.wav, b.wav)
    np.testing.assert_array_equal(a.video_events, b.video_events)
    grid = a.video_events * 25 - 0.5
    assert len(grid) > 2 and np.allclose(grid, np.round(grid), atol=1e-6)
    with pytest.raises(MediaError, match="fps"):
        pipe(fr[:, :, :16, :16], seed=3)


def test_the_script_trains_a_path_at_another_rate(bank, weights, tmp_path):
    r = run(weights, tmp_path / "fast", "--bank", bank, *COMMON, "--fps", 25)
    assert r.returncode == 0, r.stderr
    new = load_weights(tmp_path / "fast")
    assert new.config.alignment.event_fps == 25.0 and new.config.event_rate == 2
    old = load_weights(weights)
    assert all(torch.equal(old.state[k], new.state[k]) for k in old.state)  # the path alone trained
    again = run(tmp_path / "fast", tmp_path / "again", "--bank", bank, *COMMON)  # continues at its own rate
    assert again.returncode == 0, again.stderr
    assert load_weights(tmp_path / "again").config.alignment.event_fps == 25.0
    bad = run(weights, tmp_path / "bad", "--bank", bank, *COMMON, "--fps", 20)
    assert bad.returncode == 2 and "--fps" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    # --h264: the same clips through the renders' codec (LiveStore h264, tests/test_live.py): another path,
    # the same one from the same command
    paths = {}
    for label in ("h264", "h264-again"):
        r = run(weights, tmp_path / label, "--bank", bank, *COMMON, "--fps", 25, "--h264")
        assert r.returncode == 0, r.stderr
        paths[label] = {k: v for k, v in load_weights(tmp_path / label).state.items() if k.startswith("event_path.")}
    assert all(torch.equal(v, paths["h264-again"][k]) for k, v in paths["h264"].items())
    assert any(not torch.equal(v, new.state[k]) for k, v in paths["h264"].items())


def test_a_kept_path_rebuilds_the_scripts_model(bank, weights, tmp_path):
    """scripts/event-path-candidate.py: the path saved from a run's checkpoint and put back into WEIGHTS gives
    the run's own OUT, tensor for tensor."""
    tool = SCRIPT.parent / "event-path-candidate.py"
    ck = tmp_path / "ck.pt"
    r = run(weights, tmp_path / "out", "--bank", bank, *COMMON, "--fps", 25, "--checkpoint", ck)
    assert r.returncode == 0, r.stderr

    def tool_run(*args):
        return subprocess.run([sys.executable, str(tool), *map(str, args)], capture_output=True, text=True, timeout=120)

    assert tool_run("save", ck, tmp_path / "p.safetensors").returncode == 0
    b = tool_run("build", tmp_path / "p.safetensors", weights, tmp_path / "re", "--fps", 25, "--threshold", 0.3)
    assert b.returncode == 0, b.stderr
    out, re_ = load_weights(tmp_path / "out"), load_weights(tmp_path / "re")
    assert set(out.state) == set(re_.state) and all(torch.equal(out.state[k], re_.state[k]) for k in out.state)
    assert re_.config.alignment.event_fps == 25.0 and re_.config.flow.onset_peak_threshold == 0.3
    bad = tool_run("build", tmp_path / "p.safetensors", weights, tmp_path / "bad", "--fps", 20)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    # --search-stride: the same tensors, the path's own shift search in the config
    s2 = tool_run("build", tmp_path / "p.safetensors", weights, tmp_path / "s2", "--fps", 25, "--search-stride", 2)
    assert s2.returncode == 0, s2.stderr
    strided = load_weights(tmp_path / "s2")
    assert strided.config.alignment.event_search_stride == 2 and re_.config.alignment.event_search_stride is None
    assert all(torch.equal(strided.state[k], re_.state[k]) for k in re_.state)
    bad = tool_run("build", tmp_path / "p.safetensors", weights, tmp_path / "bad", "--fps", 25, "--search-stride", 0)
    assert bad.returncode == 2 and "event_search_stride" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    assert tool_run("save", tmp_path / "p.safetensors", tmp_path / "x").returncode == 2
    # --pair: a base with a path at its own rate keeps it as the coarse path, the new one at 25 fps beside it
    pathed = model_of(PATHED, seed=3)
    pathed.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
    save_weights(tmp_path / "pathed", pathed.state_dict(), PATHED, {"step": 9})
    p = tool_run("build", tmp_path / "p.safetensors", tmp_path / "pathed", tmp_path / "pair", "--fps", 25, "--pair")
    assert p.returncode == 0, p.stderr
    pair, base = load_weights(tmp_path / "pair"), load_weights(tmp_path / "pathed")
    assert pair.config.alignment.event_pair and pair.config.event_rate == 2
    for k, v in base.state.items():
        if k.startswith("event_path."):
            assert torch.equal(pair.state["coarse_" + k], v) and torch.equal(pair.state[k], re_.state[k]), k
        else:
            assert torch.equal(pair.state[k], v), k
    # fit-event-path.py continues a pair's fast path and keeps the other as it is
    cont = run(tmp_path / "pair", tmp_path / "pair2", "--bank", bank, *COMMON)
    assert cont.returncode == 0, cont.stderr
    pair2 = load_weights(tmp_path / "pair2")
    assert pair2.config.alignment.event_pair and pair2.config.event_rate == 2
    assert all(torch.equal(pair2.state[k], v) for k, v in pair.state.items() if not k.startswith("event_path."))
    assert any(not torch.equal(pair2.state[k], v) for k, v in pair.state.items() if k.startswith("event_path."))
    for args, base_dir in ((["--pair"], tmp_path / "pathed"), (["--fps", 25, "--pair"], weights),
                           (["--fps", 12.5, "--pair"], tmp_path / "pathed")):
        bad = tool_run("build", tmp_path / "p.safetensors", base_dir, tmp_path / "bad", *args)
        assert bad.returncode == 2 and "--pair" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


# --- alignment.event_pair: the 25 fps path and the model's own-rate path, their tracks' mean ----------------

PAIR = dataclasses.replace(FAST, alignment=dataclasses.replace(FAST.alignment, event_pair=True))


def test_the_mix_interpolates_the_coarse_track_to_the_fine_centres():
    fine = torch.zeros(1, 6)
    coarse = torch.tensor([[0.0, 4.0, 8.0]])
    # fine centres j at coarse positions j / 2 - 0.25: -0.25 (held), 0.25, 0.75, 1.25, 1.75, 2.25 (held)
    assert mix_coarse(fine, coarse).tolist() == [[0.0, 0.5, 1.5, 2.5, 3.5, 4.0]]
    assert mix_coarse(torch.full((1, 6), 2.0), torch.full((1, 3), 4.0)).tolist() == [[3.0] * 6]
    three = mix_coarse(torch.zeros(1, 6), torch.tensor([[0.0, 6.0]]))  # k = 3: positions -1/3 .. 4/3
    torch.testing.assert_close(three, torch.tensor([[0.0, 0.0, 1.0, 2.0, 3.0, 3.0]]), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="one span"):
        mix_coarse(torch.zeros(1, 7), coarse)


def test_the_pair_needs_a_faster_path():
    with pytest.raises(ConfigError, match="event_pair"):
        dataclasses.replace(PATHED, alignment=dataclasses.replace(PATHED.alignment, event_pair=True))
    assert not any(k.startswith("coarse_") for k in model_of(FAST).state_dict())  # off: the old keys


def test_the_pairs_track_is_the_mean_of_its_paths_and_neither_trains():
    fast, slow = model_of(FAST, seed=0), model_of(PATHED, seed=4)
    pair = FoleyModel(PAIR).eval()
    state = fast.state_dict() | {f"coarse_{k}": v for k, v in slow.state_dict().items() if k.startswith("event_path.")}
    missing, unexpected = pair.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    assert set(pair.state_dict()) - set(fast.state_dict()) == {k for k in state if k.startswith("coarse_")}
    fr = frames()
    ev = torch.randint(0, 256, (2, 50, 3, TINY.video.size, TINY.video.size),
                       generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    with torch.no_grad():
        a, b, c = fast.video_condition(fr, event_frames=ev), slow.video_condition(fr), \
            pair.video_condition(fr, event_frames=ev)
        later = pair.video_condition(fr, times=a.times + 3.0, event_frames=ev)
        moved = mix_coarse(fast.video_condition(fr, times=a.times + 3.0, event_frames=ev).onset,
                           slow.video_condition(fr, times=a.times + 3.0).onset)
    assert c.onset.shape == (2, 50)
    torch.testing.assert_close(c.onset, mix_coarse(a.onset, b.onset), rtol=0, atol=1e-6)
    torch.testing.assert_close(later.onset, moved, rtol=0, atol=1e-6)  # both paths on the model's clock
    assert (c.onset - a.onset).abs().max() > 1e-3  # the second path matters
    assert torch.equal(c.flow.tokens, a.flow.tokens) and torch.equal(c.flow.keys, a.flow.keys)
    pair.train()
    out = pair(Batch(fr, torch.zeros(2, TINY.audio.n_mels, TINY.mel_frames)), torch.Generator().manual_seed(0))
    (out.flow.loss + out.loss_onset + out.loss_mask).backward()
    for path in (pair.event_path, pair.coarse_event_path):
        assert not any(p.requires_grad or p.grad is not None for p in path.parameters())
    assert all(p.grad is not None for p in pair.generator.parameters() if p.requires_grad)


def fit_script():
    """scripts/fit-event-path.py as a module (its TeacherTrack)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit_event_path", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_teacher_gives_its_models_track_and_the_path_learns_it(bank, tmp_path):
    """--teacher: the target is a pair's onset track on the same frames (the model's own, to the bit), and a
    path trained on it moves towards that track, further than the same run on the audio's target."""
    fast, slow = model_of(FAST, seed=0), model_of(PATHED, seed=4)
    pair = FoleyModel(PAIR).eval()
    pair.load_state_dict(fast.state_dict() | {f"coarse_{k}": v for k, v in slow.state_dict().items()
                                              if k.startswith("event_path.")})
    ev = torch.randint(0, 256, (2, 50, 3, TINY.video.size, TINY.video.size),
                       generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    teacher = fit_script().TeacherTrack(pair)
    with torch.no_grad():
        own = pair.onset_track(ev[:, ::2], pair.align(ev[:, ::2]), None, ev)
    assert torch.equal(teacher(ev), own)
    student = model_of(FAST, seed=7)  # its own path, not the teacher's fast one
    for m, name in ((pair, "pair"), (student, "fast"), (slow, "slow")):
        m.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
        save_weights(tmp_path / name, m.state_dict(), m.cfg, {"step": 1})
    runs = {}
    for label, extra in (("taught", ["--teacher", tmp_path / "pair"]), ("audio", [])):
        r = run(tmp_path / "fast", tmp_path / label, "--bank", bank, *COMMON, "--steps", 12, *extra)
        assert r.returncode == 0, r.stderr
        runs[label] = load_weights(tmp_path / label)
    fast_w = load_weights(tmp_path / "fast")
    for w in runs.values():  # the path alone trained
        assert all(torch.equal(w.state[k], v) for k, v in fast_w.state.items() if not k.startswith("event_path."))

    def distance(w) -> float:
        m = FoleyModel(w.config).eval()
        m.load_state_dict(w.state)
        with torch.no_grad():
            return float(((m.event_path(ev) - own) ** 2).mean())

    before, taught, audio = distance(fast_w), distance(runs["taught"]), distance(runs["audio"])
    assert taught < 0.5 * before and taught < 0.5 * audio, (before, taught, audio)
    assert len(runs["taught"].meta["event_path"]["teacher_sha256"]) == 64
    assert "teacher_sha256" not in runs["audio"].meta["event_path"]
    # a checkpoint continues with the teacher it was taught by, not with another file under the same name
    ck = tmp_path / "ck.pt"
    half = run(tmp_path / "fast", tmp_path / "cont", "--bank", bank, *COMMON, "--teacher", tmp_path / "pair",
               "--checkpoint", ck, "--stop-after", 2)
    assert half.returncode == 0, half.stderr
    with torch.no_grad():
        pair.event_path.onset_head.b.bias.add_(0.1)
    save_weights(tmp_path / "pair", pair.state_dict(), pair.cfg, {"step": 1})
    moved = run(tmp_path / "fast", tmp_path / "cont", "--bank", bank, *COMMON, "--teacher", tmp_path / "pair",
                "--checkpoint", ck)
    assert moved.returncode == 2 and "another --teacher" in moved.stderr and not (tmp_path / "cont").exists()
    bad = run(tmp_path / "fast", tmp_path / "bad", "--bank", bank, *COMMON, "--teacher", tmp_path / "slow")
    assert bad.returncode == 2 and "fps" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_in_pair_fits_the_pairs_track_and_keeps_the_coarse_path(bank, tmp_path):
    """--in-pair: the scored and fitted track is the pair's (``PairTrack`` gives ``FoleyModel.onset_track`` of
    the pair to the bit); taught a target, the pair's track comes nearer it than after the same run on the
    path alone, the coarse path and everything else unchanged; a WEIGHTS that is no pair is refused."""
    fast, slow, other = model_of(FAST, seed=0), model_of(PATHED, seed=4), model_of(FAST, seed=7)
    teacher = FoleyModel(PAIR).eval()
    teacher.load_state_dict(fast.state_dict() | {f"coarse_{k}": v for k, v in slow.state_dict().items()
                                                 if k.startswith("event_path.")})
    student = FoleyModel(PAIR).eval()  # another fast path beside the same coarse one
    student.load_state_dict(other.state_dict() | {f"coarse_{k}": v for k, v in slow.state_dict().items()
                                                  if k.startswith("event_path.")})
    ev = torch.randint(0, 256, (2, 50, 3, TINY.video.size, TINY.video.size),
                       generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    mod = fit_script()
    with torch.no_grad():
        own = student.onset_track(ev[:, ::2], None, None, ev)
        assert torch.equal(mod.PairTrack(student.event_path, student.coarse_event_path, 2)(ev), own)
        target = mod.TeacherTrack(teacher)(ev)
    for m, name in ((teacher, "teacher"), (student, "student"), (other, "fast")):
        m.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
        save_weights(tmp_path / name, m.state_dict(), m.cfg, {"step": 1})
    runs = {}
    for label, extra in (("in-pair", ["--in-pair"]), ("alone", [])):
        r = run(tmp_path / "student", tmp_path / label, "--bank", bank, *COMMON, "--steps", 12, "--teacher",
                tmp_path / "teacher", *extra)
        assert r.returncode == 0, r.stderr
        runs[label] = load_weights(tmp_path / label)
    start = load_weights(tmp_path / "student")
    for w in runs.values():
        assert w.config.alignment.event_pair
        assert all(torch.equal(w.state[k], v) for k, v in start.state.items() if not k.startswith("event_path."))

    def distance(w) -> float:
        m = FoleyModel(w.config).eval()
        m.load_state_dict(w.state)
        with torch.no_grad():
            return float(((m.onset_track(ev[:, ::2], None, None, ev) - target) ** 2).mean())

    before, in_pair, alone = distance(start), distance(runs["in-pair"]), distance(runs["alone"])
    assert in_pair < 0.5 * before and in_pair < alone, (before, in_pair, alone)
    bad = run(tmp_path / "fast", tmp_path / "bad", "--bank", bank, *COMMON, "--in-pair")
    assert bad.returncode == 2 and "--in-pair" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_the_summary_counts_each_event_path_and_leaves_the_mma_row():
    """``openfoley info``'s table: a row per event path (its own frames at its own rate), and the MMA's row
    the same whether a path is trained in the step (at the model's rate) or frozen beside it."""
    from openfoley.model import count_parameters, model_summary

    rows = {cfg_name: {c.name: c for c in model_summary(cfg)}
            for cfg_name, cfg in (("head", HEAD), ("pathed", PATHED), ("fast", FAST), ("pair", PAIR))}
    pair = FoleyModel(PAIR)
    assert rows["pair"]["event path (25 fps)"].params == count_parameters(pair.event_path)
    assert rows["pair"]["coarse event path (12.5 fps)"].params == count_parameters(pair.coarse_event_path)
    assert rows["pathed"]["event path (12.5 fps)"].gflops == rows["pair"]["coarse event path (12.5 fps)"].gflops
    assert rows["pair"]["event path (25 fps)"].gflops > rows["pathed"]["event path (12.5 fps)"].gflops
    mma = "MMA (masked + aligned passes)"
    ref = rows["head"][mma].gflops
    assert all(r[mma].gflops == pytest.approx(ref, rel=1e-9) for r in rows.values())  # differences' rounding apart
    assert not any(n.startswith(("event", "coarse")) for n in rows["head"])


@pytest.mark.parametrize("src_fps,start", [(25, 0.0), (30, 0.0), (30, 1.3), (24, 0.7)])
def test_one_decode_at_twice_the_rate_holds_the_models_frames(tmp_path, moving_square, src_fps, start):
    """Both runtimes decode a file once, at the event path's rate, and give the model every k-th frame: those
    are the frames a decode at the model's own rate picks, to the bit, whatever the file's frame rate."""
    from openfoley.io import write_video
    from openfoley.io.video import iter_frame_windows
    from openfoley.pipeline.result import paired_windows

    v = write_video(tmp_path / "v.mp4", moving_square(round(5.5 * src_fps), 48, fps=src_fps), src_fps,
                    preset="ultrafast")
    kw = dict(window=2.0, hop=1.6, resize="crop", start=start, duration=3.6)
    slow = list(iter_frame_windows(v, 12.5, 32, **kw))
    pairs = list(paired_windows(iter_frame_windows(v, 25.0, 32, **kw), 2))
    assert len(slow) == len(pairs) >= 2
    for w, (model, ev) in zip(slow, pairs, strict=True):
        assert ev.shape[0] == 2 * w.shape[0] and model.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(model, w)


def test_the_fine_paths_own_search_stride_reaches_its_encoder_only():
    win = dataclasses.replace(PAIR, encoder=dataclasses.replace(PAIR.encoder, video="window"))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="event_search_stride"):
            dataclasses.replace(win, alignment=dataclasses.replace(win.alignment, event_search_stride=bad))
    with pytest.raises(ConfigError, match="window_search_stride"):
        dataclasses.replace(win, encoder=dataclasses.replace(win.encoder, window_search_stride=0))
    strided = dataclasses.replace(win, alignment=dataclasses.replace(win.alignment, event_search_stride=2))
    model, plain = model_of(strided), model_of(win)
    assert model.event_path is not None and model.coarse_event_path is not None
    assert model.event_path.video_encoder.search_stride == 2
    assert model.video_encoder.search_stride == 1 and model.coarse_event_path.video_encoder.search_stride == 1
    # the same tensors; only the fine path's shift search reads fewer pixels, so only its track moves (the
    # window path's output layer starts at zero, so it is given weights first)
    with torch.no_grad():
        for m in (plain.video_encoder, plain.event_path.video_encoder, plain.coarse_event_path.video_encoder):
            m.win_out.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(6))
    model.load_state_dict(plain.state_dict())
    g = torch.Generator().manual_seed(5)
    ev = torch.randint(0, 256, (1, 2 * TINY.video_frames, 3, TINY.video.size, TINY.video.size), generator=g,
                       dtype=torch.uint8)
    with torch.no_grad():
        fr = ev[:, ::2]
        assert torch.equal(model.coarse_event_path(fr), plain.coarse_event_path(fr))
        assert torch.equal(model.video_encoder(fr).features, plain.video_encoder(fr).features)
        assert not torch.equal(model.event_path(ev), plain.event_path(ev))
