"""DDPM schedule closed forms (abar, q(x_i | x_0) by Monte Carlo, ancestral step = posterior) and the
coupling flows' exactness (inverse to 1e-5, log-determinant equals the autograd Jacobian's)."""

import itertools
import math

import pytest
import torch
from numeric import assert_close

from openfoley.errors import ConfigError
from openfoley.flow.base import FlowCondition
from openfoley.flow.coupling import AffineCoupling, CouplingFlow, CouplingGenerator, gaussian_log_prob
from openfoley.flow.ddpm import DDPMSchedule
from openfoley.flow.nf import NFGenerator


# --- DDPM -----------------------------------------------------------------------------------------
def test_alpha_bar_exact():
    s = DDPMSchedule(50, (1e-4, 0.02))
    assert s.betas[0].item() == 1e-4 and abs(s.betas[-1].item() - 0.02) < 1e-15
    prod = 1.0
    for i in range(50):
        beta = 1e-4 + (0.02 - 1e-4) * i / 49
        assert abs(s.betas[i].item() - beta) < 1e-15
        prod *= 1 - beta
        assert abs(s.alpha_bar[i].item() - prod) < 1e-13


def test_forward_marginals_monte_carlo():
    """q(x_i | x_0) = N(sqrt(abar_i) x0, 1 - abar_i) reached by running Eq. 1 step by step."""
    s = DDPMSchedule(30, (1e-3, 0.3))
    g = torch.Generator().manual_seed(0)
    x0 = torch.tensor([1.5, -0.7], dtype=torch.float64)
    m = 100_000
    x = x0.expand(m, 2).clone()
    for i in range(30):
        x = (1 - s.betas[i]).sqrt() * x + s.betas[i].sqrt() * torch.randn(m, 2, generator=g, dtype=torch.float64)
        if i in (2, 11, 29):
            ab = s.alpha_bar[i]
            var = 1 - ab
            # 5 standard errors: mean sqrt(var / m), variance var * sqrt(2 / m)
            tol_mean, tol_var = 5 * (var / m).sqrt().item(), 5 * (var * math.sqrt(2 / m)).item()
            assert_close(x.mean(0), ab.sqrt() * x0, rtol=0, atol=tol_mean)
            assert_close(x.var(0), var.expand(2), rtol=0, atol=tol_var)
            # q_sample (the closed form the training loss uses) has the same law
            xq = s.q_sample(x0.expand(m, 2), torch.full((m,), i), torch.randn(m, 2, generator=g, dtype=torch.float64))
            assert_close(xq.mean(0), ab.sqrt() * x0, rtol=0, atol=tol_mean)
            assert_close(xq.var(0), var.expand(2), rtol=0, atol=tol_var)


def test_ancestral_step_is_the_posterior():
    """eta = 1 on consecutive indices with the true noise: mean and variance of q(x_{i-1} | x_i, x_0)."""
    s = DDPMSchedule(100, (1e-4, 0.02))
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    for i in (1, 37, 99):
        x = s.q_sample(x0, torch.full((4,), i), eps)
        mean, var = s.posterior(x0, x, i)
        z = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
        out = s.step(x, eps, i, i - 1, eta=1.0, noise=z)
        assert_close(out, mean + math.sqrt(var) * z, rtol=0, atol=1e-10)
        # eta = 0 with the true noise lands exactly on the deterministic DDIM point, and at i_prev=-1 on x0
        ddim = s.step(x, eps, i, i - 1, eta=0.0, noise=None)
        ab_prev = s.alpha_bar[i - 1]
        assert_close(ddim, ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps, rtol=0, atol=1e-10)
        assert_close(s.step(x, eps, i, -1, eta=1.0, noise=None), x0, rtol=0, atol=1e-10)


def test_schedule_time_and_respacing():
    s = DDPMSchedule(1000, (1e-4, 0.02))
    assert s.flow_time(torch.tensor([999])).item() == 0.0  # noisiest index = flow time 0 (noise)
    assert abs(s.flow_time(torch.tensor([0])).item() - 0.999) < 1e-6
    r = s.respaced(16)
    assert len(r) == 16 and r[0] == 999 and r[-1] == 0 and all(a > b for a, b in itertools.pairwise(r))
    assert s.respaced(5000) == list(range(999, -1, -1))
    with pytest.raises(ConfigError, match="ddpm_beta"):
        DDPMSchedule(10, (0.1, 0.01))


# --- coupling flows -------------------------------------------------------------------------------
def _randomise(module: torch.nn.Module, seed: int, std: float = 0.3) -> None:
    """Give every parameter (including the zero-initialised last convs) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)


def test_fresh_coupling_layer_only_permutes():
    layer = AffineCoupling(6, 3, 16, parity=0, seed=5)
    x = torch.randn(2, 4, 6)
    z, ld = layer(x, torch.randn(2, 4, 3))
    assert torch.equal(z, x[..., layer.perm]) and torch.equal(ld, torch.zeros(2))


@pytest.mark.parametrize("cond_dim", [0, 5])
def test_coupling_inverts_to_1e5(cond_dim):
    flow = CouplingFlow(dim=16, cond_dim=cond_dim, width=32, layers=4)
    _randomise(flow, 0, std=0.2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 10, 16, generator=g)
    c = torch.randn(3, 10, cond_dim, generator=g) if cond_dim else None
    z, logdet = flow(x, c)
    assert (z - x).abs().max() > 0.1 and logdet.abs().min() > 1e-3  # not secretly the identity
    assert (flow.inverse(z, c) - x).abs().max() < 1e-5
    assert (flow(flow.inverse(z, c), c)[0] - z).abs().max() < 1e-5


def test_logdet_equals_autograd_jacobian():
    flow = CouplingFlow(dim=4, cond_dim=2, width=8, layers=3).double()
    _randomise(flow, 2, std=0.5)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 4, generator=g, dtype=torch.float64)
    c = torch.randn(1, 3, 2, generator=g, dtype=torch.float64)
    _, logdet = flow(x, c)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.view(1, 3, 4), c)[0].reshape(-1), x.reshape(-1))
    sign, logabs = torch.linalg.slogdet(jac)  # (12, 12)
    assert sign != 0
    assert abs(logdet.item() - logabs.item()) < 1e-10
    assert abs(logdet.item()) > 0.1


def test_log_prob_is_a_density_in_1d_case():
    """For a 2-feature, 1-token flow the exact density integrates to 1 (grid quadrature)."""
    gen = CouplingGenerator(token_dim=2, cond_dim=3, width=8, layers=2).double()
    _randomise(gen, 4, std=0.3)
    tok = torch.randn(1, 1, 3, dtype=torch.float64)
    lin = torch.linspace(-8, 8, 201, dtype=torch.float64)
    xx, yy = torch.meshgrid(lin, lin, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(-1, 1, 2)  # (b, n=1, 2)

    def cond(b):
        return FlowCondition(tokens=tok.expand(b, 1, 3), keys=torch.zeros(b, 1, 3, dtype=torch.float64),
                             key_times=torch.zeros(b, 1, dtype=torch.float64),
                             key_mask=torch.ones(b, 1, dtype=torch.bool))

    with torch.no_grad():
        lp = torch.cat([gen.log_prob(p, cond(p.shape[0])) for p in pts.split(20_000)])
    mass = lp.exp().sum().item() * (lin[1] - lin[0]).item() ** 2
    assert abs(mass - 1) < 1e-3


def test_gaussian_log_prob_closed_form():
    z = torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=torch.float64)
    lp = gaussian_log_prob(z)
    assert_close(lp, torch.tensor([-0.5 - math.log(2 * math.pi), -2.5 - math.log(2 * math.pi)],
                                                dtype=torch.float64))


def test_nf_has_no_video_in_its_layers():
    gen = NFGenerator(token_dim=8, cond_dim=4, width=16, layers=2)
    assert all(layer.cond_dim == 0 for layer in gen.flow.layers)
    assert gen.prior_mean is not None and torch.equal(gen.prior_mean.weight, torch.zeros(8, 4))
