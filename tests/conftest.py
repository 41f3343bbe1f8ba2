"""Shared fixtures: a small built-in demo scene, cached for the whole test session, and the
stand-in learned models' checkpoints. What tests import lives in tests/helpers."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.helpers.overrides import SMALL_DEMO

# No test touches the network or the user's caches: fetching is offline, or goes to a closed local
# port; a test that fetches starts its own server (tests/model_server.py) and lifts
# HF_HUB_OFFLINE. Models and generated files (demo scenes, depth results) land in a folder of this
# session.
# Set at import, before huggingface_hub reads its settings; subprocesses inherit them.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="permask-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, True)
for _name, _value in {"PERMASK_MODELS_DIR": _SESSION_DIR / "models",
                      "PERMASK_GITHUB_URL": "http://127.0.0.1:9",
                      "HF_ENDPOINT": "http://127.0.0.1:9",
                      "HF_HOME": _SESSION_DIR / "hf", "TORCH_HOME": _SESSION_DIR / "torch",
                      "HF_HUB_OFFLINE": "1",  # as without network, and at once (no retries)
                      "HF_HUB_DISABLE_TELEMETRY": "1",
                      "PERMASK_CACHE_DIR": _SESSION_DIR / "cache"}.items():
    os.environ[_name] = str(_value)


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The session's cache folder ($PERMASK_CACHE_DIR: the demo scenes, depth results)."""
    return Path(os.environ["PERMASK_CACHE_DIR"])


@pytest.fixture(scope="session")
def small_demo_path(cache_dir) -> Path:
    from permask.demo.cache import demo_scene_path
    from permask.demo.params import DemoParams
    return demo_scene_path(DemoParams(**SMALL_DEMO), cache_dir=cache_dir)


@pytest.fixture(scope="session")
def small_demo_scene(small_demo_path):
    from permask.inputs.load import load_scene
    return load_scene(small_demo_path, "sam2_masks")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """The stand-in learned models' checkpoints (tests/helpers/standins.py), name -> path."""
    from tests.helpers.standins import write_checkpoints
    return write_checkpoints(tmp_path_factory.mktemp("ckpt"))
