"""Shared fixtures: a small built-in demo scene, cached for the whole test session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Small demo: fast enough for end-to-end tests, big enough for trackers to differ.
SMALL_DEMO = {"num_views": 3, "num_frames": 16, "height": 96, "width": 128}
SMALL_DEMO_OVERRIDES = [f"input.demo.{k}={v}" for k, v in SMALL_DEMO.items()]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("permask-cache")
    os.environ["PERMASK_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def small_demo_path(cache_dir) -> Path:
    from permask.demo.cache import demo_scene_path
    from permask.demo.params import DemoParams
    return demo_scene_path(DemoParams(**SMALL_DEMO), cache_dir=cache_dir)


@pytest.fixture(scope="session")
def small_demo_scene(small_demo_path):
    from permask.inputs.load import load_scene
    return load_scene(small_demo_path, "sam2_masks")


def run_cli(args, cwd=ROOT, env_extra=None, timeout=300):
    """Run `python run.py ARGS` in a subprocess; returns CompletedProcess (text)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
