"""The conv U-Net velocity network (``flow.net = "unet"``) on the tiny preset: the zero field at init,
the prepared condition, the null condition, key-frame visibility (the Eq. 7 local branch), the time
layout of its levels (learning: tests/test_flow_generators.py runs cfm and ddpm on it)."""

import dataclasses

import pytest
import torch

from openfoley.config import get_preset
from openfoley.errors import ConfigError
from openfoley.flow import CFMGenerator, FlowCondition, build_generator
from openfoley.flow.unet import ConvVelocityNet

CFG = get_preset("tiny")
N, PF, D, K = CFG.audio_tokens, CFG.audio_token_dim, CFG.encoder.width, CFG.key_frames


def unet_cfg(**kw):
    return dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, net="unet", dropout=0.0, **kw))


def make_cond(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return FlowCondition(tokens=torch.randn(b, N, D, generator=g), keys=torch.randn(b, K, D, generator=g),
                         key_times=torch.rand(b, K, generator=g) * CFG.seconds,
                         key_mask=torch.ones(b, K, dtype=torch.bool))


def randomised(seed=0):
    torch.manual_seed(seed)
    gen = build_generator(unet_cfg()).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in gen.net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return gen


def test_built_from_config_and_zero_at_init():
    torch.manual_seed(0)
    gen = build_generator(unet_cfg())
    assert isinstance(gen, CFMGenerator) and isinstance(gen.net, ConvVelocityNet)
    assert gen.net.levels == 2  # audio_patch 4 = 2 halvings down to the token rate
    x, t = torch.randn(3, N, PF), torch.rand(3)
    assert torch.equal(gen.eval().net(x, t, make_cond()), torch.zeros(3, N, PF))
    assert randomised().net(x, t, make_cond()).abs().max() > 1e-3


def test_prepared_condition_and_null():
    gen = randomised()
    x, t, c = torch.randn(3, N, PF), torch.rand(3), make_cond()
    torch.testing.assert_close(gen.net.predict(x, t, gen.net.prepare(c)), gen.net(x, t, c), atol=0, rtol=0)
    # dropped examples ignore tokens and keys entirely
    c2 = make_cond(seed=9)
    drop = torch.ones(3, dtype=torch.bool)
    v1 = gen.net(x, t, dataclasses.replace(c, drop=drop))
    v2 = gen.net(x, t, dataclasses.replace(c2, drop=drop))
    torch.testing.assert_close(v1, v2, atol=1e-6, rtol=0)
    assert (gen.net(x, t, c) - v1).abs().max() > 1e-3


def test_token_condition_is_local_in_time():
    """Changing the video condition of late tokens leaves the velocity of early mel frames alone
    at the full-rate levels only through the receptive field and the bottleneck; with the key frames
    hidden and the bottleneck's attention confined, the early output does still move (global context
    exists), but the biggest change is where the condition changed."""
    gen = randomised()
    x, t, c = torch.randn(1, N, PF), torch.rand(1), make_cond(b=1)
    tokens = c.tokens.clone()
    tokens[:, 20:] += 3.0
    v0 = gen.net(x, t, c)
    v1 = gen.net(x, t, dataclasses.replace(c, tokens=tokens))
    change = (v1 - v0).abs().mean(-1)[0]  # (n,)
    assert change[20:].mean() > 2 * change[:10].mean()


def test_invisible_key_frames_do_not_matter():
    gen = randomised()
    x, t, c = torch.randn(2, N, PF), torch.rand(2), make_cond(b=2)
    vis = torch.zeros(2, N, K, dtype=torch.bool)
    vis[..., 0] = True
    keys = c.keys.clone()
    keys[:, 1:] = torch.randn(keys[:, 1:].shape)
    a = gen.net(x, t, c, key_visibility=vis)
    b = gen.net(x, t, dataclasses.replace(c, keys=keys), key_visibility=vis)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (gen.net(x, t, c) - a).abs().max() > 1e-4


def test_shape_and_config_errors():
    gen = randomised()
    with pytest.raises(ValueError, match="must be"):
        gen.net(torch.randn(2, N, PF + 1), torch.rand(2), make_cond(b=2))
    with pytest.raises(ValueError, match="t must be"):
        gen.net(torch.randn(2, N, PF), torch.rand(3), make_cond(b=2))
    with pytest.raises(ConfigError, match="power of two"):
        dataclasses.replace(CFG, encoder=dataclasses.replace(CFG.encoder, audio_patch=5),
                            audio=dataclasses.replace(CFG.audio, time_steps=100), flow=unet_cfg().flow)
    with pytest.raises(ConfigError, match="transformer or unet"):
        dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, net="lstm"))
    with pytest.raises(ConfigError, match="unet_blocks must be at least 1"):
        dataclasses.replace(CFG, flow=unet_cfg(unet_blocks=0).flow)
    with pytest.raises(ConfigError, match="only with flow.net = unet"):
        dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, unet_blocks=2))


def test_more_blocks_per_level_are_more_layers_on_the_same_path():
    """unet_blocks = 3: two more residual blocks per level on each side, each with its own tensors; one block a
    level keeps the module tree (and so the built-in model's tensor names) as it was."""
    torch.manual_seed(0)
    one = build_generator(unet_cfg()).net
    assert all(len(m) == 0 for m in (*one.down_more, *one.up_more))
    torch.manual_seed(0)
    three = build_generator(unet_cfg(unet_blocks=3)).net
    assert [len(m) for m in (*three.down_more, *three.up_more)] == [2] * 4
    extra = set(three.state_dict()) - set(one.state_dict())
    per_block = {k.split(".", 3)[3] for k in extra}
    assert len(extra) == 8 * len(per_block) and set(one.state_dict()) <= set(three.state_dict())
    # a fresh block is the identity (its last conv starts at zero), so with the shared tensors equal the
    # two networks compute the same field; once a new block's last conv is not zero, they differ
    three.load_state_dict(one.state_dict(), strict=False)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in one.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    three.load_state_dict(one.state_dict(), strict=False)
    x, t, c = torch.randn(3, N, PF), torch.rand(3), make_cond()
    one.eval()
    three.eval()
    torch.testing.assert_close(three(x, t, c), one(x, t, c), atol=1e-6, rtol=0)
    with torch.no_grad():
        three.up_more[0][1].conv2.weight.add_(0.1)
    assert (three(x, t, c) - one(x, t, c)).abs().max() > 1e-3


@pytest.mark.parametrize("net", ["unet", "transformer"])
def test_global_route_starts_as_nothing_and_then_reads_the_whole_clip(net):
    """flow.global_cond: a net with the route computes exactly what the same weights without it compute
    (its projections start at zero), and once trained a clip-wide change of the condition reaches the
    velocity through the flow-time embedding, null rows excepted (CFG's null sees no tokens)."""
    cfg = dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, net=net, dropout=0.0))
    gcfg = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, global_cond=True))
    torch.manual_seed(0)
    plain = build_generator(cfg).eval()
    with torch.no_grad():
        for p in plain.net.parameters():
            p.add_(torch.randn(p.shape) * 0.1)
    routed = build_generator(gcfg).eval()
    missing, unexpected = routed.load_state_dict(plain.state_dict(), strict=False)
    new = {"net.global_proj.weight", "net.global_proj.bias"} | (
        {"net.out_mod.weight", "net.out_mod.bias"} if net == "unet" else set())
    assert set(missing) == new and not unexpected
    x, t, c = torch.randn(3, N, PF), torch.rand(3), make_cond()
    assert torch.equal(routed.net(x, t, c), plain.net(x, t, c))
    torch.nn.init.normal_(routed.net.global_proj.weight, std=0.5)
    if net == "unet":
        torch.nn.init.normal_(routed.net.out_mod.weight, std=0.5)
    assert (routed.net(x, t, c) - plain.net(x, t, c)).abs().max() > 1e-3
    drop = torch.tensor([True, False, False])
    shifted = dataclasses.replace(c, tokens=c.tokens + 1.0)
    d = (routed.net(x, t, dataclasses.replace(shifted, drop=drop)) - routed.net(x, t, dataclasses.replace(c, drop=drop)))
    assert d[0].abs().max() == 0 and d[1:].abs().max() > 1e-3


def test_global_route_is_the_projection_of_mean_and_max():
    from openfoley.flow.velocity import global_route

    tokens = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [2.0, 5.0]]])  # (1, 3, 2): mean (2, 1), max (3, 5)
    proj = torch.nn.Linear(4, 2)
    with torch.no_grad():
        proj.weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]))
        proj.bias.copy_(torch.tensor([0.5, -1.0]))
    assert global_route(proj, tokens, 2).tolist() == [[2.5, 8.0]]  # 2 + 0.5; 1 + 3 + 5 - 1
    assert global_route(None, tokens, 7).tolist() == [[0.0] * 7]
    # flow.global_gain: bias + gain * W [mean, max]; W [mean, max] = (2, 9)
    assert global_route(proj, tokens, 2, gain=2.0).tolist() == [[4.5, 17.0]]
    assert global_route(proj, tokens, 2, gain=0.0).tolist() == [[0.5, -1.0]]
    assert global_route(None, tokens, 3, gain=2.0).tolist() == [[0.0] * 3]
    with pytest.raises(ConfigError, match="global_cond needs"):
        dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, kind="coupling", global_cond=True))
    for bad in ({"global_gain": 2.0}, {"global_gain": -1.0, "global_cond": True},
                {"global_gain": float("nan"), "global_cond": True}):
        with pytest.raises(ConfigError, match="global_gain"):
            dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, **bad))


@pytest.mark.parametrize("net", ["unet", "transformer"])
def test_global_gain_acts_in_sampling_only(net):
    """flow.global_gain scales the route in eval mode (sampling, the lite export) and not in training."""
    base = dataclasses.replace(CFG.flow, net=net, dropout=0.0, global_cond=True)
    torch.manual_seed(0)
    one = build_generator(dataclasses.replace(CFG, flow=base))
    two = build_generator(dataclasses.replace(CFG, flow=dataclasses.replace(base, global_gain=2.0)))
    with torch.no_grad():
        torch.nn.init.normal_(one.net.global_proj.weight, std=0.5)
        torch.nn.init.normal_(one.net.global_proj.bias, std=0.5)
    two.load_state_dict(one.state_dict())
    c = make_cond()
    for gen in (one, two):
        gen.train()
    assert torch.equal(one.net.prepare(c).glob, two.net.prepare(c).glob)
    for gen in (one, two):
        gen.eval()
    g1, g2, bias = one.net.prepare(c).glob, two.net.prepare(c).glob, one.net.global_proj.bias
    torch.testing.assert_close(g2, bias + 2 * (g1 - bias))
    assert (g2 - g1).abs().max() > 1e-2
