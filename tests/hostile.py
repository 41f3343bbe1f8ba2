"""Builders of hostile inputs for the trust tests: crafted NPZ members, pickles and bombs.

Every builder writes a real file the way an attacker (or a broken tool) could, without going
through numpy's writer where numpy would refuse or sanitise.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

PLACEHOLDER = "@@PLACEHOLDER@@"


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def write_npz(path: Path, members: dict[str, bytes | np.ndarray]) -> Path:
    """A zip of `.npy` members; arrays are serialised with numpy, bytes stored as given."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in members.items():
            data = value if isinstance(value, bytes) else npy_bytes(value)
            zf.writestr(key + ".npy", data)
    return path


def object_array_with_raw_item(raw_ops: bytes) -> bytes:
    """`.npy` bytes of a 0-d object array whose item is built by the raw pickle opcodes
    `raw_ops` (e.g. a 100000-deep list, or a call of an allowed constructor)."""
    holder = np.empty((), dtype=object)
    holder[()] = PLACEHOLDER
    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                               "shape": ()})
    data = header.getvalue() + pickle.dumps(holder, protocol=2)  # no frames to keep in step
    encoded = PLACEHOLDER.encode()
    marker = b"X" + struct.pack("<I", len(encoded)) + encoded  # BINUNICODE
    assert data.count(marker) == 1, "numpy's pickle layout changed"
    return data.replace(marker, raw_ops)


def deep_list_ops(depth: int) -> bytes:
    """Pickle opcodes building a list nested `depth` levels deep (no recursion to write)."""
    return b"]" * depth + b"a" * (depth - 1)


def long_op(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def reconstruct_ops(nbytes: int) -> bytes:
    """Pickle opcodes calling numpy's `_reconstruct(ndarray, (nbytes,), b'b')`."""
    return (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(" + long_op(nbytes)
            + b"tC\x01btR")


def call_ops(module: str, name: str, *int_args: int | tuple[int, ...]) -> bytes:
    """Pickle opcodes calling module.name(*int_args) (ints or tuples of ints)."""
    long = long_op
    parts = []
    for arg in int_args:
        if isinstance(arg, tuple):
            parts.append(b"(" + b"".join(long(v) for v in arg) + b"t")  # MARK ... TUPLE
        else:
            parts.append(long(arg))
    return (f"c{module}\n{name}\n".encode() + b"(" + b"".join(parts) + b"t" + b"R")


def huge_header_member(shape: tuple[int, ...], dtype: str = "<u1") -> bytes:
    """A `.npy` whose header declares `shape` but which holds only a few bytes."""
    buf = io.BytesIO()
    npy_format.write_array_header_2_0(buf, {"descr": dtype, "fortran_order": False,
                                            "shape": shape})
    return buf.getvalue() + b"\0" * 16


def write_zero_bomb(path: Path, key: str, nbytes: int, others: dict[str, np.ndarray],
                    shape: tuple[int, ...] | None = None) -> Path:
    """An NPZ holding `others` plus member `key`: a uint8 array of `nbytes` zeros, deflated
    (about 1000x), streamed so building it needs little memory."""
    shape = shape or (nbytes,)
    header = io.BytesIO()
    npy_format.write_array_header_2_0(header, {"descr": "|u1", "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, value in others.items():
            zf.writestr(name + ".npy", npy_bytes(value))
        info = zipfile.ZipInfo(key + ".npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            out.write(header.getvalue())
            chunk = bytes(64 * 2**20)
            left = nbytes
            while left:
                out.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    return path


def pickled_dict_member(mapping: dict) -> np.ndarray:
    holder = np.empty((), dtype=object)
    holder[()] = mapping
    return holder
