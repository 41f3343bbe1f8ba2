"""Prove an output folder is writable, with some free space, before any expensive work."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from permask.errors import OutputError
from permask.files.atomic import describe_os_error

MIN_FREE_BYTES = 64 * 2**20


def ensure_writable_dir(path: str | Path, min_free_bytes: int = MIN_FREE_BYTES) -> Path:
    """Create `path` if needed and check it takes a file and has `min_free_bytes` free."""
    path = Path(path)
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
                          key="output_dir", fix="free some space or choose another output_dir")
    return path
