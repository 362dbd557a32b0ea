"""Flow maths with exact answers: the path at its ends and its derivative, time samplers' laws,
solvers on fields with closed-form solutions (and their convergence order), guidance identities."""

import itertools
import math

import pytest
import torch
from numeric import assert_close
from scipy.stats import norm

from openfoley.errors import ConfigError
from openfoley.flow.guidance import cfg_combine, guided_velocity, refine_term
from openfoley.flow.path import CondOTPath
from openfoley.flow.solvers import evals_per_step, integrate, time_grid
from openfoley.flow.time_sampler import LogitNormalTime, UniformTime, build_time_sampler


# --- path -----------------------------------------------------------------------------------------
def _pair(seed=0, shape=(3, 5, 7)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)


def test_path_ends_are_noise_and_data():
    x0, x1 = _pair()
    p = CondOTPath()
    assert torch.equal(p.sample(x0, x1, torch.zeros(3, dtype=torch.float64)).x_t, x0)
    assert torch.equal(p.sample(x0, x1, torch.ones(3, dtype=torch.float64)).x_t, x1)


def test_path_with_sigma_min_ends():
    x0, x1 = _pair(1)
    p = CondOTPath(sigma_min=0.1)
    assert torch.equal(p.sample(x0, x1, torch.zeros(3, dtype=torch.float64)).x_t, x0)
    assert_close(p.sample(x0, x1, torch.ones(3, dtype=torch.float64)).x_t, x1 + 0.1 * x0)


@pytest.mark.parametrize("sigma_min", [0.0, 0.05])
def test_target_velocity_is_time_derivative(sigma_min):
    x0, x1 = _pair(2)
    p = CondOTPath(sigma_min)
    t = torch.tensor([0.1, 0.5, 0.93], dtype=torch.float64)
    # x_t is affine in t, so the central difference is its exact derivative (up to rounding); a few
    # elements are also checked against reverse-mode autograd.
    h = 1e-3
    dxdt = (p.sample(x0, x1, t + h).x_t - p.sample(x0, x1, t - h).x_t) / (2 * h)
    assert_close(p.sample(x0, x1, t).u_t, dxdt, rtol=0, atol=1e-10)
    tg = t.clone().requires_grad_(True)
    x_t = p.sample(x0, x1, tg).x_t
    for idx in [(0, 0, 0), (1, 2, 3), (2, 4, 6)]:
        (g,) = torch.autograd.grad(x_t[idx], tg, retain_graph=True)
        assert abs(g[idx[0]].item() - p.sample(x0, x1, t).u_t[idx].item()) < 1e-12


def test_x1_from_true_velocity_is_exact():
    x0, x1 = _pair(3)
    for s in (0.0, 0.2):
        p = CondOTPath(s)
        t = torch.tensor([0.0, 0.4, 0.99], dtype=torch.float64)
        ps = p.sample(x0, x1, t)
        assert_close(p.x1_from_velocity(ps.x_t, ps.u_t, t), x1, rtol=0, atol=1e-12)


def test_path_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        CondOTPath().sample(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match=r"t must be \(b=2,\)"):
        CondOTPath().sample(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3))


# --- time samplers --------------------------------------------------------------------------------
def test_uniform_time_law_and_determinism():
    s = UniformTime()
    t = s(200_000, torch.Generator().manual_seed(0))
    assert t.shape == (200_000,) and t.min() >= 0 and t.max() < 1
    assert abs(t.mean().item() - 0.5) < 3e-3 and abs(t.var().item() - 1 / 12) < 2e-3
    assert torch.equal(t, s(200_000, torch.Generator().manual_seed(0)))


def test_logit_normal_matches_its_cdf():
    s = LogitNormalTime(mean=0.3, std=0.8)
    t = s(200_000, torch.Generator().manual_seed(1)).double()
    assert t.min() > 0 and t.max() < 1
    for q in (0.1, 0.3, 0.5, 0.7, 0.9):  # P(t <= q) = Phi((logit q - mean) / std)
        expected = norm.cdf((math.log(q / (1 - q)) - 0.3) / 0.8)
        assert abs((t <= q).double().mean().item() - expected) < 5e-3, q


def test_build_time_sampler_names():
    assert isinstance(build_time_sampler("uniform"), UniformTime)
    assert isinstance(build_time_sampler("logit_normal"), LogitNormalTime)
    with pytest.raises(ConfigError, match="time_sampler"):
        build_time_sampler("cosine")


# --- solvers --------------------------------------------------------------------------------------
# Fields with closed forms on t in [0, 1]:
#   dx/dt = cos(t) x       ->  x(t) = x0 exp(sin t)
#   dx/dt = -x^2           ->  x(t) = x0 / (1 + x0 t)
#   dx/dt = A x, A = [[0, -w], [w, 0]]  ->  rotation by angle w t
FIELDS = {
    "linear_tv": (lambda x, t: torch.cos(t) * x, lambda x0: x0 * math.exp(math.sin(1.0))),
    "riccati": (lambda x, t: -x * x, lambda x0: x0 / (1 + x0)),
}


def _rotation(w=2.0):
    a = torch.tensor([[0.0, -w], [w, 0.0]], dtype=torch.float64)
    c, s = math.cos(w), math.sin(w)
    r = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return (lambda x, t: x @ a.T), (lambda x0: x0 @ r.T)


FIELDS["rotation"] = _rotation()
X0 = {"linear_tv": torch.tensor([0.7, -1.3], dtype=torch.float64),
      "riccati": torch.tensor([0.5, 1.5], dtype=torch.float64),
      "rotation": torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=torch.float64)}

ORDER = {"euler": 1, "midpoint": 2, "heun": 2}
# stated tolerances at 64 steps (max abs error)
TOL64 = {"euler": 6e-2, "midpoint": 1e-3, "heun": 1e-3}


def _err(method, field, steps):
    f, exact = FIELDS[field]
    x0 = X0[field]
    x1 = integrate(f, x0, time_grid(steps, dtype=torch.float64), method)
    return (x1 - exact(x0)).abs().max().item()


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("method", sorted(ORDER))
def test_solver_reaches_closed_form(method, field):
    assert _err(method, field, 64) < TOL64[method]


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("method", sorted(ORDER))
def test_solver_converges_at_its_order(method, field):
    e = [_err(method, field, s) for s in (32, 64, 128)]
    for a, b in itertools.pairwise(e):
        ratio = a / b
        assert abs(math.log2(ratio) - ORDER[method]) < 0.15, (method, field, e)


def test_trajectory_and_eval_count():
    f, exact = FIELDS["linear_tv"]
    x0 = X0["linear_tv"]
    calls = []

    def counted(x, t):
        calls.append(float(t))
        return f(x, t)

    grid = time_grid(8, dtype=torch.float64)
    tr = integrate(counted, x0, grid, "heun", return_trajectory=True)
    assert tr.states.shape == (9, 2) and torch.equal(tr.states[0], x0)
    assert torch.equal(tr.states[-1], integrate(f, x0, grid, "heun"))
    assert tr.evals == len(calls) == 8 * evals_per_step("heun") == 16
    assert calls[0] == 0.0 and calls[-1] == 1.0  # Heun evaluates both ends of each step
    # the trajectory passes near the exact solution at every grid time (Heun, h = 1/8: error ~ 8e-3)
    exact_t = x0[None] * torch.exp(torch.sin(grid))[:, None]
    assert (tr.states - exact_t).abs().max() < 1e-2


def test_reversed_grid_inverts():
    f, _ = FIELDS["riccati"]
    x0 = X0["riccati"]
    grid = time_grid(256, dtype=torch.float64)
    x1 = integrate(f, x0, grid, "midpoint")
    back = integrate(f, x1, grid.flip(0), "midpoint")
    assert (back - x0).abs().max() < 1e-5


def test_solver_input_errors():
    f, _ = FIELDS["linear_tv"]
    with pytest.raises(ConfigError, match="solver"):
        integrate(f, X0["linear_tv"], time_grid(4), "rk4")
    with pytest.raises(ConfigError, match="steps"):
        time_grid(0)
    with pytest.raises(ValueError, match="strictly increasing or strictly decreasing"):
        integrate(f, X0["linear_tv"], torch.tensor([0.0, 0.5, 0.2]), "euler")


# --- guidance -------------------------------------------------------------------------------------
def test_guidance_identities():
    g = torch.Generator().manual_seed(0)
    vc, vu, vl = (torch.randn(2, 4, 6, generator=g) for _ in range(3))
    assert torch.equal(cfg_combine(vc, vu, 1.0), vc)
    assert torch.equal(cfg_combine(vc, vu, 0.0), vu)
    assert_close(cfg_combine(vc, vu, 3.0), 3 * vc - 2 * vu)
    assert torch.equal(guided_velocity(vc, vu, 1.0, vl, 0.0), vc)
    assert_close(guided_velocity(vc, vu, 1.0, vl, 0.5), vc + 0.5 * (vl - vu))
    assert torch.equal(refine_term(vl, vl), torch.zeros_like(vl))
    with pytest.raises(ValueError, match="shape"):
        cfg_combine(vc, vu[:1], 2.0)


def test_low_mix_replaces_a_share_of_the_draws_with_the_start_of_the_path():
    from openfoley.flow.time_sampler import LowMix

    s = build_time_sampler("logit_normal", low_share=0.25, low_max=0.1)
    assert s == LowMix(LogitNormalTime(), 0.25, 0.1)
    assert build_time_sampler("logit_normal", low_share=0.0) == LogitNormalTime()  # off: the plain sampler
    # exactly: the base draw, then the low draw, then the coin, from one generator in that order
    g = torch.Generator().manual_seed(3)
    base = torch.sigmoid(torch.randn(6, generator=g))
    low = torch.rand(6, generator=g) * 0.1
    pick = torch.rand(6, generator=g) < 0.25
    assert torch.equal(s(6, torch.Generator().manual_seed(3)), torch.where(pick, low, base))
    # the law: P(t < 0.02) = 0.25 * 0.2 + 0.75 * Phi(logit 0.02) = 0.05 + 0.75 * 4.6e-5
    t = s(400_000, torch.Generator().manual_seed(0)).double()
    expected = 0.25 * 0.2 + 0.75 * norm.cdf(math.log(0.02 / 0.98))
    assert abs((t < 0.02).double().mean().item() - expected) < 2e-3
    for bad in ({"low_share": 1.5}, {"low_share": -0.1}, {"low_max": 0.0}):
        with pytest.raises(ConfigError, match="time_low"):
            build_time_sampler("uniform", **bad)
    from openfoley.config import apply_overrides, get_preset
    from openfoley.flow import build_generator

    with pytest.raises(ConfigError, match="time_low_share"):
        apply_overrides(get_preset("tiny"), ["flow.time_low_share=2"])
    gen = build_generator(apply_overrides(get_preset("tiny"), ["flow.time_low_share=0.25", "flow.time_low_max=0.05"]))
    assert gen.time_sampler == LowMix(LogitNormalTime(), 0.25, 0.05)
