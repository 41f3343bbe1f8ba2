"""Read an NPZ file member by member, within `DecodeLimits`, without executing pickles.

Every `.npy` member is read by hand: non-object dtypes into a preallocated array (the header's
shape must fit the member's declared size first), object dtypes through the restricted unpickler
(`permask.inputs.safe_pickle`). Before any member is inflated, its declared size and compression
ratio are checked (`check_declared_size`). Only the members asked for are ever read.
"""

from __future__ import annotations

import lzma
import math
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from numpy.lib import format as npy_format

from permask.errors import InputFileError, UnsafePickleError
from permask.inputs.limits import DEFAULT_LIMITS, DecodeLimits, unpickle_budget
from permask.inputs.safe_pickle import UnpickleBudget, read_object_array


def _bad(path: Path, problem: str, key: str | None = None,
         fix: str | None = None) -> InputFileError:
    return InputFileError(problem, file=str(path), key=key, fix=fix)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise _bad(path, "file not found")
    if path.is_dir():
        raise _bad(path, "is a directory, expected an .npz file")
    if path.stat().st_size == 0:
        raise _bad(path, "file is empty")


def _read_header(stream: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read the `.npy` magic + header; returns (shape, fortran_order, dtype)."""
    version = npy_format.read_magic(stream)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(stream)
    return npy_format._read_array_header(stream, version)  # (3,0): no public reader


_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, TypeError,
                pickle.UnpicklingError, IndexError, KeyError, AttributeError, SyntaxError,
                UnicodeError, OverflowError, RecursionError, MemoryError, NotImplementedError,
                RuntimeError, lzma.LZMAError)  # RuntimeError: an encrypted member


_LIMIT_FIX = "if the file is genuine, raise input.limits.{} (see docs/reliability.md)"


def check_declared_size(info: zipfile.ZipInfo, path: Path, limits: DecodeLimits,
                        read_so_far: int, video_bytes: int | None) -> None:
    """Refuse a member before inflating it when its declared size is past the limits (see
    `DecodeLimits`); video_bytes: the declared size of the file's video, None if it has none."""
    key = info.filename[: -len(".npy")]
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > limits.max_member_bytes:
        raise _bad(path, f"member declares {size} bytes uncompressed, over the limit of "
                         f"{limits.max_member_bytes}", key=key,
                   fix=_LIMIT_FIX.format("max_member_bytes"))
    if read_so_far + size > limits.max_total_bytes:
        raise _bad(path, f"members read so far would inflate to {read_so_far + size} bytes, over "
                         f"the limit of {limits.max_total_bytes}", key=key,
                   fix=_LIMIT_FIX.format("max_total_bytes"))
    if video_bytes is None or size <= limits.floor_bytes:
        return
    if key in limits.scale_keys and size / packed > limits.max_ratio:
        raise _bad(path, f"member inflates {size / packed:.0f}x ({packed} -> {size} bytes), over "
                         f"the limit of {limits.max_ratio:g}x (a decompression bomb?)", key=key,
                   fix=_LIMIT_FIX.format("max_ratio"))
    if key not in limits.scale_keys and size > limits.max_relative_size * video_bytes:
        raise _bad(path, f"member declares {size} bytes, more than {limits.max_relative_size:g}x "
                         f"the video's {video_bytes} (a decompression bomb?)", key=key,
                   fix=_LIMIT_FIX.format("max_relative_size"))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path,
                 limits: DecodeLimits, budget: UnpickleBudget) -> np.ndarray:
    """Read one `.npy` member; object arrays go through the restricted unpickler, charged to the
    file's `budget`. The header's shape must fit the member's declared size before any array is
    allocated."""
    key = info.filename[: -len(".npy")]
    try:
        with zf.open(info) as stream:
            shape, fortran, dtype = _read_header(stream)
            if dtype.hasobject:
                return read_object_array(stream, shape, file=str(path), key=key, limits=limits,
                                         budget=budget)
            payload = info.file_size - stream.tell()
            needed = math.prod(shape) * dtype.itemsize
            if needed != payload:
                raise _bad(path, f"cannot read member '{info.filename}': header declares shape {list(shape)} of {dtype} ({needed} "
                                 f"bytes), the member holds {payload}", key=key,
                           fix="the file is corrupt or not written by numpy; re-create it")
            array = np.empty(math.prod(shape), dtype=dtype)
            buffer, filled = memoryview(array.view(np.uint8)), 0
            while filled < needed:
                got = stream.readinto(buffer[filled:])
                if not got:
                    raise EOFError(f"member ends after {filled} of {needed} bytes")
                filled += got
            if fortran:
                return array.reshape(shape[::-1]).transpose()
            return array.reshape(shape)
    except (UnsafePickleError, InputFileError):
        raise
    except _READ_ERRORS as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _bad(path, f"cannot read member '{info.filename}': {msg}", key=key,
                   fix="the file may be truncated or corrupt; re-create it") from None


def npz_keys(path: str | Path) -> list[str]:
    """Keys (member names without `.npy`) of an NPZ file, without reading any array."""
    path = Path(path)
    with _open_zip(path) as zf:
        return [i.filename[:-4] for i in zf.infolist() if i.filename.endswith(".npy")]


@dataclass(frozen=True)
class MemberHeader:
    """What a member's `.npy` header declares, read without inflating its data.

    key: member name without `.npy`; shape, dtype: as declared (None when the header cannot be
    read: `problem` says why); size: declared uncompressed bytes; stored: bytes in the archive.
    An object dtype means a pickle: its content is not read here.
    """

    key: str
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    size: int
    stored: int
    problem: str | None = None


def member_headers(path: str | Path) -> list[MemberHeader]:
    """The `.npy` headers of every member, in archive order; only the first bytes of each member
    are inflated. A member whose header cannot be read is listed with its `problem` (so one bad
    member the run never reads does not hide the others); a bad archive raises InputFileError."""
    path = Path(path)
    headers = []
    with _open_zip(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            shape, dtype, problem = None, None, None
            try:
                with zf.open(info) as stream:
                    shape, _, dtype = _read_header(stream)
            except _READ_ERRORS as err:
                text = str(err).strip().splitlines()
                problem = text[0] if text else type(err).__name__
            headers.append(MemberHeader(info.filename[:-4], shape, dtype, info.file_size,
                                        info.compress_size, problem))
    return headers


def _open_zip(path: Path) -> zipfile.ZipFile:
    _check_path(path)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError, RuntimeError,
            OverflowError, UnicodeError) as err:
        raise _bad(path, f"not an NPZ (zip) file or truncated: {err}",
                   fix="check the path; re-create the file if it was cut short") from None
    except OSError as err:
        raise _bad(path, f"cannot open: {err.strerror or err}") from None


def _unwrap(array: np.ndarray) -> Any:
    """0-d object arrays (how numpy stores a pickled dict / list) -> the Python object."""
    if array.ndim == 0 and array.dtype == object:
        return array.item()
    return array


def load_npz_safely(path: str | Path, keys: Iterable[str] | Callable[[str], bool] | None = None,
                    limits: DecodeLimits | None = None) -> dict[str, Any]:
    """Load an NPZ file without executing arbitrary pickles, within `limits`.

    path: the `.npz` file. keys: if given, read only these members (a collection of names, or a
    predicate on the name); the others are never inflated. Returns key -> value: numpy arrays,
    or the Python object for a 0-d object array (e.g. the `dict[instance_id -> array]` of old mask
    files). Members not ending in `.npy` are ignored.
    Raises `InputFileError` (missing / directory / empty / not a zip / truncated / bad member /
    past a limit) and `UnsafePickleError` (a pickle naming anything but plain data).
    """
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    if keys is None:
        wanted: Callable[[str], bool] = lambda key: True  # noqa: E731
    elif callable(keys):
        wanted = keys
    else:
        names = set(keys)
        wanted = names.__contains__
    out: dict[str, Any] = {}
    read = 0
    with _open_zip(path) as zf:
        members = [i for i in zf.infolist() if i.filename.endswith(".npy")
                   and wanted(i.filename[:-4])]
        video = [i.file_size for i in zf.infolist() if i.filename[:-4] in limits.scale_keys]
        video_bytes = max(video) if video else None
        for info in members:
            check_declared_size(info, path, limits, read, video_bytes)
            read += info.file_size
        budget = UnpickleBudget(unpickle_budget(limits, video_bytes), str(path))
        for info in members:
            key = info.filename[:-4]
            if key in out:
                raise _bad(path, "the archive holds this member twice", key=key)
            out[key] = _unwrap(_read_member(zf, info, path, limits, budget))
    return out
