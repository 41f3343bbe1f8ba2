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
from permask.data import Queries, Scene, TrackResult
from permask.geometry import look_at, project, unproject


def make_record_scene(V: int = 2, T: int = 5, H: int = 24, W: int = 32, n_instances: int = 2,
                      n_points: int = 20, seed: int = 0
                      ) -> tuple[Scene, dict[str, tuple[Queries, TrackResult]]]:
    """A ray-cast scene: checker ground plane z=0 and `n_instances` moving spheres, V cameras.

    Returns the Scene (masks = sphere pixels) and per instance (queries on the sphere seen in view 0
    at frame 0, tracks = true motion + noise, ~90% visible).
    """
    rng = np.random.default_rng(seed)
    fx = 0.9 * W
    K = np.array([[fx, 0, (W - 1) / 2], [0, fx, (H - 1) / 2], [0, 0, 1]])
    angles = np.linspace(0, np.pi / 2, V) - np.pi / 4
    extrs = np.stack([look_at(np.array([2.5 * np.cos(a), 2.5 * np.sin(a), 1.4]),
                               np.array([0.0, 0.0, 0.15])) for a in angles])
    starts = np.stack([rng.uniform(-0.5, 0.5, n_instances), rng.uniform(-0.5, 0.5, n_instances),
                       np.full(n_instances, 0.15)], axis=1)
    velocity = rng.uniform(-0.03, 0.03, (n_instances, 3)) * [1, 1, 0]
    centers = starts[None] + np.arange(T)[:, None, None] * velocity[None]  # [T,K,3]
    radius = 0.15
    palette = rng.integers(60, 255, (n_instances, 3))

    rows, cols = np.mgrid[0:H, 0:W]
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(H * W)], axis=1)
    rgbs = np.zeros((V, T, H, W, 3), np.uint8)
    depths = np.zeros((V, T, H, W), np.float32)
    labels = np.zeros((V, T, H, W), np.int64)
    for v in range(V):
        R, t = extrs[v, :, :3], extrs[v, :, 3]
        origin = -R.T @ t
        dirs = (pix @ np.linalg.inv(K).T) @ R  # world direction with camera z = 1: s is z-depth
        for f in range(T):
            s_best = np.where(dirs[:, 2] < 0, -origin[2] / np.minimum(dirs[:, 2], -1e-9), np.inf)
            hit = origin + s_best[:, None] * dirs
            checker = ((np.floor(hit[:, 0] * 4) + np.floor(hit[:, 1] * 4)) % 2)[:, None]
            color = np.where(checker > 0, 200.0, 90.0) * np.ones(3)
            label = np.zeros(H * W, np.int64)
            for k in range(n_instances):
                oc = origin - centers[f, k]
                a = (dirs ** 2).sum(1)
                b = 2 * dirs @ oc
                c = oc @ oc - radius ** 2
                disc = b * b - 4 * a * c
                s = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
                closer = (s > 0) & (s < s_best)
                s_best = np.where(closer, s, s_best)
                color[closer] = palette[k]
                label[closer] = k + 1
            valid = np.isfinite(s_best)
            depths[v, f] = np.where(valid, s_best, 0).reshape(H, W)
            rgbs[v, f] = np.clip(color, 0, 255).reshape(H, W, 3)
            labels[v, f] = label.reshape(H, W)

    ids = [f"instance_{k + 1}" for k in range(n_instances)]
    scene = Scene(rgbs=rgbs, depths=depths,
                  intrs=np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32),
                  extrs=np.broadcast_to(extrs[:, None], (V, T, 3, 4)).astype(np.float32),
                  camera_ids=[f"cam {v}" if v == 1 else f"cam{v}" for v in range(V)],
                  masks={iid: labels == k + 1 for k, iid in enumerate(ids)},
                  frame_indices=np.arange(T) * 2, fingerprint=f"test-{seed}")

    per_instance = {}
    for k, iid in enumerate(ids):
        vv, yy, xx = np.nonzero(labels[:, 0] == k + 1)
        if len(vv) == 0:  # sphere unseen: sample on its surface instead
            pts = centers[0, k] + radius * rng.normal(size=(n_points, 3))
            view, pixel = np.zeros(n_points, np.int64), np.zeros((n_points, 2), np.float32)
        else:
            pick = rng.choice(len(vv), n_points, replace=len(vv) < n_points)
            vv, yy, xx = vv[pick], yy[pick], xx[pick]
            pts = np.stack([unproject(np.array([[x, y]]), depths[v, 0, y, x][None], K, extrs[v])[0]
                            for v, y, x in zip(vv, yy, xx)])
            view, pixel = vv, np.stack([xx, yy], axis=1).astype(np.float32)
        queries = Queries(iid, np.concatenate([np.zeros((n_points, 1)), pts], 1).astype(np.float32),
                          view, pixel)
        tracks = (pts[None] + (centers[:, k] - centers[0, k])[:, None]
                  + rng.normal(0, 0.003, (T, n_points, 3))).astype(np.float32)
        visible = rng.random((T, n_points)) < 0.9
        visible[0] = True
        per_instance[iid] = (queries, TrackResult(tracks, visible))
    return scene, per_instance


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
