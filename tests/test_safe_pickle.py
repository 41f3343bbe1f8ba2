"""Restricted NPZ reading: plain data loads, anything executable is refused."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib import format as npy_format

from permask.errors import InputFileError, UnsafePickleError
from permask.inputs.npz import load_npz_safely, npz_keys
from permask.inputs.safe_pickle import check_plain


class _Reduce:
    """Pickles as `func(*args)`: what a malicious file would contain."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _write_npz_members(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def _object_npy(pickle_bytes: bytes, shape: tuple[int, ...] = ()) -> bytes:
    """A `.npy` member of object dtype whose payload is the given pickle stream."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": shape})
    return buf.getvalue() + pickle_bytes


def _numpy1_pickle(obj, protocol: int) -> bytes:
    """Pickle as numpy 1.x did: globals named `numpy.core.multiarray` instead of `numpy._core`."""
    data = pickle.dumps(obj, protocol=protocol)
    assert b"numpy._core.multiarray" in data  # GLOBAL opcode: newline-terminated, no length
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def _assert_same(a, b):
    """Deep equality for nested plain data with numpy arrays."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            for x, y in zip(a.ravel(), b.ravel()):
                _assert_same(x, y)
        else:
            np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert type(a) is type(b) and a == b


# --------------------------------------------------------------------------- canary / refusals


def test_canary_os_system_is_refused(tmp_path):
    canary = tmp_path / "CANARY"
    path = tmp_path / "evil.npz"
    evil = np.empty((), dtype=object)
    evil[()] = _Reduce(os.system, f"touch {canary}")
    np.savez(path, sam2_masks=evil, rgbs=np.zeros(3))
    with pytest.raises(UnsafePickleError) as info:
        load_npz_safely(path)
    msg = str(info.value)
    assert str(path) in msg and "sam2_masks" in msg and ".system'" in msg
    assert "\n" not in msg
    assert not canary.exists()


def test_canary_is_live_with_plain_numpy(tmp_path):
    """The same file DOES run its payload under np.load(allow_pickle=True): the test is real."""
    canary = tmp_path / "CANARY"
    path = tmp_path / "evil.npz"
    evil = np.empty((), dtype=object)
    evil[()] = _Reduce(os.system, f"touch {canary}")
    np.savez(path, x=evil)
    np.load(path, allow_pickle=True)["x"]
    assert canary.exists()


@pytest.mark.parametrize("func,args,name", [
    (builtins.eval, ("1+1",), "builtins.eval"),
    (builtins.getattr, (1, "real"), "builtins.getattr"),
    (builtins.__import__, ("os",), "builtins.__import__"),
    (np.load, ("x.npy",), "numpy.load"),
    (np.frombuffer, (b"abcd",), "frombuffer"),
])
def test_refused_globals_are_named(tmp_path, func, args, name):
    path = tmp_path / "bad.npz"
    bad = np.empty((), dtype=object)
    bad[()] = {"instance_0": _Reduce(func, *args)}
    np.savez(path, masks=bad)
    with pytest.raises(UnsafePickleError, match=name.replace(".", r"\.")) as info:
        load_npz_safely(path)
    assert str(path) in str(info.value) and "'masks'" in str(info.value)


def test_refused_in_hand_written_protocol0_pickle(tmp_path):
    payload = b"csubprocess\nPopen\n(S'true'\ntR."
    path = _write_npz_members(tmp_path / "p0.npz", {"k.npy": _object_npy(payload)})
    with pytest.raises(UnsafePickleError, match=r"subprocess\.Popen"):
        load_npz_safely(path)


def test_non_plain_result_is_refused(tmp_path):
    """Allowed globals can still build non-data objects (a dtype); the result check refuses it."""
    path = tmp_path / "dtype.npz"
    box = np.empty((), dtype=object)
    box[()] = {"d": np.dtype("f4")}
    np.savez(path, x=box)
    with pytest.raises(UnsafePickleError, match="dtype"):
        load_npz_safely(path)


def test_check_plain_accepts_nested_data_and_refuses_cycles_and_depth():
    lst: list = [1, "a", None, np.float32(2), [[["deep"]]]]
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = {"x": np.arange(3)}, (1.5, {2, 3})
    check_plain({"l": lst, "o": obj}, file="f", key="k")
    with pytest.raises(UnsafePickleError):
        check_plain({"f": len}, file="f", key="k")
    lst.append(lst)  # a cycle never ends: refused as too deep, not a RecursionError later
    with pytest.raises(UnsafePickleError, match="nested more than"):
        check_plain(lst, file="f", key="k")
    with pytest.raises(UnsafePickleError, match="nested more than 3"):
        check_plain([[[[[1]]]]], file="f", key="k", max_depth=3)


# --------------------------------------------------------------------------- accepted forms


def test_numpy2_written_file_loads(tmp_path):
    path = tmp_path / "old.npz"
    masks = {"instance_0": np.ones((1, 2, 3, 4), bool),
             "instance_10": np.zeros((1, 2, 3, 4), np.uint8)}
    cams = np.array(["a", "b"], dtype=object)
    contact = {"instance_0": {"a": np.int64(3), "b": 1}}
    np.savez(path, sam2_masks=masks, camera_ids=cams, sam2_contact_frames=contact,
             rgbs=np.zeros((1, 2, 3, 4, 3), np.uint8), names=np.array(["x", "yy"]))
    out = load_npz_safely(path)
    assert list(out) == ["sam2_masks", "camera_ids", "sam2_contact_frames", "rgbs", "names"]
    _assert_same(out["sam2_masks"], masks)
    _assert_same(out["sam2_contact_frames"], contact)
    assert out["camera_ids"].dtype == object and out["camera_ids"].tolist() == ["a", "b"]
    assert out["names"].dtype.kind == "U" and out["rgbs"].dtype == np.uint8


@pytest.mark.parametrize("protocol", [2, 3])
def test_numpy1_style_pickle_loads(tmp_path, protocol):
    """`numpy.core.multiarray._reconstruct` / `scalar` (numpy 1.x) are accepted; protocol 2 also
    rebuilds bytes through `_codecs.encode`."""
    value = {"instance_0": np.arange(6, dtype=np.int16).reshape(2, 3), "n": np.int64(7),
             "nested": np.array([np.arange(2), "s"], dtype=object), "b": b"\x00\xffraw"}
    box = np.empty((), dtype=object)
    box[()] = value
    data = _numpy1_pickle(box, protocol)
    assert b"numpy.core.multiarray\n_reconstruct" in data
    path = _write_npz_members(tmp_path / "np1.npz", {"sam2_masks.npy": _object_npy(data)})
    _assert_same(load_npz_safely(path)["sam2_masks"], value)


def test_protocol5_frombuffer_pickle_loads(tmp_path):
    """Protocol-5 pickles rebuild arrays through `numpy._core.numeric._frombuffer`."""
    value = {"m": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": ["a", "b"]}
    box = np.empty((), dtype=object)
    box[()] = value
    data = pickle.dumps(box, protocol=5)
    assert b"_frombuffer" in data
    path = _write_npz_members(tmp_path / "p5.npz", {"x.npy": _object_npy(data)})
    _assert_same(load_npz_safely(path)["x"], value)


def test_codecs_encode_only_latin1(tmp_path):
    payload = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    path = _write_npz_members(tmp_path / "codec.npz", {"k.npy": _object_npy(payload)})
    with pytest.raises(InputFileError, match="latin1"):
        load_npz_safely(path)


def test_keys_filter_and_npz_keys(tmp_path):
    path = tmp_path / "k.npz"
    np.savez(path, a=np.arange(3), b=np.ones(2), **{"m/instance_1": np.zeros(1)})
    assert npz_keys(path) == ["a", "b", "m/instance_1"]
    assert list(load_npz_safely(path, keys=["b", "zzz"])) == ["b"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(
        hnp.arrays(st.sampled_from([np.float32, np.int64, np.uint8, np.bool_]),
                   hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
        st.integers(-2**62, 2**62),
        st.floats(allow_nan=False),
        st.lists(st.one_of(st.integers(-100, 100), st.text(max_size=5)), max_size=5),
        st.dictionaries(st.text(max_size=4), st.integers(0, 9), max_size=3),
        st.none(),
    ),
    max_size=6))
def test_plain_data_round_trips(value):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rt.npz"
        box = np.empty((), dtype=object)
        box[()] = value
        np.savez(path, data=box)
        _assert_same(load_npz_safely(path)["data"], value)


# --------------------------------------------------------------------------- broken files


def _one_line_input_error(path, match):
    with pytest.raises(InputFileError, match=match) as info:
        load_npz_safely(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    _one_line_input_error(tmp_path / "nope.npz", "not found")


def test_directory(tmp_path):
    _one_line_input_error(tmp_path, "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _one_line_input_error(path, "empty")


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello, not a zip\n")
    _one_line_input_error(path, "not an NPZ")


def test_truncated_zip(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, a=np.arange(10000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _one_line_input_error(path, "not an NPZ")


def test_truncated_member(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.arange(100, dtype=np.int64))
    path = _write_npz_members(tmp_path / "short.npz", {"a.npy": buf.getvalue()[:-80]})
    _one_line_input_error(path, "cannot read member 'a.npy'")


def test_garbage_member(tmp_path):
    path = _write_npz_members(tmp_path / "junk.npz", {"a.npy": b"this is no npy header"})
    _one_line_input_error(path, "cannot read member 'a.npy'")


def test_corrupt_pickle(tmp_path):
    path = _write_npz_members(tmp_path / "pk.npz", {"a.npy": _object_npy(b"\x80\x04garbage")})
    _one_line_input_error(path, "cannot read member")
