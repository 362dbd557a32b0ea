"""Can the generator make a clip's sound when it has learnt that very clip? (docs/sync-diagnosis.md part 26)

    python benchmarks/memorise.py --weights src/openfoley/assets/model-small --clips 32 --steps 1000 --lr 3e-4

The built-in model's sound gets its real audio's top class in 2-4% of clips, on test-closed and on its
own training renders alike (part 26), and a class label does not change that (part 25's oracle). Two
readings are left: the model has not fitted the sounds (its size and training budget), or what stands
between the velocity network and the audio (the sampler with CFG, Eq. 7 refinement and onset guidance,
the latent normalisation, Griffin-Lim) cannot give a recognisable sound even from a network that knows
it. This separates them with the classic sanity check: train the velocity network on ``--clips`` train
renders alone until it has learnt them, then generate for exactly those renders.

- ``--clips`` live renders of the bank's train split (seed 71, walkers 0.5, the class oracle's draws);
  their conditions and latents are cached (``training.condition_cache``) and the video side is frozen;
- the velocity network trains on them only (``--steps``, Adam ``--lr``, batch 16, clip 1, EMA 0.999 saved:
  ``class_oracle.train_arm``);
- before and after, the model generates for the same renders with the weights' sampler
  (``default``) and with a bare sampler (``bare``: Euler ``--bare-steps``, CFG 1, no refinement, no
  onset guidance), Griffin-Lim to audio. The reference is the renders' real audio through the same
  Griffin-Lim.

Per arm it prints the share of clips whose generated audio gets its real audio's top class (shipped
evaluator), the **identification rate** (the generated clip's window embeddings, joined in time order,
are nearer its own real clip's than any other clip's: chance 1 / clips) and the log-mel L1 to the real clip. A network that has learnt
the clips and a faithful path to audio give high values after training; a network that has learnt
them and low values point at the sampler or the decoding.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_oracle import TRAIN_SEED, embed, generate_mels, load, train_arm  # noqa: E402


def identification_rate(gen: np.ndarray, real: np.ndarray) -> float:
    """gen, real (n, d) embeddings of the same n clips -> the share of i whose nearest real embedding
    (Euclidean) is real[i]; ties count against. Chance is 1 / n."""
    d = ((gen[:, None, :] - real[None, :, :]) ** 2).sum(-1)  # (n, n)
    own = np.diag(d)
    others = d + np.diag(np.full(len(d), np.inf))
    return float((own < others.min(1)).mean())


def bare(steps: int) -> dict:
    """The bare sampler's settings for ``FoleyModel.sample_latent``: Euler ``steps``, CFG 1, no Eq. 7
    refinement, no onset guidance."""
    return {"steps": steps, "solver": "euler", "cfg_scale": 1.0, "refine": False, "onset_guidance": 0.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="src/openfoley/assets/model-small")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--bare-steps", type=int, default=32)
    ap.add_argument("--log", default=None, help="append the JSON record here")
    args = ap.parse_args(argv)
    if args.clips < 2 or args.steps < 0 or args.bare_steps < 1 or not args.lr > 0:
        print("error: --clips must be at least 2, --steps at least 0, --bare-steps at least 1 and --lr positive",
              file=sys.stderr)
        return 2
    if not Path(args.bank, "classes.json").is_file():
        print(f"error: {args.bank}: not a sound bank (no classes.json)", file=sys.stderr)
        return 2
    from openfoley.data.foleyworld.live import LiveStore, stack_event_frames
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.training.condition_cache import cache_conditions
    from openfoley.vocoder import build_vocoder

    model = load(args.weights)
    names = sorted(json.loads((Path(args.bank) / "classes.json").read_text()))
    store = LiveStore.for_training(args.bank, model.cfg, walkers=0.5, seed=TRAIN_SEED, event_frames=True)
    items = [store[i] for i in range(args.clips)]
    frames = torch.stack([it["frames"] for it in items])
    ev_frames = stack_event_frames(items)
    real_mel = torch.stack([it["mel"] for it in items])
    data = cache_conditions(model, items, args.clips, labels=names)  # the renders above, not drawn again
    ev = load_evaluators()
    vocoder = build_vocoder("griffinlim", model.cfg.audio)
    rpost, remb = embed(ev, vocoder(real_mel))
    record = {"weights": args.weights, "clips": args.clips, "steps": args.steps, "lr": args.lr,
              "bare_steps": args.bare_steps, "real_distinct_classes": int(len(set(rpost.argmax(1))))}
    for stage in ("before", "after"):
        if stage == "after":
            t0 = time.perf_counter()
            print(f"training the velocity network on the {args.clips} clips, {args.steps} steps", flush=True)
            model.generator.net.load_state_dict(train_arm(model, data, None, args.steps, args.lr, seed=0))
            record["train_s"] = round(time.perf_counter() - t0, 1)
        for sampler in ("default", "bare"):
            mel = generate_mels(model, frames, event_frames=ev_frames, **({} if sampler == "default" else bare(args.bare_steps)))
            gpost, gemb = embed(ev, vocoder(mel))
            row = {"same_class": float((gpost.argmax(1) == rpost.argmax(1)).mean()),
                   "identified": identification_rate(gemb.reshape(args.clips, -1), remb.reshape(args.clips, -1)),
                   "mel_l1": float((mel - real_mel[..., :mel.shape[-1]]).abs().mean())}
            record[f"{stage}_{sampler}"] = row
            print(f"{stage:6s} {sampler:7s}: same top class {row['same_class']:.3f}, identified {row['identified']:.3f} "
                  f"(chance {1 / args.clips:.3f}), log-mel L1 {row['mel_l1']:.3f}", flush=True)
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
