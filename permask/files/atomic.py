"""The one atomic writer: every output appears under its final name only when complete.

`atomic_write(path)` yields a temporary path beside `path` (same folder, so the rename is atomic;
named `.{name}.{pid}.{random}.tmp{suffix}` so its owner can be told), renames it into place on success and
removes it on any failure. File-system and writer failures (disk full, name too long, permission,
a Rerun sink error, out of memory) become one `OutputError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from permask.errors import OutputError

TMP_SUFFIX = ".tmp"


TMP_GLOB = ".*.tmp*"  # every temporary name below


def temporary_name(path: Path) -> Path:
    """`.{name}.{pid}.{random}.tmp{suffix}` beside `path` (the real suffix last, so writers
    that choose a format by extension, such as OpenCV's, still can)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"
                          f"{path.suffix}")


def describe_os_error(err: BaseException) -> str:
    """A short, one-line reason for a failed write."""
    if isinstance(err, MemoryError):
        return "out of memory while writing"
    if isinstance(err, OSError):
        if err.errno == errno.ENOSPC:
            return "no space left on the device"
        if err.errno == errno.ENAMETOOLONG:
            return "file name too long"
        return err.strerror or str(err) or type(err).__name__
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


@contextlib.contextmanager
def atomic_write(path: str | Path, *, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it into place, else remove it.

    mode: permission bits before the umask (0o777 for scripts). Raises OutputError naming `path`
    when anything fails with an OSError, MemoryError or RuntimeError (Rerun's sink errors).
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, path)
    except (OSError, MemoryError, RuntimeError) as err:
        raise OutputError(f"cannot write: {describe_os_error(err)}", file=str(path)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npz(path: str | Path, compressed: bool = True, **arrays: np.ndarray) -> Path:
    """Write a pickle-free NPZ atomically. Object arrays are refused before anything is written."""
    for key, value in arrays.items():
        if np.asarray(value).dtype.hasobject:
            raise TypeError(f"save_npz: '{key}' is an object array; outputs are pickle-free")
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        # numpy 1.x's savez would store an `allow_pickle` keyword as an array: pass none
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def save_text(path: str | Path, text: str, *, mode: int = 0o666) -> Path:
    with atomic_write(path, mode=mode) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
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
