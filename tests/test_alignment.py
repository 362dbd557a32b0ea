"""MMA: mask ratios and shapes, leak-free masking, masked-only loss and gradients, transformer invariances."""

import dataclasses

import pytest
import torch

from openfoley.alignment.masks import Masks, sample_masks, sample_ratios, span_mask, video_mask
from openfoley.alignment.mma import MMA, masked_mse, run_mma, video_pixel_target
from openfoley.alignment.transformer import CrossModalTransformer
from openfoley.config import AlignmentConfig, get_preset
from openfoley.encoders import build_video_encoder
from openfoley.encoders.audio import PatchAudioEncoder
from openfoley.errors import ConfigError


def _runs(row: torch.Tensor) -> list[int]:
    """Lengths of maximal runs of True in a 1-D bool tensor."""
    runs, cur = [], 0
    for v in row.tolist() + [False]:
        if v:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    return runs


def test_ratio_draws_are_uniform_in_window_and_zero_means_off():
    g = torch.Generator().manual_seed(0)
    r = sample_ratios(20000, 0.4, 0.1, g)
    assert r.min() >= 0.3 and r.max() <= 0.5
    assert abs(r.mean().item() - 0.4) < 0.005
    assert abs(r.var().item() - 0.2 ** 2 / 12) < 2e-4  # variance of U[0.3, 0.5]
    assert torch.equal(sample_ratios(5, 0.0, 0.1, g), torch.zeros(5))


def test_realised_ratio_matches_r_and_counts_are_exact():
    g = torch.Generator().manual_seed(1)
    cfg = AlignmentConfig()  # r = 0.4, jitter 0.1, spans (2, 6), clips (2, 5)
    n = t = 100
    m = sample_masks(500, n, t, cfg, g)
    audio_masked = (~m.audio).float().mean(1)
    video_masked = (~m.video).float().mean(1)
    print("masks audio", tuple(m.audio.shape), "video", tuple(m.video.shape))
    torch.testing.assert_close(audio_masked * n, (m.audio_ratio * n).round())  # exact per example
    torch.testing.assert_close(video_masked * t, (m.video_ratio * t).round())
    assert abs(audio_masked.mean().item() - 0.4) < 0.01
    assert abs(video_masked.mean().item() - 0.4) < 0.01


def test_audio_spans_are_contiguous_runs_within_bounds():
    g = torch.Generator().manual_seed(2)
    ratios = torch.rand(500, generator=g) * 0.6 + 0.05
    mask = span_mask(ratios, 64, (2, 6), g)
    for row, r in zip(mask, ratios.tolist(), strict=True):
        count = round(r * 64)
        runs = _runs(~row)
        assert sum(runs) == count
        assert all(2 <= L <= 6 for L in runs), runs  # each maximal masked run is one span
        assert len(runs) <= -(-count // 2)  # no span is split


def test_video_mask_mixes_single_frames_and_clips():
    g = torch.Generator().manual_seed(3)
    ratios = torch.full((400,), 0.4)
    mask = video_mask(ratios, 50, 0.5, (3, 5), g)
    runs = [L for row in mask for L in _runs(~row)]
    assert (~mask).sum(1).eq(20).all()
    assert runs.count(1) > 1000  # singles (about 10 per clip)
    assert sum(1 for L in runs if L >= 3) > 400  # clips (about 2-3 per clip)
    only_clips = video_mask(ratios, 50, 0.0, (3, 5), g)
    assert all(3 <= L <= 5 for row in only_clips for L in _runs(~row))
    only_singles = video_mask(ratios, 50, 1.0, (3, 5), g)
    pos = (~only_singles).float().mean(0)  # singles are spread over the whole clip
    assert pos.min() > 0.2 and pos.max() < 0.6


def _tiny(video="conv", **align):
    cfg = get_preset("tiny")
    if align:
        cfg = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, **align))
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, video=video))
    torch.manual_seed(0)
    venc = build_video_encoder(cfg)
    return cfg, venc.eval(), PatchAudioEncoder(cfg).eval(), MMA(cfg).eval()


def _batch(cfg, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(b, cfg.video_frames, 3, cfg.video.size, cfg.video.size, generator=g)
    mel = torch.randn(b, cfg.audio.n_mels, cfg.model_mel_frames, generator=g)
    masks = sample_masks(b, cfg.audio_tokens, cfg.video_frames, cfg.alignment, g)
    return frames, mel, masks


def test_shapes_of_one_mma_step():
    cfg, venc, aenc, mma = _tiny()
    frames, mel, masks = _batch(cfg)
    out = run_mma(mma, venc, aenc, frames, mel, masks)
    print("frames", tuple(frames.shape), "mel", tuple(mel.shape), "pred_audio", tuple(out.pred_audio.shape),
          "pred_video", tuple(out.pred_video.shape), "aligned", tuple(out.aligned.shape))
    assert out.pred_audio.shape == (2, cfg.audio_tokens, cfg.audio_token_dim)
    assert out.pred_video.shape == (2, cfg.video_frames, 3 * 8 * 8)
    assert out.aligned.shape == (2, cfg.video_frames, cfg.encoder.width)
    assert out.loss.shape == () and torch.allclose(out.loss, out.loss_audio + out.loss_video)
    assert out.loss_audio > 0 and out.loss_video > 0


@pytest.mark.parametrize("target,video", [("pixels", "conv"), ("features", "conv"), ("pixels", "patch"),
                                          ("features", "patch"), ("pixels", "motion"), ("features", "motion")])
def test_values_at_masked_positions_change_no_prediction(target, video):
    """Also for the patch encoder, whose motion path of frame i sees frame i-1, and the motion encoder,
    whose motion path sees frames i-1 and i+1."""
    cfg, venc, aenc, mma = _tiny(video=video, video_target=target)
    frames, mel, masks = _batch(cfg, seed=4)
    out = run_mma(mma, venc, aenc, frames, mel, masks)
    g = torch.Generator().manual_seed(5)
    frames2 = frames.clone()
    frames2[~masks.video] = torch.rand(frames2[~masks.video].shape, generator=g)
    mel2 = mel.clone()
    hidden = ~masks.audio.repeat_interleave(cfg.encoder.audio_patch, dim=1)  # (b, m)
    mel2.transpose(1, 2)[hidden] = torch.randn(mel2.transpose(1, 2)[hidden].shape, generator=g) * 10
    out2 = run_mma(mma, venc, aenc, frames2, mel2, masks)
    assert torch.equal(out2.pred_audio, out.pred_audio)
    assert torch.equal(out2.pred_video, out.pred_video)
    assert out2.loss_audio != out.loss_audio  # the targets did change, so the test can see a leak
    # ...and a change at a *visible* position does reach the predictions
    frames3 = frames.clone()
    i = masks.video[0].nonzero()[0, 0]
    frames3[0, i] = 1 - frames3[0, i]
    assert not torch.equal(run_mma(mma, venc, aenc, frames3, mel, masks).pred_audio, out.pred_audio)


def test_mma_replaces_masked_tokens_before_the_network():
    cfg, _, _, mma = _tiny()
    g = torch.Generator().manual_seed(10)
    b, t, n, d = 2, cfg.video_frames, cfg.audio_tokens, cfg.encoder.width
    v = torch.randn(b, t, d, generator=g, requires_grad=True)
    a = torch.randn(b, n, d, generator=g, requires_grad=True)
    vt, at = torch.rand(b, t, generator=g), torch.rand(b, n, generator=g)
    masks = sample_masks(b, n, t, cfg.alignment, g)
    ta, tv = torch.randn(b, n, mma.audio_dim, generator=g), torch.randn(b, t, mma.video_dim, generator=g)
    out = mma(v, vt, a, at, masks, ta, tv)
    v2 = torch.where(masks.video[..., None], v, torch.randn(b, t, d, generator=g) * 100)
    a2 = torch.where(masks.audio[..., None], a, torch.randn(b, n, d, generator=g) * 100)
    out2 = mma(v2, vt, a2, at, masks, ta, tv)
    assert torch.equal(out2.pred_audio, out.pred_audio) and torch.equal(out2.pred_video, out.pred_video)
    out.loss.backward()  # masked inputs get no gradient at all: they were replaced, not multiplied
    assert torch.equal(v.grad[~masks.video], torch.zeros_like(v.grad[~masks.video]))
    assert torch.equal(a.grad[~masks.audio], torch.zeros_like(a.grad[~masks.audio]))
    assert v.grad[masks.video].abs().sum() > 0 and a.grad[masks.audio].abs().sum() > 0


def test_gradients_reach_the_loss_only_through_masked_positions():
    cfg, venc, aenc, mma = _tiny()
    frames, mel, masks = _batch(cfg, seed=6)
    out = run_mma(mma, venc, aenc, frames, mel, masks)
    out.pred_audio.retain_grad()
    out.pred_video.retain_grad()
    out.loss.backward()
    ga, gv = out.pred_audio.grad.abs().sum(-1), out.pred_video.grad.abs().sum(-1)  # (b, n), (b, t)
    assert torch.equal(ga[masks.audio], torch.zeros_like(ga[masks.audio]))
    assert torch.equal(gv[masks.video], torch.zeros_like(gv[masks.video]))
    assert (ga[~masks.audio] > 0).all() and (gv[~masks.video] > 0).all()


def test_zero_ratio_gives_exactly_zero_loss():
    cfg, venc, aenc, mma = _tiny(mask_ratio=0.0)
    frames, mel, masks = _batch(cfg, seed=7)
    assert masks.audio.all() and masks.video.all()
    out = run_mma(mma, venc, aenc, frames, mel, masks)
    assert out.loss.item() == 0.0 and out.loss_audio.item() == 0.0 and out.loss_video.item() == 0.0


def test_masked_mse_exact_value():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]])
    target = torch.zeros(1, 3, 2)
    visible = torch.tensor([[True, False, False]])
    assert masked_mse(pred, target, visible).item() == (9 + 16 + 0 + 0) / 4


def test_pixel_target_is_average_pooled_frame():
    frames = torch.zeros(1, 1, 3, 4, 4)
    frames[..., :2, :2] = 1.0  # top-left quarter white
    tgt = video_pixel_target(frames, 2).view(3, 2, 2)
    assert torch.equal(tgt, torch.tensor([[1.0, -1.0], [-1.0, -1.0]]).expand(3, 2, 2))


def test_aligned_features_never_see_audio():
    cfg, venc, aenc, mma = _tiny()
    frames, mel, masks = _batch(cfg, seed=8)
    a1 = run_mma(mma, venc, aenc, frames, mel, masks).aligned
    a2 = run_mma(mma, venc, aenc, frames, -mel, masks).aligned
    assert torch.equal(a1, a2)


def test_transformer_invalid_tokens_are_invisible_and_align_equals_absent_audio():
    cfg, _, _, mma = _tiny()
    net: CrossModalTransformer = mma.transformer
    g = torch.Generator().manual_seed(9)
    b, t, n, d = 2, 6, 5, cfg.encoder.width
    v, a = torch.randn(b, t, d, generator=g), torch.randn(b, n, d, generator=g)
    vt, at = torch.rand(b, t, generator=g), torch.rand(b, n, generator=g)
    no_audio = torch.zeros(b, n, dtype=torch.bool)
    y = net(v, vt, a, at, audio_valid=no_audio)
    y2 = net(v, vt, a * 100 + 3, at, audio_valid=no_audio)
    torch.testing.assert_close(y2.video, y.video, atol=0, rtol=0)
    torch.testing.assert_close(mma.align(v, vt), y.video, atol=1e-5, rtol=1e-5)
    vvalid = torch.ones(b, t, dtype=torch.bool)
    vvalid[:, -2:] = False  # padded frames
    v3 = v.clone()
    v3[:, -2:] = 50.0
    out, out3 = net(v, vt, a, at, video_valid=vvalid), net(v3, vt, a, at, video_valid=vvalid)
    torch.testing.assert_close(out3.audio, out.audio, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out3.video[:, :-2], out.video[:, :-2], atol=1e-5, rtol=1e-5)
    # timestamps matter: moving the audio in time changes what the video sees
    assert not torch.allclose(net(v, vt, a, at + 0.5).video, net(v, vt, a, at).video)


def test_shape_and_config_errors():
    cfg, _, _, mma = _tiny()
    with pytest.raises(ValueError, match=r"video \(2, 4, 32\).*audio \(2, 3, 16\)"):
        mma.transformer(torch.randn(2, 4, 32), torch.rand(2, 4), torch.randn(2, 3, 16), torch.rand(2, 3))
    bad = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, video_target="flow"))
    with pytest.raises(ConfigError, match="video_target"):
        MMA(bad)
    with pytest.raises(ValueError, match="masks"):
        frames, mel, masks = _batch(cfg)
        run_mma(mma, build_video_encoder(cfg), PatchAudioEncoder(cfg), frames[:, :-1], mel,
                Masks(masks.audio, masks.video, masks.audio_ratio, masks.video_ratio))


def _events_batch(cfg, b, g):
    """Frames flash a white square at random event frames; the mel bursts at the same instants."""
    t, size = cfg.video_frames, cfg.video.size
    events = torch.rand(b, t, generator=g) < 0.2  # (b, t)
    frames = torch.full((b, t, 3, size, size), 0.1)
    frames[..., 8:24, 8:24] += 0.8 * events[..., None, None, None]
    mel = torch.full((b, cfg.audio.n_mels, cfg.model_mel_frames), -1.0)
    burst = events.repeat_interleave(cfg.encoder.audio_patch, dim=1)  # (b, m): token i = frame i in tiny
    mel += 2.0 * burst[:, None, :]
    return frames, mel


def test_tiny_mma_learns_to_predict_masked_audio_from_video():
    """Audio bursts happen exactly when the video flashes, at random instants: masked audio is only
    predictable from the video at the same instant (Eq. 5, first sum)."""
    cfg, venc, aenc, mma = _tiny(dropout=0.0)
    opt = torch.optim.Adam([*venc.parameters(), *aenc.parameters(), *mma.parameters()], lr=3e-3)
    g = torch.Generator().manual_seed(11)
    frames, mel = _events_batch(cfg, 4, g)
    for _ in range(100):
        masks = sample_masks(4, cfg.audio_tokens, cfg.video_frames, cfg.alignment, g)
        out = run_mma(mma, venc.train(), aenc, frames, mel, masks)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    venc.eval(), mma.eval()
    m = sample_masks(4, cfg.audio_tokens, cfg.video_frames, cfg.alignment, g)
    with torch.no_grad():
        seen = run_mma(mma, venc, aenc, frames, mel, dataclasses.replace(m, video=torch.ones_like(m.video)))
        blind = run_mma(mma, venc, aenc, frames, mel, dataclasses.replace(m, video=torch.zeros_like(m.video)))
    print(f"masked-audio loss with video visible {seen.loss_audio:.3f}, hidden {blind.loss_audio:.3f}")
    assert seen.loss_audio < 0.4 * blind.loss_audio


def test_onset_target_by_hand():
    from openfoley.alignment.mma import onset_target

    mel = torch.zeros(1, 2, 8)
    mel[0, 0, 3:] = 4.0  # bin 0 rises by 4 at frame 3
    mel[0, 1, 6] = 2.0  # bin 1 rises by 2 at frame 6, falls at 7 (a fall is not an onset)
    got = onset_target(mel, 4)  # 4 video frames of 2 mel frames each
    torch.testing.assert_close(got, torch.tensor([[0.0, 2.0, 0.0, 1.0]]), atol=0, rtol=0)
    # lead 1: each interval one mel frame earlier ([-1, 1), [1, 3), [3, 5), [5, 7)): the rise at 3 and at 6
    # now fall in the third and fourth intervals
    torch.testing.assert_close(onset_target(mel, 4, lead=1), torch.tensor([[0.0, 0.0, 2.0, 1.0]]), atol=0, rtol=0)
    # lead 2: [-2, 0), [0, 2), [2, 4), [4, 6): the rise at 6 drops off the end
    torch.testing.assert_close(onset_target(mel, 4, lead=2), torch.tensor([[0.0, 0.0, 2.0, 0.0]]), atol=0, rtol=0)
    with pytest.raises(ValueError, match="lead"):
        onset_target(mel, 4, lead=-1)


def test_mel_flux_and_sharp_guide_target_by_hand():
    from openfoley.alignment.mma import mel_flux, sharp_guide_target

    mel = torch.zeros(1, 2, 8)
    mel[0, 0, 3:] = 4.0  # bin 0 rises by 4 into frame 3
    mel[0, 1, 6] = 2.0  # bin 1 rises by 2 into frame 6, falls at 7
    torch.testing.assert_close(mel_flux(mel), torch.tensor([[0.0, 0, 0, 2.0, 0, 0, 1.0, 0]]), atol=0, rtol=0)
    onset = torch.tensor([[0.8, 0.1, 0.7, 0.2]])  # 4 video frames of 2 mel frames: first mel frames 0, 2, 4, 6
    want = torch.tensor([[0.8, 0.5, 0.1, 0.5, 0.7, 0.5, 0.2, 0.5]])
    torch.testing.assert_close(sharp_guide_target(onset, 8, 0, 0.5), want, atol=0, rtol=0)
    # lead 1: each value one mel frame earlier; frame 0's would fall before the start and is dropped
    want = torch.tensor([[0.5, 0.1, 0.5, 0.7, 0.5, 0.2, 0.5, 0.5]])
    torch.testing.assert_close(sharp_guide_target(onset, 8, 1, 0.5), want, atol=0, rtol=0)
    # unequal intervals (adaptive pooling's starts): 3 frames over 8 mel frames start at 0, 2, 5
    want = torch.tensor([[0.8, 0.0, 0.1, 0.0, 0.0, 0.7, 0.0, 0.0]])
    torch.testing.assert_close(sharp_guide_target(onset[:, :3], 8, 0, 0.0), want, atol=0, rtol=0)
    with pytest.raises(ValueError, match="lead"):
        sharp_guide_target(onset, 8, -1, 0.5)


def test_onset_head_is_off_by_default_and_trains_when_on():
    from openfoley.model import Batch, FoleyModel

    cfg = get_preset("tiny")
    assert not any("onset" in k for k in FoleyModel(cfg).state_dict())  # default: no new weights
    on = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, onset_weight=1.0))
    torch.manual_seed(0)
    model = FoleyModel(on)
    assert "mma.onset_head.weight" in model.state_dict()
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (2, on.video_frames, 3, on.video.size, on.video.size), generator=g,
                           dtype=torch.uint8)
    mel = torch.randn(2, on.audio.n_mels, on.mel_frames, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        out = model(Batch(frames, mel), torch.Generator().manual_seed(step))
        assert out.loss_onset is not None
        opt.zero_grad()
        out.loss_onset.backward()
        opt.step()
        losses.append(float(out.loss_onset.detach()))
    assert losses[-1] < 0.5 * losses[0], losses


def test_conv_onset_head_by_hand_and_its_config_checks():
    import torch.nn.functional as F

    from openfoley.alignment.mma import ConvOnsetHead, build_onset_head

    assert isinstance(build_onset_head(8, 1, 64), torch.nn.Linear)  # the presets' head, its keys unchanged
    head = build_onset_head(1, 3, 1)
    assert isinstance(head, ConvOnsetHead)
    with torch.no_grad():  # first conv: x[t]; GELU; second conv: the value at t - 1 (zero before the clip)
        head.a.weight.copy_(torch.tensor([[[0.0, 1.0, 0.0]]]))
        head.a.bias.zero_()
        head.b.weight.copy_(torch.tensor([[[1.0, 0.0, 0.0]]]))
        head.b.bias.fill_(0.5)
        x = torch.tensor([[[1.0], [-2.0], [3.0], [0.0]]])  # (b=1, t=4, d=1)
        want = torch.stack([torch.tensor(0.0), F.gelu(torch.tensor(1.0)), F.gelu(torch.tensor(-2.0)),
                            F.gelu(torch.tensor(3.0))]) + 0.5
        torch.testing.assert_close(head(x), want.reshape(1, 4, 1), atol=1e-6, rtol=0)  # float rounding only
    for kernel, width in ((2, 64), (0, 64), (3, 0)):
        with pytest.raises(ConfigError, match="onset_head_kernel"):
            build_onset_head(8, kernel, width)
    cfg = get_preset("tiny")
    on = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, onset_weight=1.0, onset_head_kernel=5))
    from openfoley.model import FoleyModel

    model = FoleyModel(on)
    assert "mma.onset_head.a.weight" in model.state_dict() and "mma.onset_head.weight" not in model.state_dict()
    aligned = torch.randn(2, on.video_frames, on.encoder.width)
    assert model.predicted_onset(aligned).shape == (2, on.video_frames)


def test_neighbours_seen_by_hand():
    from openfoley.alignment.mma import neighbours_seen

    seen = torch.tensor([[True, True, False, True, True, True, False]])
    assert neighbours_seen(seen, (0, 0)).tolist() == seen.tolist()
    assert neighbours_seen(seen, (1, 0)).tolist() == [[True, True, False, False, True, True, False]]
    assert neighbours_seen(seen, (1, 1)).tolist() == [[True, False, False, False, True, False, False]]
    assert neighbours_seen(seen, (0, 2)).tolist() == [[False, False, False, True, False, False, False]]
