"""nn building blocks: exact sinusoid values, attention against a hand-written softmax, mask invariance,
identity at initialisation of adaLN-Zero blocks, shape errors that print shapes."""

import math

import pytest
import torch

from openfoley.nn.blocks import Attention, TimeDistanceBias, Transformer, TransformerBlock
from openfoley.nn.embeddings import flow_time_embedding, seconds_embedding, sinusoidal


def test_sinusoid_exact_values():
    # dim 4 -> h = 2 periods, geometric from 1 to 4: P = [1, 4]
    e = sinusoidal(torch.tensor([0.25]), 4, 1.0, 4.0)
    want = torch.tensor([[1.0, math.sin(math.pi / 8), 0.0, math.cos(math.pi / 8)]])
    torch.testing.assert_close(e, want, atol=1e-6, rtol=0)
    odd = sinusoidal(torch.zeros(2, 3), 5, 1.0, 4.0)
    assert odd.shape == (2, 3, 5)
    assert torch.equal(odd[..., -1], torch.zeros(2, 3))  # padding channel
    assert torch.equal(odd[..., :2], torch.zeros(2, 3, 2))  # sin(0)
    assert torch.equal(odd[..., 2:4], torch.ones(2, 3, 2))  # cos(0)


def test_same_instant_same_embedding_and_distinct_neighbours():
    emb = seconds_embedding(16)
    a = emb(torch.tensor([[0.0, 0.08, 1.04]]))
    b = emb(torch.tensor([[1.04]]))
    torch.testing.assert_close(a[:, 2], b[:, 0])
    # frames 80 ms apart must not collapse onto one code
    raw = sinusoidal(torch.tensor([0.0, 0.08]), 128, 0.02, 200.0)
    assert (raw[0] - raw[1]).norm() > 1.0
    assert flow_time_embedding(8)(torch.rand(3)).shape == (3, 8)


def _reference_attention(attn: Attention, x, ctx, key_mask, bias=None):
    b, q, d = x.shape
    h = attn.heads
    Q = attn.q(x).view(b, q, h, d // h).transpose(1, 2)
    kv = attn.kv(ctx).view(b, ctx.shape[1], 2, h, d // h)
    K, V = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
    s = Q @ K.transpose(-1, -2) / math.sqrt(d // h)
    if bias is not None:
        s = s + bias
    s = s.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    o = (s.softmax(-1) @ V).transpose(1, 2).reshape(b, q, d)
    return attn.out(o)


def test_attention_matches_reference_and_ignores_invisible_keys():
    g = torch.Generator().manual_seed(0)
    attn = Attention(8, 2, context_dim=6)
    x, ctx = torch.randn(2, 5, 8, generator=g), torch.randn(2, 7, 6, generator=g)
    mask = torch.rand(2, 7, generator=g) > 0.4
    mask[:, 0] = True
    out = attn(x, context=ctx, mask=mask)
    torch.testing.assert_close(out, _reference_attention(attn, x, ctx, mask), atol=1e-5, rtol=1e-5)
    ctx2 = ctx.clone()
    ctx2[~mask] = torch.randn(int((~mask).sum()), 6, generator=g) * 100
    torch.testing.assert_close(attn(x, context=ctx2, mask=mask), out, atol=0, rtol=0)


def test_no_visible_key_gives_zero_not_nan():
    attn = Attention(8, 2)
    x = torch.randn(2, 4, 8)
    mask = torch.ones(2, 4, dtype=torch.bool)
    mask[1] = False
    out = attn(x, mask=mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[1], attn.out.bias.expand(4, 8))  # zero attention, then out-proj bias


def test_full_visibility_mask_per_query():
    g = torch.Generator().manual_seed(1)
    blk = TransformerBlock(8, 2).eval()
    x = torch.randn(1, 4, 8, generator=g)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()[None]  # (1, q, k)
    y = blk(x, mask=causal)
    x2 = x.clone()
    x2[:, 3] += 5.0  # only the last query may see the last token
    y2 = blk(x2, mask=causal)
    torch.testing.assert_close(y2[:, :3], y[:, :3], atol=0, rtol=0)
    assert not torch.allclose(y2[:, 3], y[:, 3])


def test_adaln_zero_block_is_identity_at_init_and_learns():
    g = torch.Generator().manual_seed(2)
    blk = TransformerBlock(8, 2, cond_dim=5)
    x = torch.randn(2, 6, 8, generator=g)
    for cond in (torch.randn(2, 5, generator=g), torch.randn(2, 6, 5, generator=g)):
        assert torch.equal(blk(x, cond=cond), x)
    cond = torch.randn(2, 6, 5, generator=g, requires_grad=True)
    blk(x, cond=cond).square().sum().backward()
    assert blk.modulation[1].weight.grad.abs().sum() > 0  # the zero map still receives gradient


def test_transformer_padding_invariance_with_cross_and_cond():
    g = torch.Generator().manual_seed(3)
    net = Transformer(16, depth=2, heads=4, context_dim=12, cond_dim=16, dropout=0.1).eval()
    for p in net.parameters():  # move off the identity init so every path is live
        torch.nn.init.normal_(p, std=0.2, generator=g)
    x, ctx = torch.randn(2, 6, 16, generator=g), torch.randn(2, 5, 12, generator=g)
    cond = torch.randn(2, 16, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    cmask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    y = net(x, mask=mask, context=ctx, context_mask=cmask, cond=cond)
    x2, ctx2 = x.clone(), ctx.clone()
    x2[~mask] = 1e3
    ctx2[~cmask] = -1e3
    y2 = net(x2, mask=mask, context=ctx2, context_mask=cmask, cond=cond)
    torch.testing.assert_close(y2[mask], y[mask], atol=1e-5, rtol=1e-5)
    print("transformer out", tuple(y.shape))
    assert y.shape == (2, 6, 16)


def test_shape_errors_print_shapes():
    blk = TransformerBlock(8, 2, context_dim=4)
    with pytest.raises(ValueError, match=r"\(2, 3, 7\)"):
        blk(torch.randn(2, 3, 7), context=torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match=r"key mask \(2, 5\)"):
        blk(torch.randn(2, 3, 8), mask=torch.ones(2, 5, dtype=torch.bool), context=torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match="divisible"):
        Attention(10, 3)


def test_time_distance_bias_exact_and_applied_in_attention():
    tb = TimeDistanceBias(2, min_reach=0.1, max_reach=10.0)
    t = torch.tensor([[0.0, 0.5, 2.0]])
    b = tb(t, t)
    assert b.shape == (1, 2, 3, 3)
    torch.testing.assert_close(b[0, 0, 0], torch.tensor([0.0, -5.0, -20.0]))  # slope 10 / s
    torch.testing.assert_close(b[0, 1, 2], torch.tensor([-0.2, -0.15, 0.0]))  # slope 0.1 / s
    g = torch.Generator().manual_seed(4)
    attn = Attention(8, 2)
    x = torch.randn(1, 3, 8, generator=g)
    mask = torch.tensor([[True, True, False]])
    out = attn(x, mask=mask, bias=b)
    torch.testing.assert_close(out, _reference_attention(attn, x, x, mask, bias=b), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"attention bias \(1, 3, 3, 3\)"):
        attn(x, bias=torch.zeros(1, 3, 3, 3))
