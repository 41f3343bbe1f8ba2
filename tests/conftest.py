"""Shared fixtures: a small built-in demo scene, cached for the whole test session."""

import atexit
import os
import shutil
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# No test touches the network or the user's caches: fetching is offline, or goes to a closed local
# port; a test that fetches starts its own server (tests/model_server.py) and lifts
# HF_HUB_OFFLINE. Models land in a folder of this session.
# Set at import, before huggingface_hub reads its settings; subprocesses inherit them.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="permask-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, True)
for _name, _value in {"PERMASK_MODELS_DIR": _SESSION_DIR / "models",
                      "PERMASK_GITHUB_URL": "http://127.0.0.1:9",
                      "HF_ENDPOINT": "http://127.0.0.1:9",
                      "HF_HOME": _SESSION_DIR / "hf", "TORCH_HOME": _SESSION_DIR / "torch",
                      "HF_HUB_OFFLINE": "1",  # as without network, and at once (no retries)
                      "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
    os.environ[_name] = str(_value)

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
