"""Generators end to end on the tiny preset: zero-initialised output, guidance identities through the
network, invariances (null condition, masked and non-visible key frames), determinism per seed, and
every kind learning a fixed two-mode conditional target."""

import dataclasses
import inspect

import pytest
import torch
from numeric import assert_close

from openfoley.config import get_preset
from openfoley.errors import ConfigError
from openfoley.flow import GENERATORS, FlowCondition, build_generator
from openfoley.flow.base import binned_mean
from openfoley.flow.cfm import nearest_keys
from openfoley.flow.guidance import cfg_combine
from openfoley.flow.solvers import integrate, time_grid
from openfoley.flow.velocity import VelocityNet

CFG = get_preset("tiny")
N, PF, D, K = CFG.audio_tokens, CFG.audio_token_dim, CFG.encoder.width, CFG.key_frames


def with_flow(**kw):
    return dataclasses.replace(CFG, flow=dataclasses.replace(CFG.flow, **kw))


def make_cond(b=3, seed=0, key_valid=None):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, K, dtype=torch.bool) if key_valid is None else key_valid
    return FlowCondition(tokens=torch.randn(b, N, D, generator=g), keys=torch.randn(b, K, D, generator=g),
                         key_times=torch.rand(b, K, generator=g) * CFG.seconds, key_mask=mask)


def randomise(module, seed=0, std=0.1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def fresh_cfm(**kw):
    torch.manual_seed(0)
    gen = build_generator(with_flow(dropout=0.0, **kw))
    return gen.eval()


# --- structure ------------------------------------------------------------------------------------
def test_zero_initialised_output_gives_zero_velocity():
    gen = fresh_cfm()
    x, t = torch.randn(3, N, PF), torch.rand(3)
    v = gen.net(x, t, make_cond())
    assert v.shape == (3, N, PF) and torch.equal(v, torch.zeros_like(v))
    # so the fresh generator's ODE leaves its noise where it is
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(gen.sample(make_cond(), g1), torch.randn(3, N, PF, generator=g2))
    randomise(gen.net.out)
    randomise(gen.net.final_mod)
    assert gen.net(x, t, make_cond()).abs().max() > 1e-3  # the zero came from the init, not the wiring


def test_guidance_scale_one_equals_conditional():
    gen = fresh_cfm()
    randomise(gen.net)
    cond = make_cond()
    x, t = torch.randn(3, N, PF), torch.tensor(0.3)
    assert torch.equal(gen.velocity_fn(cond, 1.0, False)(x, t), gen.net(x, t.expand(3), cond))
    grid = time_grid(3)
    direct = integrate(lambda xx, tt: gen.net(xx, tt.expand(3), cond), torch.randn(3, N, PF,
                       generator=torch.Generator().manual_seed(5)), grid, "midpoint")
    sampled = gen.sample(cond, torch.Generator().manual_seed(5), steps=3, solver="midpoint", cfg_scale=1.0,
                         refine=False)
    assert_close(sampled, direct, rtol=0, atol=1e-6)


def test_batched_guidance_and_refinement_match_separate_forwards():
    gen = fresh_cfm(refine_scale=0.7, refine_neighbors=2)
    randomise(gen.net)
    cond = make_cond()
    x, t = torch.randn(3, N, PF), torch.tensor(0.6)
    tb = t.expand(3)
    vc, vu = gen.net(x, tb, cond), gen.net(x, tb, cond.null())
    vl = gen.net(x, tb, cond, key_visibility=gen.local_visibility(cond))
    expected = cfg_combine(vc, vu, 2.5) + 0.7 * (vl - vu)
    assert_close(gen.velocity_fn(cond, 2.5, True)(x, t), expected, rtol=1e-5, atol=1e-5)
    assert (vl - vc).abs().max() > 1e-4  # the local branch is a different condition


def test_refinement_is_switchable_and_changes_samples():
    gen = fresh_cfm(refine_scale=0.5)
    randomise(gen.net)
    cond = make_cond()
    on = gen.sample(cond, torch.Generator().manual_seed(2), refine=True)
    off = gen.sample(cond, torch.Generator().manual_seed(2), refine=False)
    assert (on - off).abs().max() > 1e-4
    gen.refine_scale = 0.0  # lambda = 0 is plain CFG
    assert torch.equal(gen.sample(cond, torch.Generator().manual_seed(2), refine=True), off)


def test_condition_dropout_rate_and_null():
    base = make_cond(b=1)
    big = FlowCondition(base.tokens.expand(20_000, N, D), base.keys.expand(20_000, K, D),
                        base.key_times.expand(20_000, K), base.key_mask.expand(20_000, K))
    d = big.dropout(0.3, torch.Generator().manual_seed(0)).dropped()
    assert abs(d.float().mean().item() - 0.3) < 0.015  # 5 standard errors
    assert big.dropout(0.0, torch.Generator()) is big
    assert base.null().dropped().all() and not base.dropped().any()


# --- invariances ----------------------------------------------------------------------------------
def _net(depth=1):
    torch.manual_seed(0)
    net = VelocityNet(PF, D, D, depth=depth, heads=2, token_seconds=1 / CFG.tokens_per_second).eval()
    randomise(net)
    return net


def test_null_condition_ignores_the_video():
    net = _net(depth=2)
    a, b = make_cond(seed=1), make_cond(seed=2)
    drop = torch.tensor([True, False, True])
    a, b = dataclasses.replace(a, drop=drop), dataclasses.replace(b, drop=drop)
    x, t = torch.randn(3, N, PF), torch.rand(3)
    va, vb = net(x, t, a), net(x, t, b)
    assert torch.equal(va[drop], vb[drop])
    assert (va[~drop] - vb[~drop]).abs().max() > 1e-4


def test_masked_key_frames_do_not_matter():
    net = _net(depth=2)
    valid = torch.rand(3, K, generator=torch.Generator().manual_seed(3)) < 0.5
    valid[:, 0] = True
    a = make_cond(seed=1, key_valid=valid)
    other = make_cond(seed=9, key_valid=valid)
    b = dataclasses.replace(a, keys=torch.where(valid[..., None], a.keys, other.keys),
                            key_times=torch.where(valid, a.key_times, other.key_times))
    x, t = torch.randn(3, N, PF), torch.rand(3)
    assert_close(net(x, t, a), net(x, t, b), rtol=0, atol=1e-6)
    c = dataclasses.replace(a, keys=other.keys)  # changing a valid key does matter
    assert (net(x, t, a) - net(x, t, c)).abs().max() > 1e-4


def test_token_output_ignores_key_frames_it_cannot_see():
    """Depth 1: self-attention sees no keys, so token i depends only on the key frames visible to i."""
    net = _net(depth=1)
    cond = make_cond(b=1, seed=4)
    vis = nearest_keys(N, 1 / CFG.tokens_per_second, cond.key_times, cond.key_mask, 1)  # (1, n, k)
    j = int(vis[0, 0].nonzero()[0])  # the key token 0 sees
    hidden = ~vis[0, :, j]  # tokens that do not see key j
    changed = cond.keys.clone()
    changed[0, j] += 1.0
    x, t = torch.randn(1, N, PF), torch.rand(1)
    va = net(x, t, cond, key_visibility=vis)
    vb = net(x, t, dataclasses.replace(cond, keys=changed), key_visibility=vis)
    assert_close(va[0, hidden], vb[0, hidden], rtol=0, atol=1e-6)
    assert (va[0, ~hidden] - vb[0, ~hidden]).abs().max() > 1e-4


def test_nearest_keys_by_hand():
    # tokens of 0.5 s: centres 0.25, 0.75, 1.25, 1.75; keys at 0.0, 1.0, 1.9 (the middle one invalid)
    times = torch.tensor([[0.0, 1.0, 1.9]])
    mask = torch.tensor([[True, False, True]])
    near = nearest_keys(4, 0.5, times, mask, 1)[0].int().tolist()
    assert near == [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]]
    near2 = nearest_keys(4, 0.5, times, torch.ones(1, 3, dtype=torch.bool), 2)[0].int().tolist()
    assert near2 == [[1, 1, 0], [1, 1, 0], [0, 1, 1], [0, 1, 1]]
    assert nearest_keys(4, 0.5, times, mask, 5)[0].int().tolist() == [[1, 0, 1]] * 4


def test_binned_mean_by_hand():
    out = binned_mean(torch.tensor([1.0, 3.0, 5.0, 7.0]), torch.tensor([0.1, 0.2, 0.9, 1.0]))
    assert out[0] == 2.0 and torch.isnan(out[1]) and torch.isnan(out[2]) and out[3] == 6.0


def test_condition_shapes_are_checked():
    c = make_cond()
    with pytest.raises(ValueError, match="key_mask must be bool"):
        FlowCondition(c.tokens, c.keys, c.key_times, c.key_mask.float())
    with pytest.raises(ValueError, match=r"keys must be \(b=3"):
        FlowCondition(c.tokens, c.keys[:2], c.key_times, c.key_mask)
    with pytest.raises(ValueError, match="x1 must be"):
        fresh_cfm().loss(torch.zeros(3, N, PF + 1), c, torch.Generator())


def test_inpainting_flag_matches_what_sample_takes():
    for kind, cls in GENERATORS.items():
        takes = {"known", "known_mask"} <= set(inspect.signature(cls.sample).parameters)
        assert cls.supports_inpainting == takes, kind
        guides = {"guide", "guide_scale"} <= set(inspect.signature(cls.sample).parameters)
        assert cls.supports_guidance == guides, kind
    assert GENERATORS["cfm"].supports_inpainting and GENERATORS["cfm"].supports_guidance


def test_guidance_moves_each_step_down_the_guide_gradient_by_hand():
    """guided_fn: v' = v - s * grad of guide at x + (1 - t) v; here guide = sum (x1 - c)^2, grad 2 (x1 - c)."""
    from openfoley.flow.cfm import CFMGenerator

    g = torch.Generator().manual_seed(0)
    x, v, c = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
    t = torch.tensor(0.25)
    fn = CFMGenerator.guided_fn(lambda x_, t_: v, lambda x1: (x1 - c).pow(2).sum(), 0.5)
    want = v - 0.5 * 2 * (x + 0.75 * v - c)
    torch.testing.assert_close(fn(x, t), want)
    # a sample with guide_scale 0 is the unguided sample exactly; a strong guide pulls x1 towards c
    gen = fresh_cfm()
    randomise(gen.net)
    cond = make_cond(2)
    plain = gen.sample(cond, torch.Generator().manual_seed(1), steps=4)
    target = torch.zeros_like(plain)
    same = gen.sample(cond, torch.Generator().manual_seed(1), steps=4, guide=lambda x1: (x1 - target).pow(2).sum(),
                      guide_scale=0.0)
    assert torch.equal(same, plain)
    pulled = gen.sample(cond, torch.Generator().manual_seed(1), steps=4, guide=lambda x1: (x1 - target).pow(2).sum(),
                        guide_scale=1.0)
    assert pulled.abs().mean() < 0.5 * plain.abs().mean()


def test_build_generator_kinds():
    for kind, cls in GENERATORS.items():
        assert type(build_generator(with_flow(kind=kind))) is cls
    with pytest.raises(ConfigError, match="flow.kind"):
        build_generator(with_flow(kind="gan"))
    with pytest.raises(ConfigError, match="ddpm_sampler"):
        build_generator(with_flow(kind="ddpm", ddpm_sampler="euler"))
    with pytest.raises(ConfigError, match="DDPM sampler"):
        build_generator(with_flow(kind="ddpm")).sample(make_cond(), torch.Generator(), solver="heun")


# --- determinism and learning ---------------------------------------------------------------------
KINDS = sorted(GENERATORS)
# (kind, velocity net): cfm and ddpm run on either network (flow.net)
VARIANTS = [(k, "transformer") for k in KINDS] + [("cfm", "unet"), ("ddpm", "unet")]


@pytest.mark.parametrize("kind,net", VARIANTS)
def test_sampling_is_deterministic_per_seed(kind, net):
    torch.manual_seed(0)
    gen = build_generator(with_flow(kind=kind, net=net, dropout=0.0, ddpm_sampler="ancestral")).eval()
    randomise(gen, std=0.02)
    cond = make_cond(b=2)
    a = gen.sample(cond, torch.Generator().manual_seed(11))
    b = gen.sample(cond, torch.Generator().manual_seed(11))
    c = gen.sample(cond, torch.Generator().manual_seed(12))
    assert a.shape == (2, N, PF) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    la = gen.loss(torch.randn(2, N, PF), cond, torch.Generator().manual_seed(3)).loss
    lb = gen.loss(torch.randn(2, N, PF) * 0 + a, cond, torch.Generator().manual_seed(3)).loss
    assert torch.isfinite(la) and torch.isfinite(lb)


def two_mode_problem(b=4, noise=0.05):
    """Two fixed conditions, each with its own fixed target (one random mel patch repeated over the
    tokens, plus a little noise)."""
    g = torch.Generator().manual_seed(123)
    conds = make_cond(b=2, seed=99)
    targets = torch.randn(2, 1, PF, generator=g).expand(2, N, PF)
    which = torch.arange(b) % 2
    cond = FlowCondition(conds.tokens[which], conds.keys[which], conds.key_times[which], conds.key_mask[which])

    def batch(gen):
        return targets[which] + noise * torch.randn(b, N, PF, generator=gen)

    return cond, targets, which, batch


STEPS = {"cfm": 25, "ddpm": 60, "coupling": 30, "nf": 30}


# ddpm on the U-Net has not learnt this problem within 4x the transformer's steps: not claimed.
@pytest.mark.parametrize("kind,net", [v for v in VARIANTS if v != ("ddpm", "unet")])
def test_every_kind_learns_a_two_mode_conditional_target(kind, net):
    torch.manual_seed(0)
    gen = build_generator(with_flow(kind=kind, net=net, dropout=0.0, cond_dropout=0.1))
    cond, targets, which, batch = two_mode_problem()
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(STEPS[kind] * (2 if net == "unet" else 1)):
        out = gen.loss(batch(g), cond, g)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    if kind in ("coupling", "nf"):  # NLL per dim: falls by a margin in nats, can go negative
        assert last < first - 0.5, (first, last)
    else:
        assert last < 0.6 * first, (first, last)
    gen.eval()
    x = gen.sample(cond, torch.Generator().manual_seed(1), cfg_scale=1.0)
    d_right = (x - targets[which]).pow(2).mean(dim=(1, 2))
    d_wrong = (x - targets[1 - which]).pow(2).mean(dim=(1, 2))
    assert (d_right < d_wrong).all(), (kind, d_right, d_wrong)


def test_prepared_condition_gives_the_same_velocity():
    """The samplers prepare the condition once per sample; the per-step output is unchanged by it."""
    gen = fresh_cfm()
    randomise(gen.net)
    gen.net.eval()
    cond = make_cond()
    vis = torch.rand(3, N, K, generator=torch.Generator().manual_seed(1)) > 0.5
    x, t = torch.randn(3, N, PF), torch.rand(3)
    with torch.no_grad():
        assert torch.equal(gen.net(x, t, cond, key_visibility=vis), gen.net.predict(x, t, gen.net.prepare(cond, vis)))
        assert torch.equal(gen.net(x, t, cond), gen.net.predict(x, t, gen.net.prepare(cond)))
