"""Prove an output folder is writable, with some free space, before any expensive work."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from permask.errors import OutputError
from permask.files.atomic import describe_os_error

MIN_FREE_MIB = 64  # $PERMASK_MIN_FREE_MIB overrides it


def required_free_bytes() -> int:
    """$PERMASK_MIN_FREE_MIB (MiB) as bytes, else 64 MiB."""
    try:
        return int(float(os.environ.get("PERMASK_MIN_FREE_MIB", MIN_FREE_MIB)) * 2**20)
    except ValueError:
        return MIN_FREE_MIB * 2**20


def ensure_writable_dir(path: str | Path, min_free_bytes: int | None = None) -> Path:
    """Create `path` if needed and check it takes a file and has `min_free_bytes` free
    (default: $PERMASK_MIN_FREE_MIB, else 64 MiB)."""
    path = Path(path)
    if min_free_bytes is None:
        min_free_bytes = required_free_bytes()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".permask-write-test-"):
            pass
        free = shutil.disk_usage(path).free
    except OSError as err:
        raise OutputError(f"cannot write here: {describe_os_error(err)}", file=str(path),
                          key="output_dir", fix="choose a writable output_dir=...") from None
    if free < min_free_bytes:
        raise OutputError(f"only {free / 2**20:.0f} MiB free on this disk", file=str(path),
                          key="output_dir", fix="free some space, choose another output_dir, or "
                                                "lower $PERMASK_MIN_FREE_MIB")
    return path
