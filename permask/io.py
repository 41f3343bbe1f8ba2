"""Atomic output writing: every file appears under its final name only when complete."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from permask.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it into place, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npz(path: str | Path, compressed: bool = True, **arrays) -> Path:
    """Write a pickle-free NPZ atomically (object arrays are refused by numpy here)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return Path(path)


def save_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def save_json(path: str | Path, data) -> Path:
    return save_text(path, json.dumps(data, indent=2, allow_nan=True, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


MIN_FREE_BYTES = 64 * 2**20


def ensure_writable_dir(path: str | Path, min_free_bytes: int = MIN_FREE_BYTES) -> Path:
    """Create `path` if needed and prove it is writable, with some free space, before any
    expensive work."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".permask-write-test-"):
            pass
        free = shutil.disk_usage(path).free
    except OSError as err:
        raise OutputError(f"cannot write here: {err.strerror or err}", file=str(path),
                          key="output_dir", fix="choose a writable output_dir=...") from None
    if free < min_free_bytes:
        raise OutputError(f"only {free / 2**20:.0f} MiB free on this disk", file=str(path),
                          key="output_dir", fix="free some space or choose another output_dir")
    return path
