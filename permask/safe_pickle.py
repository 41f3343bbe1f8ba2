"""Read NPZ files without executing arbitrary pickles.

Old recordings keep masks, camera ids and contact frames as pickled Python objects inside the NPZ
(0-d or 1-d object arrays). `numpy.load(allow_pickle=True)` would run whatever those pickles name.
Here every `.npy` member is read by hand:

- non-object dtypes: `numpy.lib.format.read_array(..., allow_pickle=False)`;
- object dtypes: a `pickle.Unpickler` whose `find_class` admits only numpy array / dtype / scalar
  reconstruction (numpy 1.x `numpy.core.*` and numpy 2.x `numpy._core.*` names) and the builtins
  that plain containers need. Anything else raises `UnsafePickleError` naming the refused global.

After unpickling, the result is checked to be plain data (see `check_plain`).
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from pathlib import Path
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

_PLAIN_SCALARS = (str, bytes, bytearray, int, float, complex, bool, type(None))


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in `ALLOWED_GLOBALS`.

    `file` and `key` are only used to name the entry in error messages.
    """

    def __init__(self, stream: io.BufferedIOBase, *, file: str, key: str):
        super().__init__(stream, encoding="latin1")
        self.file = file
        self.key = key

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"pickled entry refers to '{module}.{name}', which is not plain data; refused",
                file=self.file, key=self.key,
                fix="re-save the file without pickles (one array per key)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("pickled entry uses a persistent id; refused",
                                file=self.file, key=self.key)


def check_plain(obj: Any, *, file: str, key: str) -> None:
    """Raise `UnsafePickleError` unless `obj` is plain data.

    Plain: dict / list / tuple / set / frozenset of plain data, str / bytes / int / float /
    complex / bool / None, numpy scalars, numpy arrays of non-object dtype, object arrays of plain data.
    Walks iteratively (deep or self-referencing containers are fine).
    """
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN_SCALARS):
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray) and type(item) is np.ndarray:
            if item.dtype == object:
                stack.extend(item.ravel(order="K").tolist())
            elif item.dtype.hasobject:
                raise UnsafePickleError(
                    f"structured array with object fields ({item.dtype}) is not supported",
                    file=file, key=key)
            continue
        if isinstance(item, np.generic) and not isinstance(item, np.object_):
            continue
        if type(item) in (dict,):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) in (list, tuple, set, frozenset):
            stack.extend(item)
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


def _read_object_array(stream: Any, shape: tuple[int, ...], *, file: str, key: str) -> np.ndarray:
    """Unpickle an object-dtype `.npy` payload with the restricted unpickler."""
    array = RestrictedUnpickler(stream, file=file, key=key).load()
    if type(array) is not np.ndarray:
        raise UnsafePickleError(f"payload is a {type(array).__name__}, expected an array",
                                file=file, key=key)
    if array.shape != tuple(shape):
        raise InputFileError(f"pickled array has shape {array.shape}, header says {shape}",
                             file=file, key=key)
    check_plain(array, file=file, key=key)
    return array


_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, TypeError,
                pickle.UnpicklingError, IndexError, KeyError, AttributeError, SyntaxError,
                UnicodeError, OverflowError, RecursionError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """Read one `.npy` member; object arrays go through the restricted unpickler."""
    key = info.filename[: -len(".npy")]
    try:
        with zf.open(info) as stream:
            shape, _, dtype = _read_header(stream)
            if dtype.hasobject:
                return _read_object_array(stream, shape, file=str(path), key=key)
            stream.seek(0)
            return npy_format.read_array(stream, allow_pickle=False)
    except (UnsafePickleError, InputFileError):
        raise
    except _READ_ERRORS as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _bad(path, f"cannot read member '{info.filename}': {msg}", key=key,
                   fix="the file may be truncated or corrupt; re-create it") from err


def npz_keys(path: str | Path) -> list[str]:
    """Keys (member names without `.npy`) of an NPZ file, without reading any array."""
    path = Path(path)
    with _open_zip(path) as zf:
        return [i.filename[:-4] for i in zf.infolist() if i.filename.endswith(".npy")]


def _open_zip(path: Path) -> zipfile.ZipFile:
    _check_path(path)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise _bad(path, f"not an NPZ (zip) file or truncated: {err}",
                   fix="check the path; re-create the file if it was cut short") from err
    except OSError as err:
        raise _bad(path, f"cannot open: {err.strerror or err}") from err


def _unwrap(array: np.ndarray) -> Any:
    """0-d object arrays (how numpy stores a pickled dict / list) -> the Python object."""
    if array.ndim == 0 and array.dtype == object:
        return array.item()
    return array


def load_npz_safely(path: str | Path, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Load an NPZ file without executing arbitrary pickles.

    path: the `.npz` file. keys: if given, read only these members (absent ones are skipped).
    Returns key -> value: numpy arrays, or the Python object for a 0-d object array (e.g. the
    `dict[instance_id -> array]` of old mask files). Members not ending in `.npy` are ignored.
    Raises `InputFileError` (missing / directory / empty / not a zip / truncated / bad member) and
    `UnsafePickleError` (a pickle naming anything but plain data).
    """
    path = Path(path)
    wanted = None if keys is None else set(keys)
    out: dict[str, Any] = {}
    with _open_zip(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[:-4]
            if wanted is not None and key not in wanted:
                continue
            out[key] = _unwrap(_read_member(zf, info, path))
    return out
