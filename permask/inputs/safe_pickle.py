"""Unpickle the object arrays of an NPZ without executing arbitrary pickles.

Old recordings keep masks, camera ids and contact frames as pickled Python objects inside the NPZ
(0-d or 1-d object arrays). `numpy.load(allow_pickle=True)` would run whatever those pickles name.
Here an object `.npy` payload goes through a `pickle.Unpickler` whose `find_class` admits only numpy
array / dtype / scalar reconstruction (numpy 1.x `numpy.core.*` and numpy 2.x `numpy._core.*`
names) and the builtins that plain containers need. Anything else raises `UnsafePickleError`
naming the refused global.

After unpickling, the result is checked to be plain data (see `check_plain`). The unpickler's
constructors charge every allocation to the file's budget (`UnpickleBudget`, sized by
`permask.inputs.limits.unpickle_budget` from the file's own video) and refuse it past that; nesting
deeper than `max_depth` is refused.
"""

from __future__ import annotations

import io
import math
import pickle
from typing import Any, Callable

import numpy as np

from permask.errors import InputFileError, UnsafePickleError
from permask.inputs.limits import DEFAULT_LIMITS, DecodeLimits

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


class UnpickleBudget:
    """Bytes the unpickler may still allocate for one file's pickled entries (all of them
    together; `permask.inputs.limits.unpickle_budget` sets `limit`)."""

    def __init__(self, limit: int, file: str):
        self.limit = self.left = int(limit)
        self.file = file

    def take(self, nbytes: int, what: str, key: str) -> None:
        if nbytes < 0 or nbytes > self.left:
            raise UnsafePickleError(
                f"pickled entry asks for {what} of {nbytes} bytes, more than the {self.left} "
                f"bytes left of the file's budget of {self.limit} (set by its video's size)",
                file=self.file, key=key,
                fix="re-save the file without pickles (one array per key), or if it is "
                    "genuine raise input.limits.max_unpickled_bytes")
        self.left -= nbytes


def _shape_bytes(shape: Any, dtype: Any) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    return math.prod(dims) * np.dtype(dtype).itemsize


def _bounded_globals(budget: UnpickleBudget,
                     key: str) -> dict[tuple[str, str], Callable[..., Any]]:
    """`ALLOWED_GLOBALS` with every constructor that allocates from an argument bounded."""

    def ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
        budget.take(_shape_bytes(shape, dtype), "an array", key)
        return np.ndarray(shape, dtype, *args, **kwargs)

    def reconstruct(cls: Any, shape: Any, dtype: Any) -> Any:
        if cls is not ndarray:  # pickles name `numpy.ndarray`, which resolves to the wrapper
            raise pickle.UnpicklingError("only plain numpy arrays may be rebuilt")
        budget.take(_shape_bytes(shape, dtype), "an array", key)
        return _reconstruct(np.ndarray, shape, dtype)

    def byte_array(source: Any = b"", *args: Any) -> bytearray:
        if isinstance(source, int):
            budget.take(source, "a bytearray", key)
        return bytearray(source, *args)

    table = dict(ALLOWED_GLOBALS)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
    table[("numpy", "ndarray")] = ndarray
    for mod in ("builtins", "__builtin__"):
        table[(mod, "bytearray")] = byte_array
    return table


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

    `file` and `key` name the entry in error messages; every allocation is charged to `budget`
    (shared by the file's entries), or to a budget of its own of `max_bytes`.
    """

    def __init__(self, stream: io.BufferedIOBase, *, file: str, key: str,
                 budget: UnpickleBudget | None = None,
                 max_bytes: int = DEFAULT_LIMITS.max_unpickled_bytes):
        super().__init__(stream, encoding="latin1")
        self.file = file
        self.key = key
        self._globals = _bounded_globals(budget or UnpickleBudget(max_bytes, file), key)

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
                max_bytes: int = DEFAULT_LIMITS.max_unpickled_bytes) -> None:
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


def read_object_array(stream: Any, shape: tuple[int, ...], *, file: str, key: str,
                       limits: DecodeLimits, budget: UnpickleBudget) -> np.ndarray:
    """Unpickle an object-dtype `.npy` payload with the restricted unpickler, charging what it
    allocates to the file's `budget`; the result may reference at most `budget.limit` bytes."""
    array = RestrictedUnpickler(stream, file=file, key=key, budget=budget).load()
    if type(array) is not np.ndarray:
        raise UnsafePickleError(f"payload is a {type(array).__name__}, expected an array",
                                file=file, key=key)
    if array.shape != tuple(shape):
        raise InputFileError(f"pickled array has shape {array.shape}, header says {shape}",
                             file=file, key=key)
    check_plain(array, file=file, key=key, max_depth=limits.max_depth, max_bytes=budget.limit)
    return array
