"""Shared numeric assertions for the tests (a plain module the test files import)."""

import torch


def assert_close(actual, expected, rtol=0.0, atol=1e-6):
    """Max-abs comparison (torch.testing.assert_close imports torch.distributed: ~5 s here)."""
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    assert actual.shape == expected.shape, (tuple(actual.shape), tuple(expected.shape))
    err = (actual - expected).abs()
    bound = atol + rtol * expected.abs()
    assert bool((err <= bound).all()), f"max abs error {err.max().item():.3g} exceeds atol={atol}, rtol={rtol}"
