"""Encoders: shapes and timestamps, per-frame independence, padding safety, mel patch layout, and the
pretrained adapters' save/load round trips with random weights (never a download) and their errors."""

import dataclasses

import pytest
import torch
from safetensors.torch import save_file

from openfoley.config import get_preset
from openfoley.encoders import build_audio_encoder, build_video_encoder
from openfoley.encoders.audio import PatchAudioEncoder
from openfoley.encoders.pretrained import (
    AudioMAEEncoder,
    AudioViTSpec,
    AudioViTTower,
    SiglipVideoEncoder,
    SiglipVisionTower,
    ViTSpec,
)
from openfoley.encoders.video import (
    ConvVideoEncoder,
    MotionVideoEncoder,
    PatchVideoEncoder,
    WindowVideoEncoder,
    unpool_motion_state,
)
from openfoley.errors import ConfigError, ModelError
from openfoley.nn.patches import centre_times, patchify, unpatchify


def _cfg(**enc):
    cfg = get_preset("tiny")
    return dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, **enc)) if enc else cfg


def _frames(cfg, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, cfg.video_frames, 3, cfg.video.size, cfg.video.size, generator=g)


def test_conv_video_encoder_shapes_times_and_uint8():
    cfg = _cfg()
    enc = ConvVideoEncoder(cfg).eval()
    frames = _frames(cfg)
    out = enc(frames)
    print("frames", tuple(frames.shape), "features", tuple(out.features.shape), "times", tuple(out.times.shape))
    assert out.features.shape == (2, 25, 32) and out.times.shape == (2, 25)
    torch.testing.assert_close(out.times[0, :3], torch.tensor([0.04, 0.12, 0.20]))  # (i + 0.5) / 12.5
    u8 = (frames * 255).round().to(torch.uint8)
    torch.testing.assert_close(enc(u8).features, enc(u8.float() / 255).features)
    own = torch.rand(2, 25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(enc(frames, times=own).times, own)


def test_frame_features_are_per_frame_and_mixing_respects_padding():
    cfg = _cfg()
    enc = ConvVideoEncoder(cfg).eval()
    frames = _frames(cfg, seed=2)
    f2 = frames.clone()
    f2[:, 10] = 1 - f2[:, 10]
    a, b = enc.frame_features(frames), enc.frame_features(f2)
    changed = (a - b).abs().amax(-1) > 0  # (b, t)
    assert changed[:, 10].all() and not changed[:, :10].any() and not changed[:, 11:].any()
    # temporal mixing does mix neighbours ...
    assert not torch.equal(enc(frames).features[:, 9], enc(f2).features[:, 9])
    # ... but never from an invalid frame
    valid = torch.ones(2, 25, dtype=torch.bool)
    valid[:, 10] = False
    y, y2 = enc(frames, valid=valid).features, enc(f2, valid=valid).features
    torch.testing.assert_close(y2[valid], y[valid], atol=0, rtol=0)


def test_patch_video_encoder_parts_are_appearance_and_motion():
    cfg = _cfg(video="patch")
    enc = build_video_encoder(cfg).eval()
    assert isinstance(enc, PatchVideoEncoder) and enc.patch == 4  # 32 px / 8 patches
    frames = _frames(cfg, seed=3)
    out = enc(frames)
    assert out.features.shape == (2, 25, 32)
    a, m = enc.frame_parts(frames)
    torch.testing.assert_close(enc.frame_features(frames), a + m, atol=0, rtol=0)
    # a still video has the motion of a zero difference on every frame, and frame 0 always does
    still = frames[:, :1].expand(-1, 25, -1, -1, -1)
    _, m_still = enc.frame_parts(still)
    zero = enc._path(enc.motion, torch.zeros_like(still[:, :1]))  # (b, 1, d)
    torch.testing.assert_close(m_still, zero.expand_as(m_still), atol=1e-6, rtol=0)
    torch.testing.assert_close(m[:, 0], zero[:, 0], atol=1e-6, rtol=0)
    # changing frame 10 changes its appearance, and the motion of frames 10 and 11 only
    f2 = frames.clone()
    f2[:, 10] = 1 - f2[:, 10]
    a2, m2 = enc.frame_parts(f2)
    da, dm = (a - a2).abs().amax(-1), (m - m2).abs().amax(-1)  # (b, t)
    assert (da[:, 10] > 0).all() and not da[:, :10].any() and not da[:, 11:].any()
    assert (dm[:, 10:12] > 0).all() and not dm[:, :10].any() and not dm[:, 12:].any()
    # where a thing moves matters: the same change in another grid cell gives other features
    f3, f4 = frames.clone(), frames.clone()
    f3[:, 5, :, :8, :8] = 1.0
    f4[:, 5, :, -8:, -8:] = 1.0
    assert (enc.frame_features(f3)[:, 5] - enc.frame_features(f4)[:, 5]).abs().max() > 1e-4


def test_motion_video_encoder_reads_each_frame_and_its_two_neighbours():
    cfg = _cfg(video="motion", temporal_layers=2)
    enc = build_video_encoder(cfg).eval()
    assert isinstance(enc, MotionVideoEncoder) and enc.motion_reach == (1, 1)
    assert len(enc.temporal.convs) == 2
    frames = _frames(cfg, seed=4)
    assert enc(frames).features.shape == (2, 25, 32)
    a, m = enc.frame_parts(frames)
    torch.testing.assert_close(enc.frame_features(frames), a + m, atol=0, rtol=0)
    # a still video has zero d_prev and d_next everywhere: every frame gets the motion of a zero patch
    still = frames[:, :1].expand(-1, 25, -1, -1, -1)
    _, m_still = enc.frame_parts(still)
    z = enc.mot_embed(torch.zeros(1, 2 * 3 * 4 * 4))  # one zero patch (1, c); max = mean over equal patches
    zero = enc.mot_out(torch.cat([z, z], -1))[0]  # (d,)
    torch.testing.assert_close(m_still, zero.expand_as(m_still), atol=1e-6, rtol=0)
    # changing frame 10 changes its appearance, and the motion of frames 9, 10 and 11 only
    f2 = frames.clone()
    f2[:, 10] = 1 - f2[:, 10]
    a2, m2 = enc.frame_parts(f2)
    da, dm = (a - a2).abs().amax(-1), (m - m2).abs().amax(-1)  # (b, t)
    assert (da[:, 10] > 0).all() and not da[:, :10].any() and not da[:, 11:].any()
    assert (dm[:, 9:12] > 0).all() and not dm[:, :9].any() and not dm[:, 12:].any()
    # a small thing that moves and stops inside one 8x8 corner moves the max-pooled motion features
    f3 = frames[:, :1].expand(-1, 25, -1, -1, -1).clone()
    f3[:, 5, :, :4, :4] = 1.0
    assert (enc.frame_parts(f3)[1][:, 4:7] - m_still[:, 4:7]).abs().amax() > 1e-4
    with pytest.raises(ValueError, match="divisible by 8"):
        MotionVideoEncoder(dataclasses.replace(cfg, video=dataclasses.replace(cfg.video, size=36)))


def test_motion_pool_one_sees_full_resolution_and_unpools_exactly():
    """encoder.motion_pool 1 reads 8 x 8-pixel patches of the full frame; a pool-2 state turned into pool 1
    by ``unpool_motion_state`` computes the same features; detail inside a 2 x 2 block is seen only at pool 1."""
    cfg2 = _cfg(video="motion", temporal_layers=1)
    cfg1 = _cfg(video="motion", temporal_layers=1, motion_pool=1)
    enc2 = build_video_encoder(cfg2).eval()
    enc1 = build_video_encoder(cfg1).eval()
    assert enc2.PATCH == 4 and enc1.PATCH == 8
    assert enc1.mot_embed[0].weight.shape[1] == 2 * 3 * 8 * 8 and enc2.mot_embed[0].weight.shape[1] == 2 * 3 * 4 * 4
    enc1.load_state_dict(unpool_motion_state(enc2.state_dict(), 2))
    frames = _frames(cfg2, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(enc1(frames).features, enc2(frames).features, atol=2e-5, rtol=1e-5)
        # a checkerboard inside each 2 x 2 block averages to the same pooled frame: pool 2 cannot tell,
        # pool 1 (trained away from the unpooled start: perturbed weights) can
        flat = torch.full_like(frames[:, :1], 0.5).expand(-1, 25, -1, -1, -1).clone()
        checker = flat.clone()
        checker[:, 7, :, 0::2, 0::2] = 0.0
        checker[:, 7, :, 1::2, 1::2] = 0.0
        checker[:, 7, :, 0::2, 1::2] = 1.0
        checker[:, 7, :, 1::2, 0::2] = 1.0
        torch.testing.assert_close(enc2(checker).features, enc2(flat).features, atol=1e-6, rtol=0)
        enc1.mot_embed[0].weight.add_(0.05 * torch.randn_like(enc1.mot_embed[0].weight))
        assert (enc1(checker).features - enc1(flat).features).abs().amax() > 1e-3
    with pytest.raises(ConfigError, match="motion_pool"):
        _cfg(motion_pool=3)


def test_window_video_encoder_starts_as_the_motion_encoder_and_reads_three_frames():
    """encoder.video = window: the motion encoder's tensors plus a zero-initialised window path, so a motion
    state loads into it (the window weights aside) with identical outputs; once the path is non-zero,
    frame i's part depends on frames i-1, i and i+1 only, and a few pixels that move are seen wherever
    they are (3 x 3 convolutions)."""
    cfg_m = _cfg(video="motion", temporal_layers=1)
    cfg_w = _cfg(video="window", temporal_layers=1)
    mot = build_video_encoder(cfg_m).eval()
    win = build_video_encoder(cfg_w).eval()
    assert isinstance(win, WindowVideoEncoder) and win.motion_reach == (1, 1)
    missing, unexpected = win.load_state_dict(mot.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("win_") for k in missing)
    frames = _frames(cfg_w, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(win(frames).features, mot(frames).features, atol=0, rtol=0)
        assert win.window_part(frames).shape == (2, 25, 32) and not win.window_part(frames).any()
        torch.nn.init.normal_(win.win_out.weight, std=0.1)
        w = win.window_part(frames)
        f2 = frames.clone()
        f2[:, 10] = 1 - f2[:, 10]
        dw = (w - win.window_part(f2)).abs().amax(-1)  # (b, t)
        assert (dw[:, 9:12] > 0).all() and not dw[:, :9].any() and not dw[:, 12:].any()
        a, m = win.frame_parts(frames)
        torch.testing.assert_close(m, mot.frame_parts(frames)[1] + w, atol=1e-6, rtol=0)
        # a 2 x 2 dot that drops by 2 pixels at frame 5 changes frames 4-6 the same way in any corner
        still = torch.full_like(frames[:, :1], 0.5).expand(-1, 25, -1, -1, -1).clone()
        base = win.window_part(still)
        for y, x in ((4, 4), (20, 22)):
            moved = still.clone()
            moved[:, :5, :, y:y + 2, x:x + 2] = 0.0
            moved[:, 5:, :, y + 2:y + 4, x:x + 2] = 0.0
            assert (win.window_part(moved)[:, 4:7] - base[:, 4:7]).abs().amax() > 1e-4


def test_patch_layout_and_round_trip():
    mel = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)  # (b, f=3, m=8)
    tok = patchify(mel, 4)
    assert tok.shape == (2, 2, 12)
    # token 1 = frames 4..7, frame-major: [f0 f1 f2 of frame 4, then frame 5, ...]
    assert tok[0, 1, :3].tolist() == mel[0, :, 4].tolist() and tok[0, 1, 3:6].tolist() == mel[0, :, 5].tolist()
    assert torch.equal(unpatchify(tok, 4, 3), mel)
    assert torch.equal(centre_times(3, 0.5), torch.tensor([0.25, 0.75, 1.25]))


def test_patch_audio_encoder_shapes_and_times_match_video():
    cfg = _cfg()
    enc = PatchAudioEncoder(cfg)
    mel = torch.randn(2, cfg.audio.n_mels, cfg.model_mel_frames)
    out = enc(mel)
    print("mel", tuple(mel.shape), "tokens", tuple(out.tokens.shape), "times", tuple(out.times.shape))
    assert out.tokens.shape == (2, cfg.audio_tokens, 32)
    # tiny: 0.08 s tokens at 12.5 fps -> token i and frame i share one timestamp
    torch.testing.assert_close(out.times, ConvVideoEncoder(cfg)(_frames(cfg)).times)
    with pytest.raises(ValueError, match=r"mel \(2, 32, 99\)"):
        enc(torch.randn(2, 32, 99))


# --- pretrained adapters: the real architectures with random weights -------------------------------
SIGLIP = ViTSpec(image_size=32, patch=8, width=64, depth=2, heads=1, mlp=96)  # heads = width // 64
AUDIOMAE = AudioViTSpec(input_frames=64, input_bins=128, patch=16, width=64, depth=2, heads=1, mlp=96)


def _randomise(m: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for p in m.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.1


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_siglip_round_trip(tmp_path, suffix):
    tower = SiglipVisionTower(SIGLIP)
    _randomise(tower, 0)
    sd = {f"vision_model.{k}": v.clone() for k, v in tower.state_dict().items()}
    sd["text_model.embeddings.token_embedding.weight"] = torch.zeros(5, 4)  # two-tower files carry text keys
    path = tmp_path / f"siglip{suffix}"
    save_file(sd, str(path)) if suffix == ".safetensors" else torch.save({"state_dict": sd}, path)
    cfg = _cfg(video="siglip", video_weights=str(path))
    enc = build_video_encoder(cfg).eval()
    assert isinstance(enc, SiglipVideoEncoder) and enc.vision_model.spec == SIGLIP
    frames = _frames(cfg, seed=3)
    images = frames.flatten(0, 1) * 2 - 1  # tiny frames are 32x32 = the tower's size: no resize
    torch.testing.assert_close(enc.vision_model(images), tower(images), atol=0, rtol=0)
    out = enc(frames)
    print("siglip features", tuple(out.features.shape))
    assert out.features.shape == (2, 25, 32)
    assert not any(p.requires_grad for p in enc.vision_model.parameters())
    assert enc.proj.weight.requires_grad


def test_audiomae_round_trip(tmp_path):
    tower = AudioViTTower(AUDIOMAE)
    _randomise(tower, 1)
    sd = {k: v.clone() for k, v in tower.state_dict().items()}
    sd["decoder_pred.weight"] = torch.zeros(3, 3)  # MAE checkpoints also hold the decoder: ignored
    path = tmp_path / "audiomae.pth"
    torch.save({"model": sd}, path)
    cfg = _cfg(audio="audiomae", audio_weights=str(path))
    enc = build_audio_encoder(cfg).eval()
    assert isinstance(enc, AudioMAEEncoder) and enc.tower.spec == AUDIOMAE
    img = torch.randn(2, 1, 64, 128, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(enc.tower(img), tower(img), atol=0, rtol=0)
    mel = torch.randn(2, cfg.audio.n_mels, cfg.model_mel_frames)
    out = enc(mel)
    print("audiomae tokens", tuple(out.tokens.shape))
    assert out.tokens.shape == (2, cfg.audio_tokens, 32)
    assert torch.equal(out.times, PatchAudioEncoder(cfg)(mel).times)


def test_adapters_reject_missing_and_wrong_files(tmp_path):
    cfg = _cfg(video="siglip", video_weights=str(tmp_path / "nope.safetensors"))
    with pytest.raises(ModelError, match="nope.safetensors: SigLIP vision weights file not found"):
        build_video_encoder(cfg)
    with pytest.raises(ModelError, match="no weights path"):
        build_audio_encoder(_cfg(audio="audiomae"))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(ModelError, match="junk.safetensors: cannot read"):
        SiglipVideoEncoder.from_weights(cfg, junk)
    # an AudioMAE file handed to the SigLIP adapter
    other = tmp_path / "audiomae.safetensors"
    save_file(AudioViTTower(AUDIOMAE).state_dict(), str(other))
    with pytest.raises(ModelError, match="not SigLIP vision weights"):
        SiglipVideoEncoder.from_weights(cfg, other)
    # right names, wrong shapes: a file whose blocks disagree with its own patch embedding
    sd = {f"vision_model.{k}": v for k, v in SiglipVisionTower(SIGLIP).state_dict().items()}
    sd["vision_model.encoder.layers.1.mlp.fc2.weight"] = torch.zeros(64, 7)
    bad = tmp_path / "bad.safetensors"
    save_file(sd, str(bad))
    with pytest.raises(ModelError, match=r"bad.safetensors: .*fc2.weight \(64, 7\) != \(64, 96\)"):
        SiglipVideoEncoder.from_weights(cfg, bad)
    del sd["vision_model.head.mlp.fc1.bias"]
    save_file(sd, str(bad))
    with pytest.raises(ModelError, match="missing 1 key"):
        SiglipVideoEncoder.from_weights(cfg, bad)


def test_unknown_encoder_names():
    with pytest.raises(ConfigError, match="encoder.video"):
        build_video_encoder(_cfg(video="resnet"))
    with pytest.raises(ConfigError, match="encoder.audio"):
        build_audio_encoder(_cfg(audio="passt"))
