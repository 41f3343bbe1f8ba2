"""Atomic writes and output-folder checks."""

import numpy as np
import pytest

from permask.errors import OutputError
from permask.files.atomic import atomic_write, save_json, save_npz
from permask.files.writable import ensure_writable_dir


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "a.npz"
    with pytest.raises(ValueError):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_file(tmp_path):
    target = save_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(ValueError):
        with atomic_write(target) as tmp:
            tmp.write_text("{")
            raise ValueError
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()


def test_save_npz_is_pickle_free_and_readable(tmp_path):
    path = save_npz(tmp_path / "x.npz", a=np.arange(3), s=np.array("text"))
    with np.load(path) as f:  # allow_pickle=False by default
        assert f["a"].tolist() == [0, 1, 2] and str(f["s"]) == "text"
    assert (path.stat().st_mode & 0o777) != 0o600


def test_not_enough_space_is_refused(tmp_path):
    with pytest.raises(OutputError, match="MiB free"):
        ensure_writable_dir(tmp_path, min_free_bytes=2**62)
