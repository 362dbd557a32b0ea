"""``openfoley.runtime.keep_freed_memory``: glibc's M_TOP_PAD, set by the command line."""

import subprocess
import sys

import pytest

PROBE = ("import os, sys; from openfoley.runtime import keep_freed_memory; "
         "print(keep_freed_memory())")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_applied_on_glibc_and_left_to_the_environment_when_set():
    env = {"PATH": "/usr/bin:/bin"}
    run = lambda e: subprocess.run([sys.executable, "-c", PROBE], env=e, capture_output=True, text=True,
                                   check=True).stdout.strip()
    assert run(env) == "True"
    assert run({**env, "MALLOC_TOP_PAD_": "4096"}) == "False"
