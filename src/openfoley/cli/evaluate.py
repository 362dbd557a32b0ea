"""``openfoley evaluate`` and ``openfoley evaluators train``: thin layers over ``openfoley.evaluation``.

    openfoley evaluate --generated DIR --reference DIR [--out results.json] [--evaluators DIR]
    openfoley evaluators train --bank BANK --store STORE --out DIR [--heldout-store STORE] [...]
"""

from __future__ import annotations

import argparse
import json

from openfoley.errors import ConfigError
from openfoley.io.atomic import atomic_output, check_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score generated mp4s against reference mp4s (FAD, KLD, Align Acc, onsets)",
        description="Pair the .mp4 files of two folders by name and report FAD, KLD, Align Acc (with the "
                    "sync classifier's own held-out accuracy), onset accuracy and AP, and FoleyWorld "
                    "event-time error where ground truth is present. Prints a table; --out writes JSON.")
    p.add_argument("--generated", required=True, help="folder of generated .mp4 files")
    p.add_argument("--reference", required=True, help="folder of reference .mp4 files (real audio), same names")
    p.add_argument("--out", default=None, help="results JSON to write (atomically)")
    p.add_argument("--evaluators", default=None,
                   help="evaluator weights folder (default: the shipped openfoley/assets/evaluators)")
    p.add_argument("--max-seconds", type=float, default=None, help="score only the first N seconds of each clip")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=_evaluate)

    e = sub.add_parser("evaluators", help="train OpenFoley's own evaluator networks")
    e_sub = e.add_subparsers(dest="evaluators_command", metavar="EVALUATORS_COMMAND")
    t = e_sub.add_parser(
        "train", help="train the audio classifier (sound bank) and the sync classifier (feature store)",
        description="Audio classifier/embedding on every clip of the sound bank; sync classifier on a "
                    "FoleyWorld train-split feature store (real pairs against time-shifted and swapped "
                    "audio). Writes OUT/audio and OUT/sync (safetensors + config.json + meta.json).")
    t.add_argument("--bank", default=None, help="sound bank folder (openfoley data sound-bank); the audio classifier")
    t.add_argument("--store", default=None,
                   help="feature store of the FoleyWorld train split (openfoley data extract); the sync classifier")
    t.add_argument("--only", choices=["audio", "sync"], default=None,
                   help="train and write just this evaluator (the other folder is left as it is)")
    t.add_argument("--heldout-store", default=None,
                   help="feature store to measure the sync classifier on (default: 10%% of --store held out)")
    t.add_argument("--out", required=True, help="folder to write the evaluators to")
    t.add_argument("--audio-steps", type=int, default=1500)
    t.add_argument("--sync-steps", type=int, default=1500)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--window", type=float, default=4.0, help="sync classifier window, seconds (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-minutes", type=float, default=None,
                   help="wall-time cap per network (results then depend on machine speed)")
    t.add_argument("--force", action="store_true", help="replace existing OUT/audio and OUT/sync")
    t.set_defaults(func=_train)
    c = e_sub.add_parser(
        "check", help="the sync classifier's held-out accuracy on a feature store",
        description="One real, one time-shifted and one swapped pair per clip of STORE, scored as "
                    "`openfoley evaluate` scores clips (docs/evaluation.md).")
    c.add_argument("--store", required=True, help="feature store with the classifier's settings (e.g. a test split)")
    c.add_argument("--evaluators", default=None, help="evaluators folder (default: the shipped ones)")
    c.set_defaults(func=_check)
    e.set_defaults(func=lambda args: (e.print_help(), 2)[1])


def _evaluate(args: argparse.Namespace) -> int:
    from openfoley.evaluation.evaluate import evaluate_dirs, format_table

    if args.out:
        check_output(args.out, force=args.force)  # fail before the work, not after it
    results = evaluate_dirs(args.generated, args.reference, args.evaluators, max_seconds=args.max_seconds)
    print(format_table(results))
    if args.out:
        with atomic_output(args.out, force=args.force) as tmp:
            tmp.write_text(json.dumps(results, indent=2, sort_keys=True, allow_nan=False) + "\n")
        print(f"{args.out}: results written")
    return 0


def _train(args: argparse.Namespace) -> int:
    from openfoley.evaluation.train_evaluators import AudioTrainSpec, SyncTrainSpec, train_evaluators

    for name in ("audio_steps", "sync_steps", "batch_size"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    cap = None if args.max_minutes is None else 60.0 * args.max_minutes
    reports = train_evaluators(
        args.bank, args.store, args.out, heldout_store=args.heldout_store, window=args.window, force=args.force,
        only=args.only,
        audio_spec=AudioTrainSpec(steps=args.audio_steps, batch_size=args.batch_size, seed=args.seed,
                                  max_seconds=cap),
        sync_spec=SyncTrainSpec(steps=args.sync_steps, batch_size=args.batch_size, seed=args.seed,
                                max_seconds=cap))
    if "audio" in reports:
        a = reports["audio"]
        print(f"audio classifier {a['version']}: {a['classes']} classes, val accuracy {a['val_accuracy']:.3f} "
              f"(top-5 {a['val_top5_accuracy']:.3f}) on {a['val_clips']} held-out bank clips")
    if "sync" in reports:
        s = reports["sync"]
        h = s["heldout"]
        print(f"sync classifier {s['version']}: held-out accuracy {h['accuracy']:.3f} (real {h['acc_real']:.3f}, "
              f"shifted {h['acc_shifted']:.3f}, swapped {h['acc_swapped']:.3f}) on {h['clips']} clips")
    print(f"{args.out}: evaluators written")
    return 0


def _check(args: argparse.Namespace) -> int:
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.evaluation.train_evaluators import check_sync_classifier

    ev = load_evaluators(args.evaluators)
    if ev.sync is None:
        raise ConfigError("this evaluators folder has no sync classifier")
    h = check_sync_classifier(ev.sync, args.store)
    print(f"sync classifier {ev.versions['sync']}: held-out accuracy {h['accuracy']:.3f} (real {h['acc_real']:.3f}, "
          f"shifted {h['acc_shifted']:.3f}, swapped {h['acc_swapped']:.3f}) on {h['clips']} clips of {args.store}")
    return 0
