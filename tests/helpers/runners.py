"""`python run.py` in a subprocess, for the tests where the command line itself is the point."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT


def run_cli(args, cwd=ROOT, env_extra=None, timeout=300) -> subprocess.CompletedProcess:
    """Run `python run.py ARGS` in a subprocess; returns CompletedProcess (text)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
