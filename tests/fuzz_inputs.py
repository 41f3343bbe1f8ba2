"""Valid recordings of every input form, and the mutations a fuzzer applies to them (tests only).

Seeds (`seed_members`): one tiny recording (2 views, 5 frames, 32x40, 2 instances) stored as
- `pickled_dict`: masks, camera ids and contact frames as pickles (the pickled form);
- `per_instance`: one `sam2_masks/<instance>` member per instance, no pickle;
- `label_map`: one integer map `sam2_masks` (k > 0 is instance k);
- `numpy1`: the pickled form as numpy 1.x wrote it (`numpy.core.*` globals, protocol 2);
- `monocular`: one view, per-instance members.
Each seed is a dict member name -> `.npy` bytes, zipped stored or deflated (`zip_members`).

Mutations (`member_mutations`, `archive_mutations`) are Hypothesis strategies of functions:
drop or swap members, change a header's dtype, shape or version, rewrite pickle opcodes, and on
the archive truncate, flip bytes, or change the sizes a zip header declares.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import pickle
import pickletools
import struct
import zipfile
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from numpy.lib import format as npy_format

from permask.demo.params import DemoParams
from permask.demo.scene import make_demo_scene

FORMS = ("pickled_dict", "per_instance", "label_map", "numpy1", "monocular")
MASK_KEY = "sam2_masks"


def npy_bytes(array: np.ndarray, protocol: int = 3) -> bytes:
    """A `.npy` as numpy writes it; object arrays pickled with `protocol`."""
    array = np.asanyarray(array)
    buf = io.BytesIO()
    if not array.dtype.hasobject:
        npy_format.write_array(buf, array, allow_pickle=False)
        return buf.getvalue()
    npy_format.write_array_header_1_0(buf, npy_format.header_data_from_array_1_0(array))
    return buf.getvalue() + pickle.dumps(array, protocol=protocol)


def _object(value) -> np.ndarray:
    holder = np.empty((), dtype=object)
    holder[()] = value
    return holder


@functools.lru_cache(maxsize=None)
def seed_members(form: str) -> tuple[tuple[str, bytes], ...]:
    """The `.npy` members (name, bytes) of the seed recording in `form`."""
    scene = make_demo_scene(DemoParams(num_views=2, num_frames=5, height=32, width=40,
                                       num_objects=2))
    masks = dict(scene[MASK_KEY].item())
    contact = dict(scene[f"{MASK_KEY[:-6]}_contact_frames"].item())
    plain = {k: v for k, v in scene.items() if k not in (MASK_KEY, "sam2_contact_frames",
                                                         "camera_ids")}
    camera_ids = [str(c) for c in scene["camera_ids"]]
    members: dict[str, np.ndarray] = dict(plain)
    if form in ("pickled_dict", "numpy1"):
        members["camera_ids"] = np.array(camera_ids, dtype=object)
        members[MASK_KEY] = _object(masks)
        members["sam2_contact_frames"] = _object(contact)
    elif form == "label_map":
        members["camera_ids"] = np.array(camera_ids)
        labels = np.zeros(next(iter(masks.values())).shape, np.uint8)
        for k, m in enumerate(masks.values(), start=1):
            labels[np.asarray(m, bool)] = k
        members[MASK_KEY] = labels
    else:
        members["camera_ids"] = np.array(camera_ids)
        members.update({f"{MASK_KEY}/{k}": np.asarray(v) for k, v in masks.items()})
    if form == "monocular":
        members = {k: (v[:1] if k in ("rgbs", "depths", "intrs", "extrs", "camera_ids")
                       or k.startswith(f"{MASK_KEY}/") else v) for k, v in members.items()}
    protocol = 2 if form == "numpy1" else 3
    out = []
    for name, value in members.items():
        data = npy_bytes(value, protocol)
        if form == "numpy1":  # numpy 1.x's module names in every pickle
            data = data.replace(b"numpy._core.", b"numpy.core.")
        out.append((name + ".npy", data))
    return tuple(out)


def zip_members(members: list[tuple[str, bytes]], deflated: bool) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------ the .npy header


def split_npy(data: bytes) -> tuple[dict, bytes] | None:
    """(header dict, payload) of a `.npy`, None if it does not parse."""
    try:
        stream = io.BytesIO(data)
        version = npy_format.read_magic(stream)
        length_size = 2 if version == (1, 0) else 4
        (length,) = struct.unpack("<H" if length_size == 2 else "<I",
                                  stream.read(length_size))
        header = ast.literal_eval(stream.read(length).decode("latin1"))
        return header, data[6 + 2 + length_size + length:]
    except Exception:  # noqa: BLE001 - a mutated member: no header to edit
        return None


def join_npy(header: dict, payload: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A `.npy` with `header` written as given (any descr, any shape, unpadded)."""
    text = repr(header).encode("latin1") + b"\n"
    size = struct.pack("<H" if version == (1, 0) else "<I", len(text))
    return npy_format.MAGIC_PREFIX + bytes(version) + size + text + payload


DTYPES = ["|u1", "|b1", "<i2", "<i4", "<i8", ">i4", "<f2", "<f4", ">f4", "<f8", "<c8", "|O",
          "<U4", "|S3", "|V3", "<M8[s]", [("a", "<f4"), ("b", "|O")], "not a dtype"]
DIMS = st.one_of(st.integers(0, 8), st.integers(9, 64), st.sampled_from([2**31, 2**40, 2**62]))
SHAPES = st.one_of(st.lists(DIMS, max_size=6).map(tuple),
                   st.sampled_from(["(2,", "(-1, 3)", "None", "(1.5,)"]))

_OPCODES = [op.code.encode("latin1") for op in pickletools.opcodes]


# ------------------------------------------------------------------ mutations


@st.composite
def member_mutation(draw):
    """A function list-of-(name, bytes) -> list-of-(name, bytes)."""
    kind = draw(st.sampled_from(["drop", "swap", "duplicate", "dtype", "shape", "version",
                                 "fortran", "opcode", "payload_truncate", "payload_flip"]))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(SHAPES)
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0), (9, 9)]))
    opcode = draw(st.sampled_from(_OPCODES))

    def mutate(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        if not members:
            return members
        rng = np.random.default_rng(seed)
        i = int(rng.integers(len(members)))
        name, data = members[i]
        out = list(members)
        if kind == "drop":
            del out[i]
        elif kind == "swap":
            j = int(rng.integers(len(members)))
            out[i], out[j] = (name, members[j][1]), (members[j][0], data)
        elif kind == "duplicate":
            out.append((name, data))
        elif kind in ("opcode", "payload_truncate", "payload_flip"):
            # prefer a member holding a pickle, where opcodes are
            pickled = [k for k, (_, d) in enumerate(members) if b"'|O'" in d[:200]]
            if pickled:
                i = pickled[int(rng.integers(len(pickled)))]
                name, data = members[i]
            parts = split_npy(data)
            header, payload = parts if parts else ({}, data)
            if not payload:
                return out
            at = int(rng.integers(len(payload)))
            if kind == "opcode":
                payload = payload[:at] + opcode + payload[at + 1:]
            elif kind == "payload_truncate":
                payload = payload[:at]
            else:
                payload = payload[:at] + bytes([payload[at] ^ int(rng.integers(1, 256))]) \
                    + payload[at + 1:]
            out[i] = (name, data[: len(data) - len(parts[1])] + payload if parts else payload)
        else:
            parts = split_npy(data)
            if parts is None:
                return out
            header, payload = parts
            header = dict(header)
            if kind == "dtype":
                header["descr"] = dtype
            elif kind == "shape":
                header["shape"] = shape
            elif kind == "fortran":
                header["fortran_order"] = not header.get("fortran_order", False)
            out[i] = (name, join_npy(header, payload, version if kind == "version" else (1, 0)))
        return out

    return mutate


@st.composite
def archive_mutation(draw):
    """A function zip bytes -> bytes."""
    kind = draw(st.sampled_from(["truncate", "flip", "sizes", "method", "entry_count"]))
    fraction = draw(st.floats(0, 1, exclude_max=True))
    count = draw(st.integers(1, 8))
    xor = draw(st.integers(1, 255))
    size = draw(st.one_of(st.integers(0, 2**16), st.sampled_from([2**31 - 1, 2**32 - 1])))
    method = draw(st.sampled_from([0, 8, 12, 14, 99]))
    which = draw(st.integers(0, 64))

    def mutate(data: bytes) -> bytes:
        data = bytearray(data)
        if not data:
            return bytes(data)
        if kind == "truncate":
            return bytes(data[: int(fraction * len(data))])
        if kind == "flip":
            rng = np.random.default_rng(int(fraction * 2**32))
            for at in rng.integers(0, len(data), count):
                data[at] ^= xor
            return bytes(data)
        # the sizes / method fields of one local or central header
        headers = [i for sig in (b"PK\x03\x04", b"PK\x01\x02") for i in _find_all(data, sig)]
        if not headers:
            return bytes(data)
        at = headers[which % len(headers)]
        central = data[at:at + 4] == b"PK\x01\x02"
        if kind == "sizes":  # compressed size, uncompressed size
            field = at + (20 if central else 18) + 4 * (count % 2)
            data[field:field + 4] = struct.pack("<I", size)
        elif kind == "method":
            field = at + (10 if central else 8)
            data[field:field + 2] = struct.pack("<H", method)
        else:  # the end record's entry counts
            end = data.rfind(b"PK\x05\x06")
            if end >= 0:
                data[end + 8:end + 12] = struct.pack("<HH", size % 2**16, size % 2**16)
        return bytes(data)

    return mutate


def _find_all(data: bytearray, sig: bytes) -> list[int]:
    found, start = [], 0
    while (i := data.find(sig, start)) >= 0:
        found.append(i)
        start = i + 1
    return found


@dataclass(frozen=True, repr=False)
class Mutated:
    """A mutated recording: its seed's form and its bytes (shown short in failure reports)."""

    form: str
    data: bytes

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        return f"Mutated({self.form!r}, {len(self.data)} bytes, sha256 {digest}...)"


@st.composite
def mutated_file(draw, forms: tuple[str, ...] = FORMS):
    """A `Mutated` seed of one of `forms`: 1-5 mutations of members and of the archive."""
    form = draw(st.sampled_from(forms))
    deflated = draw(st.booleans())
    member_ops = draw(st.lists(member_mutation(), max_size=3))
    archive_ops = draw(st.lists(archive_mutation(), max_size=2,
                                min_size=0 if member_ops else 1))
    members = list(seed_members(form))
    for op in member_ops:
        members = op(members)
    data = zip_members(members, deflated)
    for op in archive_ops:
        data = op(data)
    return Mutated(form, data)
