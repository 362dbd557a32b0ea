"""Config: presets' derived lengths equal hand-computed values; JSON and TOML round trips; overrides."""

import dataclasses

import pytest

from openfoley.config import Config, apply_overrides, get_preset, load_toml
from openfoley.errors import ConfigError


def test_small_derived_lengths():
    c = get_preset("small")
    # 8 s at 16 kHz, hop 320 -> 50 mel frames/s -> 400; patches of 4 -> 100 tokens; 12.5 fps -> 100
    assert c.samples == 8 * 16000
    assert c.mel_frames == 400
    assert c.audio_tokens == 100
    assert c.video_frames == 100
    assert c.audio_token_dim == 4 * 64
    assert c.key_frames == 50
    assert c.tokens_per_second == 12.5


def test_paper_derived_lengths():
    c = get_preset("paper")
    # 10 s at 8 kHz, 25 ms hop = 200 samples -> 400 native frames, resampled to 128 time steps
    assert c.audio.hop_length == 200 and c.audio.win_length == 400
    assert c.mel_frames == 400
    assert c.model_mel_frames == 128
    assert c.audio_tokens == 128
    assert c.audio.n_mels == 128
    assert c.video.size == 224
    assert c.alignment.mask_ratio == 0.4
    assert (c.flow.coupling_layers, c.flow.coupling_width) == (12, 512)
    assert (c.train.lr, c.train.warmup_steps, c.train.batch_size) == (3e-4, 5000, 128)


def test_tiny_derived_lengths():
    c = get_preset("tiny")
    assert (c.samples, c.mel_frames, c.audio_tokens, c.video_frames) == (16000, 100, 25, 25)


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_json_round_trip(name):
    c = get_preset(name)
    assert Config.from_json(c.to_json()) == c


def test_frozen():
    c = get_preset("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.audio.sample_rate = 1  # type: ignore[misc]


def test_overrides_coerce_types():
    c = apply_overrides(get_preset("tiny"), ["flow.kind=ddpm", "alignment.mask_ratio=0.2",
                                             "alignment.enabled=off", "audio.f_max=none",
                                             "alignment.audio_span=2,5", "seconds=4"])
    assert c.flow.kind == "ddpm" and c.alignment.mask_ratio == 0.2 and c.alignment.enabled is False
    assert c.audio.f_max is None and c.alignment.audio_span == (2, 5) and c.seconds == 4.0
    assert c.video_frames == 50


@pytest.mark.parametrize("bad", ["flow.nope=1", "nosection.x=1", "flow.steps=abc", "flow.steps=1.5",
                                 "alignment.enabled=maybe", "flowsteps"])
def test_bad_overrides(bad):
    with pytest.raises(ConfigError):
        apply_overrides(get_preset("tiny"), [bad])


def test_inconsistent_lengths_rejected():
    with pytest.raises(ConfigError, match="must be whole"):
        apply_overrides(get_preset("tiny"), ["seconds=2.01"])
    with pytest.raises(ConfigError, match="multiple of hop_length"):
        apply_overrides(get_preset("tiny"), ["audio.hop_length=150"])
    # the guide's lead moves a frame's interval by less than one video frame (4 mel frames in small)
    assert apply_overrides(get_preset("small"), ["flow.onset_guide_lead=3"]).flow.onset_guide_lead == 3
    for bad in ("4", "-1"):
        with pytest.raises(ConfigError, match="onset_guide_lead must be 0 to 3"):
            apply_overrides(get_preset("small"), [f"flow.onset_guide_lead={bad}"])


def test_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('seconds = 4.0\n[flow]\nsteps = 8\nsolver = "heun"\n[video]\nresize = "pad"\n')
    c = load_toml(get_preset("tiny"), p)
    assert (c.seconds, c.flow.steps, c.flow.solver, c.video.resize) == (4.0, 8, "heun", "pad")
    p.write_text("[flow\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_toml(get_preset("tiny"), p)
    with pytest.raises(ConfigError, match="not found"):
        load_toml(get_preset("tiny"), tmp_path / "missing.toml")
