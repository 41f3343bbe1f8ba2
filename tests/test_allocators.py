"""Allocator settings that return freed memory at once (see permask/allocators.py)."""

import os
import platform
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # fresh interpreters: `pytest -m slow`

# imports run.py as a module (its `main` does not run) and reports what the settings left behind
PROBE = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("entry", "run.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(os.environ.get("MIMALLOC_PURGE_DELAY"), "rerun_bindings" in sys.modules)
"""


def _run(code: str, env_extra: dict[str, str]) -> list[str]:
    """stdout words of `python -c code` in the repository root, without the caller's allocator
    settings but with `env_extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIMALLOC_", "MALLOC_"))}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_entry_point_sets_the_purge_delay_before_rerun_loads():
    assert _run(PROBE, {}) == ["0", "False"]


def test_a_users_setting_wins():
    assert _run(PROBE, {"MIMALLOC_PURGE_DELAY": "50"}) == ["50", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_the_threshold_unless_the_user_set_one():
    code = "from permask.allocators import release_freed_memory_promptly as r; print(r())"
    assert _run(code, {}) == (["True"] if platform.libc_ver()[0] == "glibc" else ["False"])
    assert _run(code, {"MALLOC_MMAP_THRESHOLD_": "65536"}) == ["False"]
