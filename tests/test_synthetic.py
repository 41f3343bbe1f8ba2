"""The demo scene generator: format, ground-truth geometry, sparse depth, mask scale, cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from permask import geometry
from permask.demo.cache import demo_scene_path
from permask.demo.params import SENSOR_MAX_DEPTH, DemoParams
from permask.demo.scene import make_demo_scene

SMALL = DemoParams(num_views=3, num_frames=12, height=96, width=128)


@pytest.fixture(scope="module")
def scene() -> dict[str, np.ndarray]:
    return make_demo_scene(SMALL)


def id_buffer(scene: dict[str, np.ndarray]) -> np.ndarray:
    """[V,T,H,W] int: instance index per pixel, -1 for background."""
    masks = scene["sam2_masks"][()]
    ids = np.full(next(iter(masks.values())).shape, -1)
    for k, iid in enumerate(scene["gt_instance_ids"]):
        ids[masks[iid]] = k
    return ids


def lift_instance(scene, k: int, v: int, t: int) -> np.ndarray:
    """World points [N,3] of the pixels of instance k in view v at frame t (valid depth only)."""
    mask = scene["sam2_masks"][()][scene["gt_instance_ids"][k]][v, t]
    depth = scene["depths"][v, t, 0]
    rows, cols = np.nonzero(mask & (depth > 0))
    pixels = np.stack([cols, rows], axis=1)
    return geometry.unproject(pixels, depth[rows, cols], scene["intrs"][v, t], scene["extrs"][v, t])


def move(scene, k: int, points: np.ndarray, t_from: int, t_to: int) -> np.ndarray:
    poses = scene["gt_object_poses"].astype(np.float64)
    return geometry.apply_pose(poses[k, t_to] @ np.linalg.inv(poses[k, t_from]), points)


def project_to_pixels(scene, points: np.ndarray, v: int, t: int):
    """-> (rows, cols, z, in_image) of world points seen by view v at frame t (nearest pixel)."""
    H, W = scene["depths"].shape[-2:]
    uv, z = geometry.project(points, scene["intrs"][v, t], scene["extrs"][v, t])
    inside = geometry.in_image(uv, H, W)
    cols = np.where(inside, np.rint(np.nan_to_num(uv[:, 0])), 0).astype(int)
    rows = np.where(inside, np.rint(np.nan_to_num(uv[:, 1])), 0).astype(int)
    return rows, cols, z, inside


def test_keys_shapes_dtypes(scene):
    V, T, H, W, K = 3, 12, 96, 128, 3
    assert scene["rgbs"].shape == (V, T, 3, H, W) and scene["rgbs"].dtype == np.uint8
    assert scene["depths"].shape == (V, T, 1, H, W) and scene["depths"].dtype == np.float32
    assert scene["intrs"].shape == (V, T, 3, 3) and scene["intrs"].dtype == np.float32
    assert scene["extrs"].shape == (V, T, 3, 4) and scene["extrs"].dtype == np.float32
    assert scene["camera_ids"].dtype == object
    assert list(scene["camera_ids"]) == ["cam_00", "cam_01", "cam_02"]
    assert scene["timestamps"].shape == (T,) and scene["timestamps"].dtype == np.float64
    np.testing.assert_allclose(np.diff(scene["timestamps"]), 1 / 15)
    assert scene["gt_object_poses"].shape == (K, T, 4, 4)
    assert scene["gt_object_poses"].dtype == np.float32
    assert scene["gt_instance_ids"].dtype.kind == "U"
    ids = [f"instance_{k}" for k in range(K)]
    assert list(scene["gt_instance_ids"]) == ids

    masks = scene["sam2_masks"]
    assert masks.shape == () and masks.dtype == object
    assert list(masks[()]) == ids
    for mask in masks[()].values():
        assert mask.shape == (V, T, H, W) and mask.dtype == bool

    contacts = scene["sam2_contact_frames"]
    assert contacts.shape == () and contacts.dtype == object
    assert set(contacts[()]) == set(ids)
    for per_camera in contacts[()].values():
        assert set(per_camera) == set(scene["camera_ids"])
        assert all(isinstance(f, int) and 0 <= f < T for f in per_camera.values())

    # static cameras, repeated per frame; rotations orthonormal
    assert np.all(scene["extrs"] == scene["extrs"][:, :1])
    R = scene["extrs"][:, 0, :, :3].astype(np.float64)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-6)
    assert np.isfinite(scene["depths"]).all() and (scene["depths"] >= 0).all()
    assert (scene["depths"] > 0).mean() > 0.95  # floor and walls fill the views


def test_masks_disjoint_nonempty_and_on_objects(scene):
    masks = scene["sam2_masks"][()]
    stacked = np.stack(list(masks.values()))
    assert stacked.sum(axis=0).max() <= 1  # disjoint
    poses = scene["gt_object_poses"].astype(np.float64)
    for k, mask in enumerate(masks.values()):
        assert (mask[:, 0].sum(axis=(1, 2)) > 20).sum() >= 2  # frame 0, at least two views
        for v in range(mask.shape[0]):
            for t in (0, mask.shape[1] - 1):
                points = lift_instance(scene, k, v, t)
                if len(points):  # every mask pixel lies on the object (bounding radius < 0.25 m)
                    assert np.linalg.norm(points - poses[k, t, :3, 3], axis=1).max() < 0.25
    depth = scene["depths"][:, :, 0]
    for mask in masks.values():
        assert (depth[mask] > 0).all()


def depth_at(scene, ids, k: int, v: int, t: int, points: np.ndarray):
    """Rendered depth of instance k at the sub-pixel projections of world points.

    -> (rendered [N], projected z [N], usable [N]): bilinear in inverse depth (exact on planes)
    over the 4 surrounding pixels, usable only where all 4 show instance k with valid depth and
    lie on one plane (not straddling an edge of a box)."""
    H, W = scene["depths"].shape[-2:]
    uv, z = geometry.project(points, scene["intrs"][v, t], scene["extrs"][v, t])
    inside = np.isfinite(uv).all(axis=1) & (uv[:, 0] >= 0) & (uv[:, 0] < W - 1)
    inside &= (uv[:, 1] >= 0) & (uv[:, 1] < H - 1)
    uv = np.where(inside[:, None], uv, 0.0)
    c0, r0 = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    fu, fv = uv[:, 0] - c0, uv[:, 1] - r0
    usable, corners = inside.copy(), []
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        depth = scene["depths"][v, t, 0, r0 + dr, c0 + dc]
        usable &= (ids[v, t, r0 + dr, c0 + dc] == k) & (depth > 0)
        corners.append(1.0 / np.where(depth > 0, depth, 1.0))
    i00, i01, i10, i11 = corners
    usable &= np.abs(i00 + i11 - i01 - i10) < 2e-3  # planar: zero mixed second difference
    inverse = (1 - fv) * ((1 - fu) * i00 + fu * i01) + fv * ((1 - fu) * i10 + fu * i11)
    return 1.0 / inverse, z, usable


@pytest.mark.parametrize("t1,t2", [(0, 11), (3, 8), (11, 0)])
def test_ground_truth_poses_explain_rendered_depth(scene, t1, t2):
    """Lift instance pixels at t1, move them with the GT poses, project at t2: where the instance
    is visible there (its own surface, not self-occluded), projected depth = rendered depth."""
    ids = id_buffer(scene)
    V = scene["rgbs"].shape[0]
    errors = []
    for k in range(len(scene["gt_instance_ids"])):
        for v in range(V):
            moved = move(scene, k, lift_instance(scene, k, v, t1), t1, t2)
            rendered, z, usable = depth_at(scene, ids, k, v, t2, moved)
            visible = usable & (rendered > z - 0.03)  # not behind the instance's own front
            errors.append(np.abs(rendered - z)[visible])
    errors = np.concatenate(errors)
    assert len(errors) > 200
    assert np.mean(errors < 0.01) > 0.95
    assert np.median(errors) < 0.003


def test_objects_move_and_rotate(scene):
    poses = scene["gt_object_poses"].astype(np.float64)
    for pose in poses:
        np.testing.assert_allclose(pose[:, 3], np.broadcast_to([0, 0, 0, 1], (len(pose), 4)))
        travel = np.linalg.norm(pose[-1, :3, 3] - pose[0, :3, 3])
        relative = pose[-1, :3, :3] @ pose[0, :3, :3].T
        angle = np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1)))
        assert travel > 0.05 and angle > 20
        assert pose[:, 2, 3].min() > 0  # above the floor (z up)


def test_occlusion_between_instances_and_leaving_the_view(scene):
    """Frame-0 points of some instance end up hidden behind another instance in some view and
    frame, and some instance partly leaves some view."""
    ids = id_buffer(scene)
    V, T = scene["rgbs"].shape[:2]
    occluded = left = 0
    for k in range(len(scene["gt_instance_ids"])):
        for v in range(V):
            points = lift_instance(scene, k, v, 0)
            if len(points) < 20:
                continue
            for t in range(T):
                rows, cols, z, inside = project_to_pixels(scene, move(scene, k, points, 0, t), v, t)
                other = ids[v, t, rows, cols]
                depth = scene["depths"][v, t, 0, rows, cols]
                occluded += np.sum(inside & (other >= 0) & (other != k) & (depth < z - 0.02))
                left = max(left, np.mean(~inside))
    assert occluded > 20
    assert left > 0.2


def test_sparse_depth_keeps_about_the_requested_share(scene):
    sparse = make_demo_scene(dataclasses.replace(SMALL, depth_density=0.3))
    dense = scene["depths"]
    in_range = (dense > 0) & (dense <= SENSOR_MAX_DEPTH)
    kept = sparse["depths"] > 0
    assert not (kept & ~in_range).any()
    assert abs(kept[in_range].mean() - 0.3) < 0.02
    np.testing.assert_array_equal(sparse["depths"][kept], dense[kept])
    np.testing.assert_array_equal(sparse["rgbs"], scene["rgbs"])
    assert (dense > SENSOR_MAX_DEPTH).any()  # the range limit actually bites


def test_mask_scale_renders_masks_at_higher_resolution(scene):
    hires = make_demo_scene(dataclasses.replace(SMALL, mask_scale=2))
    assert hires["depths"].shape == scene["depths"].shape
    for iid, low in scene["sam2_masks"][()].items():
        high = hires["sam2_masks"][()][iid]
        assert high.shape == low.shape[:2] + (2 * low.shape[2], 2 * low.shape[3])
        V, T, H, W = low.shape
        pooled = high.reshape(V, T, H, 2, W, 2).mean(axis=(3, 5)) >= 0.5
        iou = (pooled & low).sum() / (pooled | low).sum()
        assert iou > 0.9


def test_seed_changes_content_and_is_reproducible():
    tiny = DemoParams(num_views=2, num_frames=3, height=32, width=40)
    a, b = make_demo_scene(tiny), make_demo_scene(tiny)
    c = make_demo_scene(dataclasses.replace(tiny, seed=1))
    np.testing.assert_array_equal(a["rgbs"], b["rgbs"])
    assert not np.array_equal(a["rgbs"], c["rgbs"])


def test_more_objects_and_views():
    params = DemoParams(num_views=5, num_frames=4, height=48, width=64, num_objects=5)
    arrays = make_demo_scene(params)
    assert arrays["rgbs"].shape[:2] == (5, 4)
    assert len(arrays["sam2_masks"][()]) == 5 and arrays["gt_object_poses"].shape[0] == 5


def test_cache_writes_once_and_separates_params(tmp_path):
    tiny = DemoParams(num_views=2, num_frames=3, height=32, width=40)
    first = demo_scene_path(tiny, cache_dir=tmp_path)
    mtime = first.stat().st_mtime_ns
    again = demo_scene_path(tiny, cache_dir=tmp_path)
    assert again == first and again.stat().st_mtime_ns == mtime
    other = demo_scene_path(dataclasses.replace(tiny, seed=3), cache_dir=tmp_path)
    assert other != first and other.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])
    with np.load(first, allow_pickle=True) as data:
        fresh = make_demo_scene(tiny)
        assert set(data.files) == set(fresh)
        np.testing.assert_array_equal(data["rgbs"], fresh["rgbs"])
        assert list(data["sam2_masks"][()]) == list(fresh["sam2_masks"][()])


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PERMASK_CACHE_DIR", str(tmp_path / "env"))
    path = demo_scene_path(DemoParams(num_views=1, num_frames=2, height=16, width=16))
    assert path.parent == tmp_path / "env" and path.is_file()


def test_rigid_tracks(scene):
    poses = scene["gt_object_poses"].astype(np.float64)
    T = poses.shape[1]
    points = lift_instance(scene, 0, 0, 4)[:5]
    queries = np.concatenate([np.full((len(points), 1), 4.0), points], axis=1)
    tracks = geometry.rigid_tracks(poses, np.zeros(len(points), int), queries)
    assert tracks.shape == (T, len(points), 3) and tracks.dtype == np.float64
    assert np.isnan(tracks[:4]).all() and np.isfinite(tracks[4:]).all()
    np.testing.assert_allclose(tracks[4], points, atol=1e-6)
    np.testing.assert_allclose(tracks[9], move(scene, 0, points, 4, 9), atol=1e-6)
    # mixed instances and query frames in one call
    mixed = np.array([[0, 0.1, 0.2, 0.3], [7, -0.1, 0.0, 0.2]])
    out = geometry.rigid_tracks(poses, np.array([1, 2]), mixed)
    np.testing.assert_allclose(out[0, 0], mixed[0, 1:])
    assert np.isnan(out[:7, 1]).all()
    np.testing.assert_allclose(out[T - 1, 1], move(scene, 2, mixed[1:, 1:], 7, T - 1)[0], atol=1e-6)
    with pytest.raises(ValueError):
        geometry.rigid_tracks(poses, np.array([0]), np.array([[T, 0.0, 0.0, 0.0]]))
