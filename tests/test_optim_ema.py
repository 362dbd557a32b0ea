"""Learning-rate schedule and EMA: exact values."""

import math

import pytest
import torch

from openfoley.training.ema import EMA
from openfoley.training.optim import lr_factor


def test_warmup_then_cosine():
    assert lr_factor(0, 10, 110) == pytest.approx(0.1)
    assert lr_factor(9, 10, 110) == pytest.approx(1.0)
    assert lr_factor(10, 10, 110) == pytest.approx(1.0)
    assert lr_factor(60, 10, 110) == pytest.approx(0.5)
    assert lr_factor(110, 10, 110) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(35, 10, 110) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))


def test_ema_exact():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.5)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)  # step 0: decay min(0.5, 1/10) = 0.1 -> 0.9
    assert ema.model.weight.item() == pytest.approx(0.9)
    ema.step = 100
    ema.update(net)  # decay 0.5 -> 0.95
    assert ema.model.weight.item() == pytest.approx(0.95)
    state = ema.state_dict()
    ema2 = EMA(net, decay=0.1)
    ema2.load_state_dict(state)
    assert ema2.step == 101 and ema2.model.weight.item() == pytest.approx(0.95)


def test_ema_without_warmup_uses_the_full_decay_from_the_start():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.5, warmup=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)  # decay 0.5 at step 0 -> 0.5
    assert ema.model.weight.item() == pytest.approx(0.5)
    ema2 = EMA(net, decay=0.5)
    ema2.load_state_dict(ema.state_dict())
    assert ema2.warmup is False and ema2.current_decay() == 0.5
