"""Exact answers for the evaluation metrics (FAD, KLD, onsets, event times, Align Acc)."""

import math

import numpy as np
import pytest

from openfoley.errors import DataError
from openfoley.evaluation.metrics import (
    align_accuracy,
    average_precision,
    event_time_error,
    fad,
    frechet_distance,
    gaussian_stats,
    kld,
    match_onsets,
    onset_accuracy,
    onset_ap,
    onset_detect,
    onset_scores,
)


def _with_exact_stats(rng, n, mu, cov):
    """n samples whose sample mean is exactly mu and unbiased sample covariance exactly cov."""
    d = len(mu)
    x = rng.standard_normal((n, d))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T  # sample cov = I
    return x @ np.linalg.cholesky(cov).T + mu


def _closed_form_diag(mu1, a, mu2, b):
    return float(np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b)))


# --- FAD ------------------------------------------------------------------------------------------

def test_fad_of_a_set_against_itself_is_zero():
    e = np.random.default_rng(0).standard_normal((300, 16))
    assert abs(fad(e, e)) < 1e-8


def test_frechet_distance_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    # |dmu|^2 = 1 + 0 + 6.25; traces: (1 + 9 - 6) + (4 + 1 - 4) + (0.25 + 0.25 - 0.5) = 5
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(12.25, abs=1e-10)
    assert _closed_form_diag(mu1, a, mu2, b) == pytest.approx(12.25)


def test_frechet_distance_rotated_commuting_covariances():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(_closed_form_diag(mu1, a, mu2, b), abs=1e-9)


def test_fad_on_samples_matches_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([0.0, 0.5, 1.0, -1.0]), np.array([0.2, 0.0, 1.0, 0.0])
    a, b = np.array([1.0, 2.0, 0.5, 1.5]), np.array([0.5, 2.0, 2.0, 1.0])
    ea = _with_exact_stats(rng, 50, mu1, np.diag(a))
    eb = _with_exact_stats(rng, 80, mu2, np.diag(b))
    mu, cov = gaussian_stats(ea)
    np.testing.assert_allclose(mu, mu1, atol=1e-12)
    np.testing.assert_allclose(cov, np.diag(a), atol=1e-10)
    assert fad(ea, eb) == pytest.approx(_closed_form_diag(mu1, a, mu2, b), abs=1e-8)


def test_frechet_distance_singular_covariances_closed_form():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([4.0, 0.0, 2.0])  # rank-deficient
    mu = np.zeros(3)
    got = frechet_distance(mu, np.diag(a), mu, np.diag(b))
    assert got == pytest.approx(_closed_form_diag(mu, a, mu, b), abs=1e-5)


def test_frechet_distance_fallback_when_sqrtm_fails():
    # a = p p^T is rank 1, so a @ b = p (b p)^T has the single eigenvalue p^T b p = 13 and the root
    # p (b p)^T / sqrt(13): the exact distance is tr(a) + tr(b) - 2 sqrt(13). scipy's sqrtm returns
    # NaNs for this product, so the eps*I fallback must produce it (to O(sqrt(eps)) error).
    p = np.array([2.0, -1.0, 0.0])
    a = np.outer(p, p)
    b = np.array([[4.0, 2.0, 4.0], [2.0, 5.0, -2.0], [4.0, -2.0, 8.0]])
    exact = np.trace(a) + np.trace(b) - 2 * math.sqrt(13.0)
    got = frechet_distance(np.zeros(3), a, np.zeros(3), b)
    assert got == pytest.approx(exact, abs=1e-2)


def test_fad_near_singular_sample_covariances_is_finite():
    rng = np.random.default_rng(3)
    ea, eb = rng.standard_normal((4, 32)), rng.standard_normal((5, 32)) + 0.5  # N < d: rank <= 4
    got = fad(ea, eb)
    assert math.isfinite(got) and got > 0
    assert abs(fad(ea, ea)) < 1e-3


def test_fad_rejects_bad_input():
    with pytest.raises(DataError, match="at least 2"):
        fad(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="widths differ"):
        fad(np.zeros((4, 3)), np.zeros((5, 2)))


# --- KLD ------------------------------------------------------------------------------------------

def test_kld_hand_computed():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.9, 0.1], [0.5, 0.5]])
    first = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # 0.5108256...
    second = math.log(2.0)  # the p = 0 term contributes 0
    assert kld(p, q, eps=0.0) == pytest.approx((first + second) / 2, abs=1e-12)
    assert kld(p, q) == pytest.approx((first + second) / 2, abs=1e-5)


def test_kld_of_a_distribution_with_itself_is_zero():
    p = np.random.default_rng(4).dirichlet(np.ones(10), size=7)
    assert kld(p, p, eps=0.0) == 0.0
    assert abs(kld(p, p)) < 1e-4


def test_kld_is_paired_and_directional():
    p = np.array([[0.8, 0.2], [0.2, 0.8]])
    assert kld(p, p[::-1], eps=0) > 0.5  # the same set, unpaired: not zero
    q = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert kld(p, q, eps=0) != pytest.approx(kld(q, p, eps=0))


def test_kld_rejects_non_distributions():
    with pytest.raises(ValueError, match="probability"):
        kld(np.array([[0.5, 0.6]]), np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="same shape"):
        kld(np.ones((2, 2)) / 2, np.ones((3, 2)) / 2)


# --- onset detection ------------------------------------------------------------------------------

SR = 22050
HOP_S = 512 / SR  # 23 ms


def _assert_onset_times(got, times):
    """The stated accuracy: never more than one hop early, at most two hops (46 ms) late."""
    err = np.asarray(got) - np.asarray(times)
    assert np.all(err >= -HOP_S) and np.all(err <= 2 * HOP_S), f"onset errors {err}"


def test_onset_detect_finds_clicks_in_noise():
    rng = np.random.default_rng(5)
    times = [0.3, 0.7, 1.2, 1.65]
    wav = 0.003 * rng.standard_normal(2 * SR)
    for t in times:
        wav[int(t * SR)] += 1.0
    got = onset_detect(wav, SR)
    assert len(got) == len(times)
    _assert_onset_times(got, times)


def test_onset_detect_finds_decaying_tones_in_noise():
    rng = np.random.default_rng(6)
    times = [0.25, 0.6, 1.1, 1.5]
    wav = 0.01 * rng.standard_normal(2 * SR)
    n = np.arange(int(0.2 * SR))
    for t, f in zip(times, [440, 880, 300, 1200], strict=True):
        i = int(t * SR)
        wav[i: i + n.size] += np.sin(2 * np.pi * f * n / SR) * np.exp(-n / SR / 0.03)
    got = onset_detect(wav, SR)
    assert len(got) == len(times)
    _assert_onset_times(got, times)


def test_onset_detect_silence_and_short_input():
    assert onset_detect(np.zeros(SR), SR).size == 0
    assert onset_detect(np.zeros(100), SR).size == 0


# --- onset accuracy and AP (CondFoleyGen definitions) ----------------------------------------------

def _spikes(n, amps, sr=1000):
    w = np.zeros(n)
    for t, a in amps.items():
        w[int(round(t * sr))] = a
    return w


def test_average_precision_hand_computed_with_ties():
    # thresholds 0.8 (P=1/2, R=1/2), 0.3 (P=2/3, R=1): AP = 0.5*0.5 + 0.5*2/3
    assert average_precision([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.1]) == pytest.approx(7 / 12)
    assert average_precision([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
    assert math.isnan(average_precision([0, 0], [0.5, 0.1]))


def test_match_onsets_hit_miss_and_false_alarm():
    wav = _spikes(2000, {0.52: 1.0, 1.5: 0.5})
    m = match_onsets([0.5, 1.0], [0.52, 1.5], wav, 1000)
    assert (m.hits, m.n_ref, m.n_gen) == (2 - 1, 2, 2)
    np.testing.assert_array_equal(m.y_true, [1, 1, 0])
    np.testing.assert_allclose(m.y_score, [1.0, 0.0, 0.5])
    # thresholds 1 (P=1, R=1/2), 0.5 (P=1/2, R=1/2), 0 (P=2/3, R=1)
    assert m.ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m.accuracy == 0.5


def test_match_onsets_nms_keeps_the_more_confident():
    wav = _spikes(2000, {1.0: 0.5, 1.03: 1.0})
    m = match_onsets([1.0], [1.0, 1.03], wav, 1000, conf_window=0.01)
    assert m.n_gen == 1  # 1.0 suppressed: within 0.05 s of the louder 1.03
    np.testing.assert_allclose(m.y_score, [1.0])
    assert m.accuracy == 1.0 and m.ap == 1.0


def test_match_onsets_picks_the_loudest_candidate_and_ranks_false_alarms():
    wav = _spikes(2000, {0.95: 0.3, 1.06: 0.9})
    m = match_onsets([1.0], [0.95, 1.06], wav, 1000, conf_window=0.01)
    np.testing.assert_array_equal(m.y_true, [1, 0])
    np.testing.assert_allclose(m.y_score, [1.0, 1 / 3])  # |wav| is min-max normalised first
    assert m.ap == 1.0
    wav = _spikes(2000, {1.05: 0.3, 1.5: 0.9})
    m = match_onsets([1.0], [1.05, 1.5], wav, 1000, conf_window=0.01)
    assert m.ap == pytest.approx(0.5)  # the false alarm outranks the hit


def test_match_onsets_tolerance_is_strict():
    wav = _spikes(2000, {1.1: 1.0})
    assert match_onsets([1.0], [1.1], wav, 1000, tol=0.1).hits == 0
    assert match_onsets([1.0], [1.1], wav, 1000, tol=0.1001).hits == 1


def test_onset_scores_over_clips():
    ref = [np.array([0.5, 1.0]), np.array([1.0]), np.array([]), np.array([0.4])]
    gen = [np.array([0.52, 1.5]), np.array([1.0, 1.03]), np.array([]), np.array([])]
    wavs = [_spikes(2000, {0.52: 1.0, 1.5: 0.5}), _spikes(2000, {1.0: 0.5, 1.03: 1.0}),
            np.zeros(2000), np.zeros(2000)]
    s = onset_scores(ref, gen, wavs, 1000, conf_window=0.01)
    assert s.count_acc == 0.5  # clips 1 and 3 have equal counts (raw detections, before NMS)
    assert s.n_clips_scored == 3  # clip 3 has no reference onsets
    assert s.detection_acc == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert s.ap == pytest.approx((5 / 6 + 1.0 + 0.0) / 3)  # no detections: AP 0
    assert onset_ap(ref, gen, wavs, 1000, conf_window=0.01) == s.ap
    assert onset_accuracy(ref, gen) == 0.5


def test_onset_metrics_end_to_end_on_detected_onsets():
    rng = np.random.default_rng(7)
    times = [0.3, 0.9, 1.5]
    ref = 0.003 * rng.standard_normal(2 * SR)
    gen = 0.003 * rng.standard_normal(2 * SR)
    for t in times:
        ref[int(t * SR)] += 1.0
        gen[int((t + 0.02) * SR)] += 0.8
    r, g = onset_detect(ref, SR), onset_detect(gen, SR)
    s = onset_scores([r], [g], [gen], SR)
    assert (s.count_acc, s.detection_acc, s.ap) == (1.0, 1.0, 1.0)


# --- event times and alignment --------------------------------------------------------------------

def test_event_time_error_hand_computed():
    e = event_time_error([0.11, 0.52, 0.9], [0.1, 0.5, 2.0], tol=0.1)
    assert (e.n_matched, e.n_detected, e.n_truth) == (2, 3, 3)
    assert e.mae == pytest.approx(0.015)
    assert e.precision == pytest.approx(2 / 3) and e.recall == pytest.approx(2 / 3)
    assert e.f1 == pytest.approx(2 / 3)


def test_event_time_error_maximises_matches_before_error():
    # Greedy nearest-first could pair 0.55 with 0.5 and leave 0.62 unmatched.
    e = event_time_error([0.45, 0.55], [0.5, 0.62], tol=0.1)
    assert e.n_matched == 2 and e.mae == pytest.approx(0.06)


def test_event_time_error_empty_sides():
    e = event_time_error([], [0.5], tol=0.1)
    assert (e.n_matched, e.precision, e.recall, e.f1) == (0, 1.0, 0.0, 0.0) and math.isnan(e.mae)


def test_align_accuracy():
    assert align_accuracy([0.9, 0.4, 0.5, 0.7]) == 0.5  # 0.5 itself is not "above"
    assert align_accuracy(np.array([0.2, 0.3]), threshold=0.25) == 0.5
    with pytest.raises(ValueError):
        align_accuracy([])
