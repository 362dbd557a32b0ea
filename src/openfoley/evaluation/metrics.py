"""The paper's metrics as pure functions over embeddings, probabilities, scores and waveforms.

Nothing here runs a network; evaluators (VGGish, PaSST/CNN14, our own) produce the inputs.

- ``frechet_distance`` / ``fad``: Fréchet distance between Gaussian fits (mean, unbiased covariance)
  of two embedding sets, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``. The matrix square root
  is scipy's ``sqrtm``. Fallback (as in the standard FID/FAD toolkits): if the product is singular
  enough that ``sqrtm`` returns non-finite values or a complex result whose diagonal has an imaginary
  part above 1e-3, both covariances get ``eps * I`` added (eps = 1e-6) and the root is recomputed;
  the tiny imaginary residue left by a successful root is dropped.
- ``kld``: paired per clip, ``KL(p_ref || p_gen) = sum_c p_ref log(p_ref / (p_gen + eps))`` in nats
  (natural log), eps = 1e-6 on the generated side only, terms with p_ref = 0 count as 0, then the
  mean over clips: the convention of the audio generation toolkits (audioldm_eval, av-benchmark).
- ``onset_detect``: spectral-flux onset detector (the librosa ``onset_detect`` design that
  CondFoleyGen calls with ``delta=0.3`` at 22.05 kHz), re-implemented in numpy/torch.
- ``onset_accuracy`` / ``onset_scores`` / ``onset_ap``: CondFoleyGen's "# onset acc" (fraction of
  clips whose detected onset counts match), its detection accuracy and onset AP (greedy matching of
  reference onsets to generated ones within +-0.1 s, confidence = peak normalised |wav| within
  +-0.05 s). Exact definitions in ``match_onsets`` and docs/evaluation.md.
- ``event_time_error``: FoleyWorld's known event times against detected onsets (optimal one-to-one
  matching within a tolerance; mean absolute error, precision, recall, F1).
- ``align_accuracy``: fraction of sync-classifier scores above a threshold (Diff-Foley's Align Acc).

Shapes: N clips or embeddings, d embedding width, C classes, s samples.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import LinAlgWarning, sqrtm
from scipy.optimize import linear_sum_assignment

from openfoley.errors import DataError
from openfoley.features.mel import mel_filterbank

# ---------------------------------------------------------------------------------------------------
# FAD


def _f64(x, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dims, got shape {a.shape}")
    return a


def gaussian_stats(emb) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of embeddings (N, d), N >= 2."""
    e = _f64(emb, "embeddings", 2)
    if e.shape[0] < 2:
        raise DataError(f"need at least 2 embeddings to fit a Gaussian, got shape {e.shape}")
    return e.mean(axis=0), np.atleast_2d(np.cov(e, rowvar=False))


def _sqrtm_ok(m: np.ndarray) -> bool:
    if not np.all(np.isfinite(m)):
        return False
    return not np.iscomplexobj(m) or bool(np.allclose(np.diagonal(m).imag, 0.0, atol=1e-3))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); means (d,), covariances (d, d)."""
    mu1, mu2 = _f64(mu1, "mu1", 1), _f64(mu2, "mu2", 1)
    s1, s2 = _f64(sigma1, "sigma1", 2), _f64(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance: shapes mu1 {mu1.shape}, sigma1 {s1.shape}, "
                         f"mu2 {mu2.shape}, sigma2 {s2.shape} do not agree")
    with warnings.catch_warnings():  # singular products are expected and handled just below
        warnings.simplefilter("ignore", LinAlgWarning)
        covmean = sqrtm(s1 @ s2)
        if not _sqrtm_ok(covmean):
            # Near-singular product: regularise both covariances and retry (the standard fallback).
            offset = eps * np.eye(d)
            covmean = sqrtm((s1 + offset) @ (s2 + offset))
        if not _sqrtm_ok(covmean):
            raise ValueError("frechet_distance: sqrtm failed even after adding eps*I; "
                             "the covariances are not positive semi-definite")
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fad(emb_a, emb_b, eps: float = 1e-6) -> float:
    """Fréchet Audio Distance between embedding sets (N, d) and (M, d)."""
    mu_a, s_a = gaussian_stats(emb_a)
    mu_b, s_b = gaussian_stats(emb_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"fad: embedding widths differ: {mu_a.shape[0]} vs {mu_b.shape[0]}")
    return frechet_distance(mu_a, s_a, mu_b, s_b, eps)


# ---------------------------------------------------------------------------------------------------
# KLD


def kld(p_ref, p_gen, eps: float = 1e-6) -> float:
    """Mean over clips of KL(p_ref || p_gen) in nats; (N, C) probability rows paired by clip."""
    p, q = _f64(p_ref, "p_ref", 2), _f64(p_gen, "p_gen", 2)
    if p.shape != q.shape:
        raise ValueError(f"kld: p_ref {p.shape} and p_gen {q.shape} must have the same shape (N, C)")
    for name, a in (("p_ref", p), ("p_gen", q)):
        if np.any(a < 0) or not np.allclose(a.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(f"kld: {name} rows must be probability distributions (>= 0, sum 1)")
    safe_p = np.where(p > 0, p, 1.0)
    terms = np.where(p > 0, p * (np.log(safe_p) - np.log(q + eps)), 0.0)  # (N, C)
    return float(terms.sum(axis=1).mean())


# ---------------------------------------------------------------------------------------------------
# Onsets

ONSET_SR = 22050  # CondFoleyGen evaluates at 22.05 kHz; resample to it for comparable numbers


def onset_envelope(wav, sr: int, *, n_fft: int = 2048, hop: int = 512,
                   n_mels: int = 128) -> np.ndarray:
    """Spectral-flux onset strength of a mono waveform (s,) -> (m,), m = s // hop + 1 frames.

    Centred STFT (zero padding, periodic Hann of n_fft) -> power -> ``n_mels`` Slaney mel bands up
    to Nyquist -> dB (``10 log10(max(x, 1e-10))``, floored at 80 dB below the maximum) -> positive
    first difference along time, averaged over bands. The flux of frame t is stored at frame
    t + n_fft // (2 hop): a centred frame sees an onset half a window early, so this shift puts the
    peak back on the onset time. Frame t is at time t * hop / sr.
    """
    x = torch.as_tensor(_f64(wav, "wav", 1))
    if x.shape[0] <= n_fft // 2:
        return np.zeros(0)
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                      center=True, pad_mode="constant", return_complex=True)  # (k, m)
    fb = mel_filterbank(sr, n_fft, n_mels).double()  # (f, k)
    db = 10.0 * torch.log10(torch.clamp(fb @ spec.abs() ** 2, min=1e-10))  # (f, m)
    db = torch.maximum(db, db.max() - 80.0)
    flux = torch.clamp(db[:, 1:] - db[:, :-1], min=0.0).mean(dim=0).numpy()  # (m - 1,)
    shift = 1 + n_fft // (2 * hop)
    env = np.zeros(db.shape[1])
    env[shift:] = flux[: db.shape[1] - shift]
    return env


def pick_peaks(env: np.ndarray, *, pre_max: int, post_max: int, pre_avg: int, post_avg: int,
               delta: float, wait: int) -> np.ndarray:
    """Frame indices n where env[n] is the max of env[n-pre_max : n+post_max+1], at least
    ``delta`` above the mean of env[n-pre_avg : n+post_avg+1] (windows clipped at the ends), and
    more than ``wait`` frames after the previous pick."""
    picks: list[int] = []
    m = len(env)
    for n in range(m):
        if env[n] < env[max(0, n - pre_max): n + post_max + 1].max():
            continue
        if env[n] < env[max(0, n - pre_avg): n + post_avg + 1].mean() + delta:
            continue
        if picks and n - picks[-1] <= wait:
            continue
        picks.append(n)
    return np.asarray(picks, dtype=np.int64)


def onset_detect(wav, sr: int, *, delta: float = 0.3, n_fft: int = 2048, hop: int = 512,
                 n_mels: int = 128, pre_max_s: float = 0.03, post_max_s: float = 0.0,
                 pre_avg_s: float = 0.10, post_avg_s: float = 0.10, wait_s: float = 0.03) -> np.ndarray:
    """Onset times in seconds (sorted) of a mono waveform (s,) at ``sr``.

    ``onset_envelope`` normalised to [0, 1], then ``pick_peaks`` with windows given in seconds and
    converted to frames as ``int(seconds * sr // hop)`` (so at 22.05 kHz / hop 512: max over the
    previous 1 frame, mean over 4 before and 4 after, wait 1 frame). ``delta`` is relative to the
    normalised envelope; 0.3 is CondFoleyGen's setting. Silence (a flat envelope) has no onsets.
    Accuracy: reported times are on the hop grid (23 ms at the defaults) and late rather than early,
    because the flux of a centred frame rises once the onset reaches the Hann window's bulk, not its
    edge; measured on clicks at known times: +2..+25 ms in silence, +12..+35 ms in noise 50 dB
    below the click, +18..+40 ms at 40 dB (tests/test_metrics.py checks -1..+2 hops).
    """
    env = onset_envelope(wav, sr, n_fft=n_fft, hop=hop, n_mels=n_mels)
    if env.size == 0 or env.max() - env.min() <= 1e-12:
        return np.zeros(0)
    env = (env - env.min()) / (env.max() - env.min())
    frames = lambda sec: int(sec * sr // hop)  # noqa: E731
    picks = pick_peaks(env, pre_max=frames(pre_max_s), post_max=frames(post_max_s),
                       pre_avg=frames(pre_avg_s), post_avg=frames(post_avg_s), delta=delta,
                       wait=frames(wait_s))
    return picks * hop / sr


def average_precision(y_true, y_score) -> float:
    """Step-wise AP, ``sum_k (R_k - R_{k-1}) P_k`` over descending distinct score thresholds
    (scikit-learn's ``average_precision_score``). NaN when there are no positives."""
    t = np.asarray(y_true, dtype=bool)
    s = np.asarray(y_score, dtype=np.float64)
    n_pos = int(t.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    t, s = t[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@dataclass(frozen=True)
class OnsetMatch:
    """One clip's onset matching: ``hits`` of ``n_ref`` reference onsets found among ``n_gen``
    generated ones (after NMS); ``y_true``/``y_score`` are the AP inputs."""

    hits: int
    n_ref: int
    n_gen: int
    y_true: np.ndarray
    y_score: np.ndarray

    @property
    def accuracy(self) -> float:
        return self.hits / self.n_ref if self.n_ref else float("nan")

    @property
    def ap(self) -> float:
        if self.n_ref == 0:
            return float("nan")
        return 0.0 if self.n_gen == 0 else average_precision(self.y_true, self.y_score)


def match_onsets(ref_times, gen_times, gen_wav, sr: int, *, tol: float = 0.1,
                 conf_window: float = 0.05, nms_window: float = 0.05) -> OnsetMatch:
    """CondFoleyGen's per-clip matching of reference onsets to generated ones (times in seconds).

    1. Confidence of a generated onset at sample o: max of ``a = |gen_wav|`` min-max normalised to
       [0, 1] over samples [o - w, o + w), w = int(conf_window * sr) (clipped at the clip start).
    2. NMS: keep onsets in descending confidence, dropping any closer than ``nms_window`` to a kept one.
    3. For each reference onset in time order, the unused generated onsets strictly within ``tol``
       are candidates; the one with the largest ``a`` at its own sample is a hit (label 1, score its
       confidence) and is used up; no candidate is a miss (label 1, score 0).
    4. Unused generated onsets are false alarms (label 0, score their confidence).

    CondFoleyGen's loop stops once every generated onset is used; then there are no false alarms and
    the AP is 1 with or without the misses it skips, so this loop simply goes on. Note the AP rewards
    precision only: one correct onset among ten references still scores AP 1 (accuracy 0.1).
    A clip with reference onsets but no generated ones scores AP 0 (``OnsetMatch.ap``).
    """
    ref = np.sort(_f64(ref_times, "ref_times", 1))
    gen = np.sort(_f64(gen_times, "gen_times", 1))
    a = np.abs(_f64(gen_wav, "gen_wav", 1))
    span = a.max() - a.min() if a.size else 0.0
    a = (a - a.min()) / span if span > 0 else np.zeros_like(a)
    w = int(conf_window * sr)
    idx = np.clip(np.round(gen * sr).astype(np.int64), 0, max(len(a) - 1, 0))
    conf = np.array([a[max(0, o - w): o + w].max() if a.size else 0.0 for o in idx])

    kept: list[int] = []  # NMS over generated onsets
    for i in np.argsort(-conf, kind="mergesort"):
        if all(abs(gen[i] - gen[j]) >= nms_window for j in kept):
            kept.append(int(i))
    unused = sorted(kept, key=lambda i: gen[i])
    n_gen = len(unused)

    y_true: list[int] = []
    y_score: list[float] = []
    hits = 0
    for r in ref:
        cands = [i for i in unused if abs(gen[i] - r) < tol]
        if not cands:
            y_true.append(1)
            y_score.append(0.0)
            continue
        best = max(cands, key=lambda i: (a[idx[i]] if a.size else 0.0, i))
        hits += 1
        y_true.append(1)
        y_score.append(float(conf[best]))
        unused.remove(best)
    for i in unused:
        y_true.append(0)
        y_score.append(float(conf[i]))
    return OnsetMatch(hits, len(ref), n_gen, np.asarray(y_true), np.asarray(y_score))


def onset_accuracy(ref_onsets: Sequence, gen_onsets: Sequence) -> float:
    """CondFoleyGen's "# onset acc": fraction of clips whose generated onset count equals the
    reference's. Inputs: one array of onset times per clip, paired by position."""
    if len(ref_onsets) != len(gen_onsets) or not ref_onsets:
        raise ValueError(f"onset_accuracy: need equal, non-zero clip counts, got "
                         f"{len(ref_onsets)} reference and {len(gen_onsets)} generated")
    return float(np.mean([len(r) == len(g) for r, g in zip(ref_onsets, gen_onsets, strict=True)]))


@dataclass(frozen=True)
class OnsetScores:
    """Clip-averaged onset metrics. Clips with no reference onsets are left out of ``detection_acc``
    and ``ap`` (both are undefined there); ``n_clips_scored`` says how many remained."""

    count_acc: float
    detection_acc: float
    ap: float
    n_clips_scored: int


def onset_scores(ref_onsets: Sequence, gen_onsets: Sequence, gen_wavs: Sequence, sr: int,
                 **match_kw) -> OnsetScores:
    """Onset count accuracy, detection accuracy and AP over paired clips (see ``match_onsets``)."""
    if not len(ref_onsets) == len(gen_onsets) == len(gen_wavs):
        raise ValueError(f"onset_scores: clip counts differ: {len(ref_onsets)} reference, "
                         f"{len(gen_onsets)} generated onsets, {len(gen_wavs)} waveforms")
    matches = [match_onsets(r, g, w, sr, **match_kw)
               for r, g, w in zip(ref_onsets, gen_onsets, gen_wavs, strict=True)]
    scored = [m for m in matches if m.n_ref > 0]
    nan = float("nan")
    return OnsetScores(
        count_acc=onset_accuracy(ref_onsets, gen_onsets),
        detection_acc=float(np.mean([m.accuracy for m in scored])) if scored else nan,
        ap=float(np.mean([m.ap for m in scored])) if scored else nan,
        n_clips_scored=len(scored),
    )


def onset_ap(ref_onsets: Sequence, gen_onsets: Sequence, gen_wavs: Sequence, sr: int,
             **match_kw) -> float:
    """CondFoleyGen's onset AP averaged over clips (see ``match_onsets``)."""
    return onset_scores(ref_onsets, gen_onsets, gen_wavs, sr, **match_kw).ap


# ---------------------------------------------------------------------------------------------------
# Event times (FoleyWorld) and alignment


@dataclass(frozen=True)
class EventTimeError:
    """Detected onsets against known event times. ``mae`` in seconds over matched pairs (NaN if
    none); precision = matched / detected, recall = matched / true (1.0 when the side is empty)."""

    mae: float
    precision: float
    recall: float
    f1: float
    n_matched: int
    n_detected: int
    n_truth: int


def event_time_error(detected, truth, tol: float = 0.1) -> EventTimeError:
    """Optimal one-to-one matching of detected onset times to true event times (seconds).

    Pairs farther apart than ``tol`` cannot match. Among matchings, the largest number of pairs is
    chosen first and then the smallest total absolute error (Hungarian algorithm, with every
    forbidden pair costing more than all allowed pairs together).
    """
    d = _f64(detected, "detected", 1)
    t = _f64(truth, "truth", 1)
    matched_err = np.zeros(0)
    if d.size and t.size:
        err = np.abs(d[:, None] - t[None, :])  # (n_detected, n_truth)
        allowed = err <= tol
        big = 1.0 + tol * (min(d.size, t.size) + 1)
        rows, cols = linear_sum_assignment(np.where(allowed, err, big))
        keep = allowed[rows, cols]
        matched_err = err[rows[keep], cols[keep]]
    n = matched_err.size
    precision = n / d.size if d.size else 1.0
    recall = n / t.size if t.size else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    mae = float(matched_err.mean()) if n else float("nan")
    return EventTimeError(mae, precision, recall, f1, n, d.size, t.size)


def align_accuracy(scores, threshold: float = 0.5) -> float:
    """Fraction of (video, generated audio) pairs the sync classifier judges aligned: scores (N,)
    (probabilities of "in sync") strictly above ``threshold``."""
    s = _f64(scores, "scores", 1)
    if s.size == 0:
        raise ValueError("align_accuracy: no scores")
    if not math.isfinite(threshold):
        raise ValueError(f"align_accuracy: threshold must be finite, got {threshold}")
    return float(np.mean(s > threshold))
