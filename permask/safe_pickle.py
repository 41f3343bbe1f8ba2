"""Read NPZ files without executing arbitrary pickles.

Old recordings keep masks, camera ids and contact frames as pickled Python objects inside the NPZ
(0-d or 1-d object arrays). `numpy.load(allow_pickle=True)` would run whatever those pickles name.
Here every `.npy` member is read by hand:

- non-object dtypes: `numpy.lib.format.read_array(..., allow_pickle=False)`;
- object dtypes: a `pickle.Unpickler` whose `find_class` admits only numpy array / dtype / scalar
  reconstruction (numpy 1.x `numpy.core.*` and numpy 2.x `numpy._core.*` names) and the builtins
  that plain containers need. Anything else raises `UnsafePickleError` naming the refused global.

After unpickling, the result is checked to be plain data (see `check_plain`).

Decoding is bounded (`DecodeLimits`): before a member is inflated, its declared size, its
compression ratio and the `.npy` header's shape are checked; the unpickler's constructors refuse
allocations past the member's budget, and nesting deeper than `max_depth` is refused.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
import zlib
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from numpy.lib import format as npy_format

from .errors import InputFileError, UnsafePickleError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar as _scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar as _scalar  # type: ignore
    from numpy.core.numeric import _frombuffer  # type: ignore


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for `_codecs.encode`, which protocol-2 pickles use to rebuild `bytes`.

    Only the latin-1 codec is allowed (that is all pickle itself ever emits).
    """
    if encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"codec {encoding!r} refused (only latin1 is allowed)")
    if not isinstance(text, str):
        raise pickle.UnpicklingError("_codecs.encode needs a str")
    return text.encode("latin1")


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on what reading one NPZ may inflate (config: `input.limits`).

    max_member_bytes: largest declared (uncompressed) size of one member.
    max_total_bytes: sum over the members read.
    Where the file holds a video (`scale_keys`: rgbs, depths), it sets the scale:
    max_ratio: largest uncompressed/compressed ratio of a video member over `floor_bytes` (real
        video compresses 2-20x, zeros about 1000x);
    max_relative_size: every other member over `floor_bytes` may declare at most this many times
        the video's size (masks at 4x resolution, label maps, dozens of pickled instance masks
        fit; a mask that inflates to gigabytes beside a small video does not). Masks cannot be
        judged by their ratio: sparse masks really compress a thousand times.
    max_depth: deepest nesting of lists/dicts in a pickled entry.
    """

    max_member_bytes: int = 8 * 2**30
    max_total_bytes: int = 16 * 2**30
    max_ratio: float = 200.0
    max_relative_size: float = 64.0
    floor_bytes: int = 64 * 2**20
    max_depth: int = 32
    scale_keys: tuple[str, ...] = ("rgbs", "depths")

    @classmethod
    def for_this_machine(cls, **overrides: Any) -> "DecodeLimits":
        """Defaults that fit the machine: at most half its memory for one file."""
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            memory = 16 * 2**30
        half = max(memory // 2, 2**30)
        base = cls(max_member_bytes=min(cls.max_member_bytes, half),
                   max_total_bytes=min(cls.max_total_bytes, half))
        return cls(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})


DEFAULT_LIMITS = DecodeLimits.for_this_machine()


class _Budget:
    """Bytes an unpickler may still allocate for one member."""

    def __init__(self, limit: int, file: str, key: str):
        self.left, self.file, self.key = limit, file, key

    def take(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or nbytes > self.left:
            raise UnsafePickleError(f"pickled entry asks for {what} of {nbytes} bytes, more than "
                                    f"the member's size allows", file=self.file, key=self.key,
                                    fix="re-save the file without pickles (one array per key)")
        self.left -= nbytes


def _shape_bytes(shape: Any, dtype: Any) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    return math.prod(dims) * np.dtype(dtype).itemsize


def _bounded_globals(budget: _Budget) -> dict[tuple[str, str], Callable[..., Any]]:
    """`ALLOWED_GLOBALS` with every constructor that allocates from an argument bounded."""

    def ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
        budget.take(_shape_bytes(shape, dtype), "an array")
        return np.ndarray(shape, dtype, *args, **kwargs)

    def reconstruct(cls: Any, shape: Any, dtype: Any) -> Any:
        if cls is not ndarray:  # pickles name `numpy.ndarray`, which resolves to the wrapper
            raise pickle.UnpicklingError("only plain numpy arrays may be rebuilt")
        budget.take(_shape_bytes(shape, dtype), "an array")
        return _reconstruct(np.ndarray, shape, dtype)

    def byte_array(source: Any = b"", *args: Any) -> bytearray:
        if isinstance(source, int):
            budget.take(source, "a bytearray")
        return bytearray(source, *args)

    table = dict(ALLOWED_GLOBALS)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
    table[("numpy", "ndarray")] = ndarray
    for mod in ("builtins", "__builtin__"):
        table[(mod, "bytearray")] = byte_array
    return table


#: (module, name) -> object handed to the unpickler. Nothing outside this table is importable.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    **{(mod, "_reconstruct"): _reconstruct
       for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "scalar"): _scalar for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "_frombuffer"): _frombuffer for mod in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    **{(mod, name): obj
       for mod in ("builtins", "__builtin__")
       for name, obj in (("set", set), ("frozenset", frozenset), ("complex", complex),
                         ("bytearray", bytearray), ("list", list), ("dict", dict),
                         ("tuple", tuple))},
    ("collections", "OrderedDict"): dict,
}

MAX_PLAIN_ITEMS = 2_000_000  # objects (counting repeats) a pickled entry may hold
_PLAIN_SCALARS = (str, bytes, bytearray, int, float, complex, bool, type(None))


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in `ALLOWED_GLOBALS`.

    `file` and `key` are only used to name the entry in error messages.
    """

    def __init__(self, stream: io.BufferedIOBase, *, file: str, key: str,
                 max_bytes: int = DEFAULT_LIMITS.max_member_bytes):
        super().__init__(stream, encoding="latin1")
        self.file = file
        self.key = key
        self._globals = _bounded_globals(_Budget(max_bytes, file, key))

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"pickled entry refers to '{module}.{name}', which is not plain data; refused",
                file=self.file, key=self.key,
                fix="re-save the file without pickles (one array per key)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("pickled entry uses a persistent id; refused",
                                file=self.file, key=self.key)


def check_plain(obj: Any, *, file: str, key: str, max_depth: int = DEFAULT_LIMITS.max_depth,
                max_bytes: int = DEFAULT_LIMITS.max_member_bytes) -> None:
    """Raise `UnsafePickleError` unless `obj` is plain data, nested at most `max_depth` deep and,
    counting every reference (one object referenced a million times counts a million times, as
    converting it to an array would), at most `max_bytes` of array data.

    Plain: dict / list / tuple / set / frozenset of plain data, str / bytes / int / float /
    complex / bool / None, numpy scalars, numpy arrays of non-object dtype, object arrays of plain data.
    Walks iteratively (no recursion limit is hit; self-references are refused as too deep).
    """
    stack: list[tuple[Any, int]] = [(obj, 0)]
    total = visits = 0
    while stack:
        item, depth = stack.pop()
        visits += 1
        if visits > MAX_PLAIN_ITEMS:
            raise UnsafePickleError(f"pickled entry holds more than {MAX_PLAIN_ITEMS} items",
                                    file=file, key=key)
        if depth > max_depth:
            raise UnsafePickleError(f"pickled entry is nested more than {max_depth} levels deep",
                                    file=file, key=key)
        if isinstance(item, (bytes, bytearray)):
            total += len(item)
        if isinstance(item, np.ndarray):
            total += item.nbytes
        if total > max_bytes:
            raise UnsafePickleError(f"pickled entry expands to more than {max_bytes} bytes",
                                    file=file, key=key)
        if isinstance(item, _PLAIN_SCALARS):
            continue
        if isinstance(item, np.ndarray) and type(item) is np.ndarray:
            if item.dtype == object:
                stack.extend((x, depth + 1) for x in item.ravel(order="K").tolist())
            elif item.dtype.hasobject:
                raise UnsafePickleError(
                    f"structured array with object fields ({item.dtype}) is not supported",
                    file=file, key=key)
            continue
        if isinstance(item, np.generic) and not isinstance(item, np.object_):
            continue
        if type(item) in (dict,):
            stack.extend((x, depth + 1) for x in item.keys())
            stack.extend((x, depth + 1) for x in item.values())
        elif type(item) in (list, tuple, set, frozenset):
            stack.extend((x, depth + 1) for x in item)
        else:
            raise UnsafePickleError(f"unpickled a {type(item).__name__}, which is not plain data",
                                    file=file, key=key)


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


def _read_object_array(stream: Any, shape: tuple[int, ...], *, file: str, key: str,
                       limits: DecodeLimits) -> np.ndarray:
    """Unpickle an object-dtype `.npy` payload with the restricted, bounded unpickler."""
    array = RestrictedUnpickler(stream, file=file, key=key,
                                max_bytes=limits.max_member_bytes).load()
    if type(array) is not np.ndarray:
        raise UnsafePickleError(f"payload is a {type(array).__name__}, expected an array",
                                file=file, key=key)
    if array.shape != tuple(shape):
        raise InputFileError(f"pickled array has shape {array.shape}, header says {shape}",
                             file=file, key=key)
    check_plain(array, file=file, key=key, max_depth=limits.max_depth,
                max_bytes=limits.max_member_bytes)
    return array


_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, TypeError,
                pickle.UnpicklingError, IndexError, KeyError, AttributeError, SyntaxError,
                UnicodeError, OverflowError, RecursionError, MemoryError, NotImplementedError,
                RuntimeError)  # RuntimeError: an encrypted member

_LIMIT_FIX = "if the file is genuine, raise input.limits.{} (see README, Reliability)"


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
                 limits: DecodeLimits) -> np.ndarray:
    """Read one `.npy` member; object arrays go through the restricted unpickler. The header's
    shape must fit the member's declared size before any array is allocated."""
    key = info.filename[: -len(".npy")]
    try:
        with zf.open(info) as stream:
            shape, fortran, dtype = _read_header(stream)
            if dtype.hasobject:
                return _read_object_array(stream, shape, file=str(path), key=key, limits=limits)
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
        for info in members:
            check_declared_size(info, path, limits, read, max(video) if video else None)
            read += info.file_size
        for info in members:
            key = info.filename[:-4]
            if key in out:
                raise _bad(path, "the archive holds this member twice", key=key)
            out[key] = _unwrap(_read_member(zf, info, path, limits))
    return out
