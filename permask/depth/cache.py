"""Depth cache: results of depth estimators stored on disk, keyed by content and parameters.

A key is the hash of
- the estimator's kind and its algorithm version (a code change that alters results bumps it),
- the CONTENT of every input array the result depends on (shape, dtype and bytes: e.g. the depth
  maps for `gt_filled`, the video and intrinsics for a learned model), never a file name, so
  the same recording under another name hits and an edited recording misses,
- every parameter that changes the result (radii, tolerances, model weights, resolution...).
  Model weights are identified by their resolved path, size and modification time (hashing a
  1 GB checkpoint on every run would cost seconds), a hub id by its string.

Entries are uncompressed NPZ files `<dir>/<kind>/<key>.npz`, written atomically (temporary file
in the same folder + `os.replace`, see `permask.files.atomic`), so concurrent sweep jobs computing the same
entry both succeed and a reader never sees a half-written file. An unreadable entry counts as a
miss and is rewritten.

Directory: `depth.cache_dir` if set, else `$PERMASK_CACHE_DIR/depth`, else
`$XDG_CACHE_HOME/permask/depth`, else `~/.cache/permask/depth`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from permask.errors import OutputError
from permask.files.atomic import save_npz
from permask.cache_dir import default_cache_dir as _permask_cache_dir

log = logging.getLogger(__name__)


def default_depth_cache_dir() -> Path:
    """$PERMASK_CACHE_DIR/depth, else $XDG_CACHE_HOME/permask/depth, else ~/.cache/permask/depth."""
    return _permask_cache_dir() / "depth"


def array_digest(array: np.ndarray) -> str:
    """blake2b hex digest of an array's dtype, shape and bytes (layout-independent)."""
    a = np.ascontiguousarray(array)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{a.dtype.str}|{a.shape}|".encode())
    digest.update(memoryview(a).cast("B"))
    return digest.hexdigest()


def file_identity(path: str | None) -> str | None:
    """Identity of a weights file or folder for cache keys: resolved path, size, mtime; a string
    that is not an existing path (e.g. a hub id) stands for itself."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.exists():
        return str(path)
    stat = p.stat()
    return f"{p.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def cache_key(kind: str, version: int, arrays: Mapping[str, np.ndarray],
              params: Mapping[str, Any]) -> str:
    """Hex key of (kind, version, content of `arrays`, `params`). Params must be JSON-able."""
    payload = {"kind": kind, "version": version,
               "arrays": {name: array_digest(a) for name, a in sorted(arrays.items())},
               "params": params}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class DepthCache:
    """Load/store arrays under a content key. `enabled=False` makes every lookup a miss and
    stores nothing."""

    def __init__(self, directory: str | Path | None = None, enabled: bool = True):
        self.directory = (Path(directory).expanduser() if directory
                          else default_depth_cache_dir())
        self.enabled = enabled

    def path(self, kind: str, key: str) -> Path:
        return self.directory / kind / f"{key}.npz"

    def load(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        if not self.enabled:
            return None
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                return {name: f[name] for name in f.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:  # recompute
            log.warning("depth cache: ignoring unreadable %s (%s)", path, err)
            return None

    def save(self, kind: str, key: str, **arrays: np.ndarray) -> Path | None:
        if not self.enabled:
            return None
        path = self.path(kind, key)
        try:
            return save_npz(path, compressed=False, **arrays)
        except (OSError, OutputError) as err:  # a cache that cannot be written is only slower
            log.warning("depth cache: cannot write %s (%s); continuing without it", path, err)
            return None

    def __repr__(self) -> str:
        return f"DepthCache({str(self.directory)!r}, enabled={self.enabled})"

