"""Argument helpers shared by subcommands: the config flags (``--preset``, ``--config``, ``--set``)."""

from __future__ import annotations

import argparse

from openfoley.config import Config, apply_overrides, get_preset, load_toml


def add_config_args(p: argparse.ArgumentParser, default_preset: str = "small") -> None:
    p.add_argument("--preset", default=default_preset, help="config preset: tiny, small, paper (default: %(default)s)")
    p.add_argument("--config", default=None, help="TOML file of config overrides")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override, repeatable (e.g. --set flow.kind=ddpm)")


def config_from_args(args: argparse.Namespace) -> Config:
    cfg = get_preset(args.preset)
    if args.config:
        cfg = load_toml(cfg, args.config)
    return apply_overrides(cfg, args.overrides)
