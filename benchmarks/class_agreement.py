"""Is the generated sound the clip's sound? Class agreement and FAD's parts for a benchmark row.

    python benchmarks/class_agreement.py runs/bench-11700-l40c/test-closed/full/seed-0 \
        runs/bench-11700-l40c/test-closed/_reference [more generated folders ...]

Per folder of generated mp4s (an ``openfoley benchmark`` row: OUT/SPLIT/ROW/seed-K) against the
reference folder (OUT/SPLIT/_reference, the real audio), with the shipped audio classifier
(docs/evaluation.md):
- **class agreement**: the share of clips whose generated audio gets the same top class as their real
  audio, and the same for unrelated pairs (clip i's generated audio against clip i+1's real audio: the
  chance level for this set);
- **distinct classes**: how many different top classes the generated and the real audio get;
- **FAD's parts**: the squared distance of the embedding means, and the trace of each side's
  covariance (the total variance: how varied the sounds are);
- **how sure the classifier is**: the mean entropy (nats) of the clip's class posterior, beside the
  benchmark's KLD, KL(real || generated) (``metrics.kld``): a flat generated posterior keeps KLD low
  without the right class (docs/results.md, Table 4 at 1,000 live steps).

Prints one line per folder; ``docs/sync-diagnosis.md`` parts 17-18 quote it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def outputs(folder: Path, names: list[str], ev, seconds: float | None = None):
    """-> (class posteriors (n, C), window embeddings stacked (N, d)) of the mp4s ``names`` in ``folder``."""
    from openfoley.evaluation.evaluators import audio_clip_outputs
    from openfoley.io import read_audio

    sr = ev.audio.cfg.audio.sample_rate
    posts, embs = [], []
    for name in names:
        wav = read_audio(folder / name, sr, duration=seconds)
        probs, emb = audio_clip_outputs(ev.audio, wav)
        posts.append(probs.numpy().astype(np.float64))
        embs.append(emb.numpy())
    return np.stack(posts), np.concatenate(embs)


def entropy(posts: np.ndarray) -> float:
    """Mean over clips of the posterior's entropy in nats; posts (n, C)."""
    return float(-(posts * np.log(np.where(posts > 0, posts, 1.0))).sum(axis=1).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generated", nargs="+", help="folders of generated mp4s; the last argument is the reference")
    args = ap.parse_args(argv)
    if len(args.generated) < 2:
        print("error: give at least one generated folder and the reference folder", file=sys.stderr)
        return 2
    *gens, ref = (Path(p) for p in args.generated)
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.evaluation.metrics import kld

    ev = load_evaluators()
    names = sorted(p.name for p in ref.glob("*.mp4"))
    if not names:
        print(f"error: {ref}: no mp4 files", file=sys.stderr)
        return 2
    rpost, remb = outputs(ref, names, ev)
    rtop = rpost.argmax(axis=1)
    rmu, rvar = remb.mean(0), float(np.trace(np.cov(remb, rowvar=False)))
    rent = entropy(rpost)
    print(f"{ref}: {len(names)} clips, {len(set(rtop))} distinct top classes, embedding variance {rvar:.0f}, "
          f"posterior entropy {rent:.2f}")
    for g in gens:
        have = [n for n in names if (g / n).is_file()]
        if len(have) < len(names):
            print(f"error: {g}: {len(names) - len(have)} of the reference's clips are missing", file=sys.stderr)
            return 2
        gpost, gemb = outputs(g, names, ev)
        gtop = gpost.argmax(axis=1)
        same = float((gtop == rtop).mean())
        unrelated = float((gtop == np.roll(rtop, -1)).mean())
        mean_term = float(((gemb.mean(0) - rmu) ** 2).sum())
        gvar = float(np.trace(np.cov(gemb, rowvar=False)))
        common = np.bincount(gtop).argmax()
        print(f"{g}: same top class {same:.3f} (unrelated pairs {unrelated:.3f}); {len(set(gtop))} distinct top "
              f"classes (most common {ev.audio.cfg.classes[common]!r}, {float((gtop == common).mean()):.2f}); "
              f"FAD mean term {mean_term:.0f}, embedding variance {gvar:.0f} (real {rvar:.0f}); "
              f"posterior entropy {entropy(gpost):.2f} (real {rent:.2f}), KLD {kld(rpost, gpost):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
