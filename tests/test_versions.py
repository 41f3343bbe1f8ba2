"""Versioned outputs: writers stamp format and permask version, readers refuse a newer format
with one line and still read files written before versions existed."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

import permask
from permask.errors import FormatVersionError, PermaskError
from permask.files.tracked import read_tracked, write_tracked
from permask.versions import COMPARISON_FORMAT, METRICS_FORMAT, TRACKED_FORMAT, check_readable
from tests.helpers.overrides import quick
from tests.helpers.runs import run_on


def _arrays(T=4, N=3):
    rng = np.random.default_rng(0)
    return {"tracks_3d": rng.normal(size=(T, N, 3)).astype(np.float32),
            "visibility": np.ones((T, N), bool),
            "query_points": np.zeros((N, 4), np.float32), "query_view": np.zeros(N, np.int64),
            "query_pixel": np.zeros((N, 2), np.float32), "instance_id": np.array("obj")}


def test_tracked_file_carries_both_versions_and_reads_back(tmp_path):
    path = write_tracked(tmp_path / "a_tracked.npz", _arrays(), "f" * 64)
    with np.load(path) as data:
        assert int(data["format_version"]) == TRACKED_FORMAT
        assert str(data["permask_version"]) == permask.__version__
    back = read_tracked(path)
    assert back.fingerprint == "f" * 64 and back.result.tracks.shape == (4, 3, 3)


def test_a_newer_tracked_format_is_one_line_naming_file_and_key(tmp_path):
    path = tmp_path / "new_tracked.npz"
    np.savez(path, **_arrays(), format_version=np.array(TRACKED_FORMAT + 1))
    with pytest.raises(FormatVersionError) as caught:
        read_tracked(path)
    line = str(caught.value)
    assert "\n" not in line and str(path) in line and "key 'format_version'" in line
    assert isinstance(caught.value, PermaskError) and "newer permask" in line


def test_files_without_a_version_read_as_format_0(tmp_path):
    path = tmp_path / "old_tracked.npz"
    np.savez(path, **_arrays())  # no format_version: format 0
    np.testing.assert_array_equal(read_tracked(path).result.tracks, _arrays()["tracks_3d"])
    assert check_readable(path, None, TRACKED_FORMAT) == 0


def test_a_garbled_version_is_refused(tmp_path):
    with pytest.raises(FormatVersionError, match="not a number"):
        check_readable(tmp_path / "x.json", "two", METRICS_FORMAT)


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """A run of one instance of the small demo, 4 frames (the demo lands in the session's cache,
    $PERMASK_CACHE_DIR of tests/conftest.py)."""
    out = tmp_path_factory.mktemp("versions") / "run"
    run_on(None, out, *quick(max_points=5, num_frames=4), "instances=[instance_0]")
    return out


def test_a_run_stamps_metrics_json(one_run):
    metrics = json.loads((one_run / "metrics.json").read_text())
    assert metrics["format_version"] == METRICS_FORMAT
    assert metrics["permask_version"] == permask.__version__


def test_comparison_stamps_and_a_newer_run_is_refused(one_run, tmp_path):
    from permask.compare.__main__ import main as compare_main
    run = tmp_path / "run"
    shutil.copytree(one_run, run)
    assert compare_main([str(run), "-o", str(tmp_path / "cmp"), "--no-plots",
                         "--no-recording"]) in (0, None)
    rows = list(csv.DictReader((tmp_path / "cmp" / "comparison.csv").open()))
    assert rows and {r["format_version"] for r in rows} == {str(COMPARISON_FORMAT)}
    assert {r["permask_version"] for r in rows} == {permask.__version__}
    assert f"comparison format {COMPARISON_FORMAT}" in (tmp_path / "cmp" / "comparison.md").read_text()
    metrics = run / "metrics.json"
    data = json.loads(metrics.read_text())
    data["format_version"] = METRICS_FORMAT + 1
    metrics.write_text(json.dumps(data))
    assert compare_main([str(run), "-o", str(tmp_path / "cmp2")]) == 2
