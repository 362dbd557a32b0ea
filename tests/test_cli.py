"""The command line: help lists every command without importing heavy libraries; errors are one line."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import openfoley
from openfoley.cli import COMMANDS, build_parser, main


def test_help_is_light_and_lists_every_command():
    code = ("import sys; from openfoley.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("LIGHT")
    for name in COMMANDS:
        assert name in out


def test_version_is_the_one_in_pyproject(capsys):
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert openfoley.__version__ == pyproject["project"]["version"]
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"openfoley {openfoley.__version__}"


def test_full_parser_has_every_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)


def test_benchmark_list(capsys):
    assert main(["benchmark", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["full", "no-mma", "no-mfg", "no-mma-no-mfg", "flow-nf", "flow-coupling", "mask-0.2",
                     "mask-0.6", "mask-0", "conv-video", "patch-video", "transformer-velocity", "no-onset-target", "onset-channel",
                     "ground-truth", "retrieval", "shuffled"]


def test_unknown_command_exits_2(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as e:
        assert e.code == 2
    assert "invalid choice" in capsys.readouterr().err
