"""``openfoley info``: parameters and FLOPs per component for each preset (or one config)."""

from __future__ import annotations

import argparse

from openfoley.cli.common import add_config_args, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print parameters and FLOPs per forward pass for each component")
    add_config_args(p)
    p.add_argument("--all", action="store_true", help="every preset (tiny, small, paper)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from openfoley.config import PRESETS, get_preset
    from openfoley.model import model_summary

    cfgs = [get_preset(n) for n in PRESETS] if args.all else [config_from_args(args)]
    for cfg in cfgs:
        print(f"preset {cfg.name}: {cfg.seconds:g} s clips, {cfg.video_frames} frames of "
              f"{cfg.video.size}x{cfg.video.size}, {cfg.audio_tokens} audio tokens, {cfg.key_frames} key frames")
        print(f"  {'component':44s} {'params':>12s} {'GFLOPs/clip':>12s}")
        for c in model_summary(cfg):
            gf = "" if c.gflops != c.gflops else f"{c.gflops:12.3f}"
            print(f"  {c.name:44s} {c.params:12,d} {gf:>12s}")
    return 0
