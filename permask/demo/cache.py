"""The demo scene on disk: one NPZ per parameter set, generated once into the permask cache folder.

The file name holds GENERATOR_VERSION and a hash of the parameters, so a change of either makes a
new file; writing is atomic, so concurrent runs never see half a file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from permask.cache_dir import default_cache_dir
from permask.demo.params import DemoParams
from permask.demo.scene import make_demo_scene
from permask.files.atomic import atomic_write

GENERATOR_VERSION = 2
"""Bump whenever the generated content changes, so cached files are regenerated."""


def params_hash(params: DemoParams) -> str:
    """Short hex digest of the parameters and GENERATOR_VERSION."""
    payload = json.dumps({"version": GENERATOR_VERSION, **asdict(params)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def demo_scene_path(params: DemoParams | None = None, cache_dir: str | Path | None = None) -> Path:
    """Path of the cached demo-scene NPZ for `params`, generated (atomically) if absent."""
    params = params or DemoParams()
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = directory / f"demo_scene_v{GENERATOR_VERSION}_{params_hash(params)}.npz"
    if path.is_file():
        return path
    arrays = make_demo_scene(params)
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # object arrays are pickled (old format)
    return path
