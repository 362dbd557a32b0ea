"""How loud, and for how long: the level profile of generated audio against the real audio, and where
FAD's mean term sits by loudness.

    python benchmarks/level_profile.py runs/b200-17300/test-closed/_reference \
        runs/b200-17300/test-closed/full/seed-0 [more generated folders ...]

For each folder of generated mp4s (an ``openfoley benchmark`` row, OUT/SPLIT/ROW/seed-K) against the
reference folder (OUT/SPLIT/_reference, the real audio; the first argument), over the clips both hold:
- **window level**: the RMS level (dBFS) of each clip's non-overlapping 1 s windows, the windows FAD embeds;
  the 10th / 50th / 90th percentiles over all windows;
- **peak and body**: each clip's loudest 50 ms frame (dBFS), and the share of its 50 ms frames within
  20 dB of that peak (how long the sound lasts at a level near its peak), the median over clips;
- **FAD's mean term by loudness**: the windows are split by the *real* window's level at the same place
  (below -50, -50 to -35, -35 to -25, above -25 dBFS); for each stratum, the share of the whole
  mean-difference vector D = mean(generated) - mean(real) that its windows carry (the projection of
  their summed paired differences on D, over |D|^2; the strata's shares sum to 1), and the median
  generated level there. FAD and its mean term are for all windows, as `openfoley evaluate` takes them,
  except that each clip contributes the windows both its real and its generated audio have.

The embedding is the shipped audio evaluator's (docs/evaluation.md). Prints one block per folder;
docs/sync-diagnosis.md part 25 quotes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

STRATA = ((-np.inf, -50.0), (-50.0, -35.0), (-35.0, -25.0), (-25.0, np.inf))


def window_levels(wav: np.ndarray, n: int) -> np.ndarray:
    """RMS level in dBFS of the complete n-sample windows of wav (s,) -> (s // n,)."""
    k = len(wav) // n
    return 20 * np.log10(np.sqrt((wav[:k * n].reshape(k, n) ** 2).mean(1)) + 1e-8)


def peak_and_body(wav: np.ndarray, n: int, below: float = 20.0) -> tuple[float, float]:
    """(the loudest n-sample frame's level in dBFS, the share of frames within ``below`` dB of it)."""
    lv = window_levels(wav, n)
    return float(lv.max()), float((lv > lv.max() - below).mean())


def stratum_shares(real: np.ndarray, gen: np.ndarray, real_levels: np.ndarray) -> list[float]:
    """Paired window embeddings real, gen (N, d) and the real windows' levels (N,) -> each STRATA
    entry's share of |D|^2, D = gen.mean(0) - real.mean(0): (sum over its windows of gen - real) . D /
    (N |D|^2). The shares sum to 1."""
    d = gen.mean(0) - real.mean(0)
    dd = float(d @ d)
    out = []
    for lo, hi in STRATA:
        m = (real_levels >= lo) & (real_levels < hi)
        out.append(float((gen[m] - real[m]).sum(0) @ d) / (len(real) * dd) if dd > 0 else 0.0)
    return out


def clip_outputs(folder: Path, names: list[str], ev) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per clip: (the waveform (s,), the window embeddings (N, d))."""
    from openfoley.evaluation.evaluators import audio_clip_outputs
    from openfoley.io import read_audio

    sr = ev.audio.cfg.audio.sample_rate
    wavs, embs = [], []
    for name in names:
        wav = read_audio(folder / name, sr)
        wavs.append(wav.numpy())
        embs.append(audio_clip_outputs(ev.audio, wav)[1].numpy())
    return wavs, embs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference", help="the real audio's folder (OUT/SPLIT/_reference)")
    ap.add_argument("generated", nargs="+", help="folders of generated mp4s")
    args = ap.parse_args(argv)
    ref = Path(args.reference)
    names = sorted(p.name for p in ref.glob("*.mp4"))
    if not names:
        print(f"error: {ref}: no mp4 files", file=sys.stderr)
        return 2
    for g in map(Path, args.generated):
        missing = [n for n in names if not (g / n).is_file()]
        if missing:
            print(f"error: {g}: {len(missing)} of the reference's clips are missing", file=sys.stderr)
            return 2
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.evaluation.metrics import fad

    ev = load_evaluators()
    sr = ev.audio.cfg.audio.sample_rate
    rwav, remb = clip_outputs(ref, names, ev)
    rpb = np.array([peak_and_body(w, sr // 20) for w in rwav])
    print(f"{ref}: {len(names)} clips; peak {np.median(rpb[:, 0]):.1f} dBFS, body {np.median(rpb[:, 1]):.3f} "
          f"(medians over clips)")
    for g in map(Path, args.generated):
        gwav, gemb = clip_outputs(g, names, ev)
        R, G, RL, GL = [], [], [], []
        for rw, re, gw, ge in zip(rwav, remb, gwav, gemb, strict=True):
            n = min(len(re), len(ge), len(rw) // sr, len(gw) // sr)
            R.append(re[:n]), G.append(ge[:n])
            RL.append(window_levels(rw, sr)[:n]), GL.append(window_levels(gw, sr)[:n])
        R, G, RL, GL = (np.concatenate(x) for x in (R, G, RL, GL))
        gpb = np.array([peak_and_body(w, sr // 20) for w in gwav])
        d = G.mean(0) - R.mean(0)
        print(f"{g}: FAD {fad(R, G):.1f}, mean term {float(d @ d):.0f} ({len(R)} paired windows)")
        print(f"  window level p10/p50/p90 dBFS: real {' / '.join(f'{x:.1f}' for x in np.percentile(RL, [10, 50, 90]))}, "
              f"generated {' / '.join(f'{x:.1f}' for x in np.percentile(GL, [10, 50, 90]))}")
        print(f"  peak {np.median(gpb[:, 0]):.1f} dBFS (real {np.median(rpb[:, 0]):.1f}), body {np.median(gpb[:, 1]):.3f} "
              f"(real {np.median(rpb[:, 1]):.3f}), body mean {gpb[:, 1].mean():.3f} (real {rpb[:, 1].mean():.3f})")
        for (lo, hi), share in zip(STRATA, stratum_shares(R, G, RL), strict=True):
            m = (RL >= lo) & (RL < hi)
            med = f"{np.median(GL[m]):.1f}" if m.any() else "-"
            rmed = f"{np.median(RL[m]):.1f}" if m.any() else "-"
            print(f"  real level [{lo:g}, {hi:g}) dBFS: {m.mean():.2f} of windows, share of the mean term {share:.2f}, "
                  f"median level generated {med} (real {rmed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
