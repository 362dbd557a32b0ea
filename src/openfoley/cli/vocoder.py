"""``openfoley vocoder train|eval``: train the neural vocoder on a sound bank; score it against Griffin-Lim.

Thin layers over ``openfoley.vocoder.train.train_vocoder`` and ``openfoley.vocoder.evaluate``.
"""

from __future__ import annotations

import argparse
import logging

import torch

from openfoley.vocoder import GriffinLimVocoder, Vocoder, build_vocoder, builtin_available
from openfoley.vocoder.evaluate import evaluate_vocoders, format_table, heldout_clips
from openfoley.vocoder.train import TrainSettings, preset_audio, train_vocoder

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vocoder", help="train the neural vocoder; compare it with Griffin-Lim")
    vs = p.add_subparsers(dest="vocoder_command", metavar="VOCODER_COMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    t = vs.add_parser("train", help="train (or resume) a vocoder on a sound bank, on CPU")
    t.add_argument("--bank", help="sound bank folder (manifest.jsonl or *.wav); omitted: generated audio")
    t.add_argument("--out", required=True, help="run folder: weights/, checkpoints/, log.jsonl (resumes if present)")
    t.add_argument("--preset", default="small", choices=["tiny", "small"])
    t.add_argument("--steps", type=int, default=TrainSettings.steps)
    t.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    t.add_argument("--minutes", type=float, help="stop after this much training time in total")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=_train)

    e = vs.add_parser("eval", help="score Griffin-Lim and a neural vocoder on a bank's held-out clips")
    e.add_argument("--bank", required=True, help="sound bank folder")
    e.add_argument("--weights", help="neural vocoder folder (default: the built-in one, if any)")
    e.add_argument("--preset", default="small", choices=["tiny", "small"])
    e.add_argument("--iters", type=int, nargs="+", default=[16, 32, 64], help="Griffin-Lim iterations")
    e.add_argument("--holdout", type=float, default=TrainSettings.holdout)
    e.add_argument("--max-clips", type=int)
    e.add_argument("--threads", type=int)
    e.set_defaults(func=_eval)


def _train(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    s = TrainSettings(preset=args.preset, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                      time_limit_s=None if args.minutes is None else 60 * args.minutes)
    res = train_vocoder(args.out, args.bank, s,
                        on_log=lambda r: print(f"step {r['step']}  loss {r['loss']:.4f}  ({r['seconds']:.0f} s)",
                                               flush=True))
    print(f"vocoder: step {res.step}, loss {res.loss:.4f}, {res.seconds / 60:.1f} min of training; "
          f"weights in {res.out / 'weights'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = preset_audio(args.preset)
    clips = heldout_clips(args.bank, cfg, args.holdout, max_clips=args.max_clips)
    vocoders: list[Vocoder] = [GriffinLimVocoder(cfg, iters=i) for i in args.iters]
    if args.weights is not None or builtin_available(cfg):
        vocoders.append(build_vocoder("neural", cfg, args.weights))
    print(format_table(evaluate_vocoders(vocoders, clips)))
    return 0
