"""The cache folder permask keeps generated files in (the demo scene, depth results)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """$PERMASK_CACHE_DIR, else $XDG_CACHE_HOME/permask, else ~/.cache/permask."""
    if os.environ.get("PERMASK_CACHE_DIR"):
        return Path(os.environ["PERMASK_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "permask"
    return Path.home() / ".cache" / "permask"
