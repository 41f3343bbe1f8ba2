"""Rerun recordings: ids, entity layout, combined file as a true merge, atomic writes, script."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from permask.record.context import prepare_scene_context
from permask.record.identity import PALETTE, RecordingIds, class_ids, instance_color
from permask.record.paths import (_part, camera_path, cloud_path, image_path, mask_path, query_path,
                                  track_path, trail_path)
from permask.record.readback import read_back, summarize
from permask.record.sink import write_atomic
from permask.record.tracks import _resize_nearest
from permask.record.write import (write_combined_recording, write_instance_recording,
                                  write_view_script)
from permask.errors import OutputError
from permask.data import Queries, TrackResult
from permask.geometry import project
from tests.helpers.scenes import make_record_scene


@pytest.fixture(scope="module")
def tiny():
    scene, per_instance = make_record_scene()
    return scene, per_instance


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_ids_are_deterministic_and_scene_specific(tiny):
    scene, _ = tiny
    a = RecordingIds.for_scene(scene, "demo")
    assert a == RecordingIds.for_scene(scene, "demo")
    assert a.application_id == "permask"
    assert a.recording_id != RecordingIds.for_scene(scene, "other").recording_id


def test_colors_are_stable_and_natural_ordered():
    ids = ["instance_10", "instance_2", "instance_1"]
    assert class_ids(ids) == {"instance_1": 1, "instance_2": 2, "instance_10": 3}
    assert instance_color("instance_2", ids) == PALETTE[1]
    assert instance_color("unknown", ids) == instance_color("unknown", ids)


def test_per_instance_and_combined_files(tiny, tmp_path):
    scene, per_instance = tiny
    ids = RecordingIds.for_scene(scene, "demo")
    context = prepare_scene_context(scene, max_points_per_view=200)
    paths = {}
    for iid, (queries, result) in per_instance.items():
        paths[iid] = write_instance_recording(
            tmp_path / f"demo_lk_{iid}.rrd", scene, queries, result, base="demo", tracker="lk",
            instance_id=iid, ids=ids, context=context)
    combined = write_combined_recording(tmp_path / "demo_lk_combined.rrd", scene,
                                        {"lk": per_instance}, base="demo", ids=ids,
                                        context=context)
    assert _no_temp_files(tmp_path)
    T = scene.num_frames

    summary = summarize(combined)
    assert (summary.application_id, summary.recording_id) == (ids.application_id, ids.recording_id)
    assert summary.has_blueprint
    for iid in per_instance:
        assert summary.rows[track_path("lk", iid)] == T
        assert summary.rows[trail_path("lk", iid)] == T
        assert summary.static[query_path(iid)] == 1
        for cam in scene.camera_ids:
            assert summary.rows[mask_path(cam, iid)] == T
    for cam in scene.camera_ids:  # scene context exactly once
        assert summary.rows[cloud_path(cam)] == T
        assert summary.rows[image_path(cam)] == T
        assert camera_path(cam) in summary.static

    for iid, path in paths.items():
        one = summarize(path)
        assert (one.application_id, one.recording_id) == (ids.application_id, ids.recording_id)
        tracks = {p for p in one.rows if p.startswith("world/tracks/")}
        assert tracks == {track_path("lk", iid), trail_path("lk", iid)}
        assert not [p for p in one.rows if "/masks/" in p and not p.endswith(_part(iid))]
        for cam in scene.camera_ids:
            assert one.rows[cloud_path(cam)] == T

    rerun_cli = shutil.which("rerun")
    if rerun_cli:
        for path in [combined, *paths.values()]:
            done = subprocess.run([rerun_cli, "rrd", "verify", str(path)], capture_output=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_visible_points_per_frame_match(tiny, tmp_path):
    """The track entity holds exactly the visible points, one row per frame."""
    from rerun.chunk import RrdReader

    scene, per_instance = tiny
    queries, result = per_instance["instance_1"]
    path = write_instance_recording(tmp_path / "one.rrd", scene, queries, result,
                                    base="demo", tracker="static", log_video=False,
                                    max_points_per_view=0)
    counts = []
    for chunk in RrdReader(path).stream():
        if chunk.entity_path.lstrip("/") == track_path("static", "instance_1") \
                and not chunk.is_static:
            column = chunk.to_record_batch().column("Points3D:positions")
            counts += [len(row) for row in column.to_pylist()]
    assert counts == result.visible.sum(axis=1).tolist()


def test_two_trackers_do_not_collide(tiny, tmp_path):
    scene, per_instance = tiny
    shifted = {iid: (q, TrackResult(r.tracks + 0.1, r.visible))
               for iid, (q, r) in per_instance.items()}
    other_q = {iid: (Queries(q.instance_id, q.points + 0.01, q.view, q.pixel), r)
               for iid, (q, r) in per_instance.items()}
    path = write_combined_recording(
        tmp_path / "both.rrd", scene, {"lk": per_instance, "static": shifted, "odd": other_q},
        base="demo", max_points_per_view=50, log_video=False)
    summary = summarize(path)
    T = scene.num_frames
    for tracker in ("lk", "static", "odd"):
        for iid in per_instance:
            assert summary.rows[track_path(tracker, iid)] == T
    for iid in per_instance:
        assert summary.static[query_path(iid)] == 1  # same queries: logged once
        assert query_path(iid, "static") not in summary.static
        assert summary.static[query_path(iid, "odd")] == 1  # different queries: own path
        for cam in scene.camera_ids:  # masks once, not per tracker
            assert summary.rows[mask_path(cam, iid)] == T
    assert len({track_path(t, i) for t in ("lk", "static") for i in per_instance}) == 4


def test_overwrite_is_atomic_and_leaves_no_temp(tiny, tmp_path):
    scene, per_instance = tiny
    queries, result = per_instance["instance_2"]
    target = tmp_path / "out" / "x.rrd"
    for _ in range(2):
        write_instance_recording(target, scene, queries, result, base="demo", tracker="lk",
                                 max_points_per_view=10, log_video=False)
    assert read_back(target)[track_path("lk", "instance_2")] == scene.num_frames
    assert _no_temp_files(target.parent)

    def boom(rec):
        raise RuntimeError("failed mid-way")  # how Rerun's sink reports a write error

    before = target.read_bytes()
    with pytest.raises(OutputError, match="x.rrd: cannot write: failed mid-way"):
        write_atomic(target, RecordingIds("permask", "x"), None, boom)
    assert target.read_bytes() == before
    assert _no_temp_files(target.parent)


def test_view_script_quotes_paths_and_runs_from_anywhere(tmp_path):
    folder = tmp_path / "out dir"
    folder.mkdir()
    rrds = [folder / "demo_lk_instance 1.rrd", folder / "demo_lk_it's.rrd"]
    for p in rrds:
        p.write_bytes(b"")
    script = write_view_script(folder / "view_demo_lk_combined.sh", rrds)
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "'demo_lk_instance 1.rrd'" in text
    # Run it with a stub `rerun` that prints its arguments, from another working directory.
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "rerun").write_text('#!/usr/bin/env bash\nfor a in "$@"; do echo "$a"; done\n')
    (stub / "rerun").chmod(0o755)
    env = {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(script), "--extra"], cwd=tmp_path / "bin", env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(p.resolve()) for p in rrds] + ["--extra"]


def test_mask_is_resized_to_depth_resolution(tiny, tmp_path):
    scene, per_instance = tiny
    H, W = scene.image_size
    big = {iid: np.repeat(np.repeat(m, 2, axis=2), 2, axis=3) for iid, m in scene.masks.items()}
    resized = _resize_nearest(big["instance_1"][0], H, W)
    assert resized.shape == (scene.num_frames, H, W)
    assert np.array_equal(resized, scene.masks["instance_1"][0])


def test_projection_helper_consistent_with_cameras(tiny):
    """Sanity of the test scene itself: queries project back onto their source pixels."""
    scene, per_instance = tiny
    queries, _ = per_instance["instance_1"]
    for v in np.unique(queries.view):
        sel = queries.view == v
        uv, _ = project(queries.points[sel, 1:], scene.intrs[v, 0], scene.extrs[v, 0])
        assert np.allclose(uv, queries.pixel[sel], atol=1e-3)


def test_empty_instance_still_has_its_entity(tiny, tmp_path):
    scene, per_instance = tiny
    T = scene.num_frames
    empty = (Queries("instance_2", np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                     np.zeros((0, 2), np.float32)),
             TrackResult(np.zeros((T, 0, 3), np.float32), np.zeros((T, 0), bool)))
    path = write_combined_recording(
        tmp_path / "c.rrd", scene, {"instance_1": per_instance["instance_1"], "instance_2": empty},
        tracker="lk", base="demo", max_points_per_view=10, log_video=False)
    rows = read_back(path)
    assert rows[track_path("lk", "instance_2")] == T
    assert rows[track_path("lk", "instance_1")] == T


def test_disabled_rerun_is_a_clear_error(tiny, tmp_path, monkeypatch):
    scene, per_instance = tiny
    monkeypatch.setenv("RERUN", "off")
    with pytest.raises(OutputError, match="RERUN"):
        write_instance_recording(tmp_path / "x.rrd", scene, *per_instance["instance_1"],
                                 base="demo", tracker="lk")
    assert not list(tmp_path.iterdir())


def test_moving_cameras_are_logged_per_frame(tmp_path):
    scene, per_instance = make_record_scene(V=2, T=4, seed=3)
    extrs = np.array(scene.extrs)
    extrs[:, :, 2, 3] += np.linspace(0, 0.1, scene.num_frames)[None]  # dolly along the optical axis
    intrs = np.array(scene.intrs)
    intrs[:, :, 0, 0] *= np.linspace(1, 1.1, scene.num_frames)[None]  # zoom
    scene.extrs, scene.intrs = extrs, intrs
    scene.depths[:, :, ::2] = 0  # sparse depth
    path = write_combined_recording(tmp_path / "moving.rrd", scene, per_instance,
                                    tracker="lk", base="moving")
    summary = summarize(path)
    for cam in scene.camera_ids:
        assert summary.rows[camera_path(cam)] == 2 * scene.num_frames  # transform + K
        assert summary.static[camera_path(cam)] == 1  # resolution, axes
