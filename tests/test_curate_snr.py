"""The blind SNR estimator on generated signals whose SNR is known."""

import math

import numpy as np
import pytest

from openfoley.data.curate.snr import estimate_snr_db, frame_powers

SR = 16000  # 25 ms frames = 400 samples: sinusoids at multiples of 40 Hz fill whole periods per frame


def tone(freq, amp, n, phase=0.0):
    t = np.arange(n) / SR
    return amp * np.sin(2 * np.pi * freq * t + phase)


@pytest.mark.parametrize("snr_db", [5.0, 15.0, 20.0, 37.5])
def test_exact_on_orthogonal_sinusoids(snr_db):
    """Noise floor = a 2 kHz tone everywhere, event = a 440 Hz tone in frames 100..249 of 400.
    Both fill whole periods per frame, so frame powers are exact: floor a_n^2/2, event frames
    (a_s^2 + a_n^2)/2, and the estimate is exactly 20 log10(a_s / a_n)."""
    n = 10 * SR
    a_n = 0.01
    a_s = a_n * 10 ** (snr_db / 20)
    event = np.zeros(n)
    event[100 * 400:250 * 400] = tone(440, a_s, 150 * 400, phase=0.3)
    x = (tone(2000, a_n, n, phase=1.1) + event).astype(np.float64)
    p = frame_powers(x, SR)
    assert p.shape == (400,)
    np.testing.assert_allclose(p[:100], a_n ** 2 / 2, rtol=1e-9)
    np.testing.assert_allclose(p[100:250], (a_s ** 2 + a_n ** 2) / 2, rtol=1e-9)
    assert estimate_snr_db(x, SR) == pytest.approx(snr_db, abs=1e-6)


def test_gaussian_noise_is_close_and_ordered():
    """Random noise floor: frame powers fluctuate (~7 % per 400-sample frame), so the quietest 10 %
    underestimate the floor a little and the estimate reads high by a bounded amount."""
    g = np.random.default_rng(0)
    n = 10 * SR
    sigma = 0.01
    est = []
    for snr_db in (5.0, 15.0, 25.0):
        a_s = math.sqrt(2 * sigma ** 2 * 10 ** (snr_db / 10))  # tone power a_s^2/2 = SNR * sigma^2
        x = g.normal(0, sigma, n)
        x[2 * SR:7 * SR] += tone(440, a_s, 5 * SR)
        e = estimate_snr_db(x.astype(np.float32), SR)
        assert snr_db - 0.5 < e < snr_db + 1.5, (snr_db, e)
        est.append(e)
    assert est == sorted(est)


def test_edge_cases():
    n = 2 * SR
    assert estimate_snr_db(np.zeros(n, np.float32), SR) == -math.inf  # silence
    assert estimate_snr_db(tone(440, 0.5, n), SR) < 0  # stationary: no event above a floor
    x = np.zeros(n)
    x[SR:] = tone(440, 0.5, SR)
    assert estimate_snr_db(x, SR) == math.inf  # digital-silence floor under an event
    assert estimate_snr_db(np.ones(100, np.float32), SR) == -math.inf  # shorter than one frame
    with pytest.raises(ValueError, match="fraction"):
        estimate_snr_db(x, SR, fraction=0.7)
    with pytest.raises(AssertionError, match=r"\(2, 10\)"):
        frame_powers(np.zeros((2, 10)), SR)
