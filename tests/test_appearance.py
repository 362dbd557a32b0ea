"""The appearance path (encoders.appearance, training.appearance, scripts/*-appearance*.py): the sampled
frames and their interpolation by hand, InfoNCE's exact value, a joined path that changes nothing until
trained, a frozen tower that gets no gradient, the cache's frames equal to the live renders', and real
contrastive steps on real renders that learn to pair a clip's frames with its own sound."""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import get_preset
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld.live import LiveStore
from openfoley.data.foleyworld.synthbank import make_synth_bank
from openfoley.encoders.appearance import AppearanceEncoder, spread
from openfoley.errors import ConfigError
from openfoley.model import Batch, FoleyModel, generation_difference
from openfoley.training.appearance import (
    AppearancePretrainConfig,
    Towers,
    info_nce,
    pick_frames,
    pretrain,
    render_cache,
    retrieval_accuracy,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = get_preset("tiny")  # 2 s, 8 kHz, 12.5 fps (25 frames), 32 px
APP = dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, appearance="cnn", appearance_dim=16,
                                                            appearance_channels=(8, 8, 16)))


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_synth_bank(tmp_path_factory.mktemp("appearance") / "bank", seed=0, sample_rate=8000)


def test_spread_interpolates_between_the_sampled_frames_by_hand():
    emb = torch.tensor([[[0.0], [4.0], [8.0]]])  # (1, 3, 1): frames 0, 4, 8 of a 10-frame window
    out = spread(emb, torch.tensor([0, 4, 8]), 10)
    assert out[0, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 8.0]
    assert torch.equal(spread(emb, torch.arange(3), 3), emb)


def test_the_encoder_looks_at_every_stride_th_frame():
    torch.manual_seed(0)
    enc = AppearanceEncoder((4, 4, 8), dim=6, stride=4).eval()
    frames = torch.rand(2, 10, 3, 32, 32)
    out = enc(frames)
    assert out.shape == (2, 10, 6)
    assert enc.sampled(10).tolist() == [0, 4, 8]
    direct = enc.embed(frames[:, [0, 4, 8]].flatten(0, 1)).unflatten(0, (2, 3))
    direct = direct / direct.norm(dim=-1, keepdim=True) * math.sqrt(6)  # scaled to rms 1 per channel
    torch.testing.assert_close(out[:, [0, 4, 8, 9]], direct[:, [0, 1, 2, 2]])
    assert out[:, [0, 4, 8]].pow(2).mean(-1).sqrt().sub(1).abs().max() < 1e-5
    changed = frames.clone()
    changed[:, 1] = 0  # an unsampled frame changes nothing
    assert torch.equal(enc(changed), out)


def test_info_nce_exact_value():
    v = a = torch.eye(2)
    loss, acc = info_nce(v, a, torch.tensor(0.0))  # logits [[1, 0], [0, 1]]
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    assert acc.item() == 1.0
    loss, acc = info_nce(v, a.flip(0), torch.tensor(0.0))  # every clip nearest to the other's sound
    assert loss.item() == pytest.approx(math.log(1 + math.e), rel=1e-6) and acc.item() == 0.0


def test_pick_frames_draws_distinct_frames_of_each_clip():
    frames = torch.arange(2 * 5).reshape(2, 5, 1, 1, 1).expand(2, 5, 3, 2, 2)
    got = pick_frames(frames, 3, torch.Generator().manual_seed(0))
    ids = got[:, :, 0, 0, 0]
    assert ids.shape == (2, 3)
    assert all(len(set(r.tolist())) == 3 for r in ids)
    assert set(ids[0].tolist()) <= set(range(5)) and set(ids[1].tolist()) <= set(range(5, 10))


def test_a_joined_path_changes_nothing_and_a_frozen_tower_gets_no_gradient():
    torch.manual_seed(0)
    plain = FoleyModel(TINY).eval()
    with torch.no_grad():  # as after training: no zero-initialised layer left to hide the condition's gradient
        for p in plain.parameters():
            p.add_(0.05 * torch.randn_like(p))
    joined = FoleyModel(APP).eval()
    missing, unexpected = joined.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("appearance") for k in missing)
    assert generation_difference(plain, joined) == 0.0
    joined.train()
    c = APP
    batch = Batch(torch.randint(0, 256, (2, c.video_frames, 3, c.video.size, c.video.size), dtype=torch.uint8),
                  torch.randn(2, c.audio.n_mels, c.mel_frames))
    out = joined(batch, torch.Generator().manual_seed(0))
    out.flow.loss.backward()
    assert joined.appearance_proj.weight.grad is not None and joined.appearance_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in joined.appearance.parameters())
    trainable = dataclasses.replace(APP, encoder=dataclasses.replace(APP.encoder, appearance_train=True))
    assert all(p.requires_grad for p in FoleyModel(trainable).appearance.parameters())


def test_bad_appearance_settings_are_config_errors():
    with pytest.raises(ConfigError, match="appearance"):
        dataclasses.replace(TINY.encoder, appearance="clip")
    with pytest.raises(ConfigError, match="appearance_stride"):
        dataclasses.replace(TINY.encoder, appearance_stride=0)
    with pytest.raises(ConfigError, match="batch"):
        AppearancePretrainConfig(batch=1)


def test_the_cache_holds_the_live_renders_sampled_frames(bank):
    render = RenderConfig(seconds=2.0, size=64, sample_rate=8000, walker_share=0.5)
    c = render_cache(bank, APP, 3, split="train", seed=5, start=2, render=render)
    assert c.frames.shape == (3, 7, 3, 32, 32) and c.frames.dtype == torch.uint8  # frames 0, 4, ..., 24
    live = LiveStore(bank, APP, split="train", seed=5, render=render)
    for j in range(3):
        item = live[2 + j]
        assert torch.equal(c.frames[j], item["frames"][::4])
        assert torch.equal(c.mel[j].float(), item["mel"])
        assert c.labels[j] == item["label"]


def test_contrastive_steps_learn_to_pair_frames_with_their_own_sound(bank):
    render = RenderConfig(seconds=2.0, size=64, sample_rate=8000)
    cache = render_cache(bank, APP, 16, split="train", seed=0, render=render)
    torch.manual_seed(0)
    before = retrieval_accuracy(Towers(APP), cache)
    towers = pretrain(APP, cache, AppearancePretrainConfig(steps=60, batch=16, lr=3e-3, log_every=60), log=print)
    after = retrieval_accuracy(towers, cache)
    print(f"retrieval among 16 training clips: {before:.3f} -> {after:.3f} (chance 0.062)")
    assert after >= 0.5 and after > before


def test_the_scripts_pretrain_join_and_keep_the_outputs(bank, tmp_path):
    torch.manual_seed(0)
    model = FoleyModel(TINY)
    model.set_latent_stats(torch.zeros(TINY.audio.n_mels), torch.ones(TINY.audio.n_mels))
    save_weights(tmp_path / "w", model.state_dict(), TINY, {"step": 1})
    towers = Towers(APP)
    app = tmp_path / "app"
    app.mkdir()
    from safetensors.torch import save_file

    save_file(towers.video.state_dict(), str(app / "appearance.safetensors"))
    (app / "meta.json").write_text('{"encoder": {"appearance_channels": [8, 8, 16], "appearance_dim": 16, '
                                   '"appearance_stride": 4}}')
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "add-appearance-path.py"), str(tmp_path / "w"),
                        str(app), str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "same outputs (max diff 0.0e+00)" in r.stdout
    lw = load_weights(tmp_path / "out")
    assert lw.config.encoder.appearance == "cnn" and lw.config.encoder.appearance_dim == 16
    assert torch.equal(lw.state["appearance.out.weight"], towers.video.out.weight)
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "add-appearance-path.py"), str(tmp_path / "out"),
                            str(app), str(tmp_path / "out2")], capture_output=True, text=True)
    assert again.returncode == 2 and again.stderr.startswith("error:") and "Traceback" not in again.stderr
    assert not (tmp_path / "out2").exists()
    missing = subprocess.run([sys.executable, str(ROOT / "scripts" / "add-appearance-path.py"), str(tmp_path / "w"),
                              str(tmp_path / "nothing"), str(tmp_path / "out3")], capture_output=True, text=True)
    assert missing.returncode == 2 and "not a pretrained appearance folder" in missing.stderr



def test_a_frozen_tower_trained_from_scratch_is_warned_about(tmp_path, caplog):
    from openfoley.cli import main

    with caplog.at_level("WARNING", logger="openfoley.training.loop"):
        assert main(["train", "--preset", "tiny", "--smoke", "--no-progress", "--out", str(tmp_path / "r"),
                     "--set", "encoder.appearance=cnn"]) == 0
    assert any("tower stays at random weights" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="openfoley.training.loop"):
        assert main(["train", "--preset", "tiny", "--smoke", "--no-progress", "--out", str(tmp_path / "r2"),
                     "--set", "encoder.appearance=cnn", "--set", "encoder.appearance_train=true"]) == 0
    assert not any("tower stays at random weights" in r.message for r in caplog.records)
    assert load_weights(tmp_path / "r2" / "weights").config.encoder.appearance_train is True


def test_model_summary_counts_the_appearance_path_exactly():
    from openfoley.model import model_summary

    rows = {c.name: c for c in model_summary(APP)}
    c = APP
    t_sampled = len(range(0, c.video_frames, 4))  # 7 of 25 frames
    s = c.video.size  # 32 px -> 16 -> 8 -> 4
    macs_per_frame = (16 * 16 * 8 * 3 * 9) + (8 * 8 * 8 * 8 * 9) + (4 * 4 * 16 * 8 * 9) + 2 * 16 * 16
    assert s == 32
    want = 2 * (t_sampled * macs_per_frame + c.video_frames * 16 * c.cond_dim) / 1e9
    app = rows["appearance path"]
    assert app.gflops == pytest.approx(want, rel=1e-9)
    assert app.params == sum(p.numel() for p in AppearanceEncoder((8, 8, 16), 16, 4).parameters()) + 16 * c.cond_dim + c.cond_dim
    assert rows["MMA (masked + aligned passes)"].gflops > 0  # the parts no longer double-count the encoders
    plain = {r.name for r in model_summary(TINY)}
    assert "appearance path" not in plain and "MMA (masked + aligned passes)" in plain


def test_pretrain_script_refuses_bad_input_in_one_line(bank, tmp_path):
    script = str(ROOT / "scripts" / "pretrain-appearance.py")
    for args, msg in (([ "--bank", str(tmp_path / "none")], "not a sound bank"),
                      (["--bank", str(bank), "--weights", str(tmp_path / "none")], "not a model folder"),
                      (["--bank", str(bank), "--clips", "8", "--batch", "16"], "--clips >= --batch")):
        r = subprocess.run([sys.executable, script, *args, "--out", str(tmp_path / "out")], capture_output=True,
                           text=True)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
