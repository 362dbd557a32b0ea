"""benchmarks/class_oracle.py: the oracle route adds nothing at start, then each row's class embedding,
repeated over CFG's stacked branches."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "class_oracle.py"
spec = importlib.util.spec_from_file_location("class_oracle", PATH)
co = importlib.util.module_from_spec(spec)
spec.loader.exec_module(co)


def test_oracle_route_values():
    torch.manual_seed(0)
    proj = nn.Linear(4, 3)
    route = co.OracleRoute(proj, classes=5, width=3)
    x = torch.randn(4, 4)  # two branches of b = 2
    route.cls = torch.tensor([1, 3])
    assert torch.equal(route(x), proj(x))  # the embedding starts at zero
    with torch.no_grad():
        route.emb.weight.copy_(torch.arange(15.0).reshape(5, 3))
    want = proj(x) + torch.tensor([[3.0, 4, 5], [9, 10, 11], [3, 4, 5], [9, 10, 11]])
    torch.testing.assert_close(route(x), want)
    route.cls = None
    assert torch.equal(route(x), proj(x))
    route.cls = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="4 rows for 3 classes"):
        route(x)
