"""Trackers on the small demo scene: conventions, accuracy against static, independence."""

import numpy as np
import pytest

from permask.config import QueryConfig
from permask.data import Queries
from permask.metrics import gt_metrics, true_tracks, true_visibility
from permask.queries import build_queries
from permask.trackers.lifting import fuse_views
from permask.trackers.lk import LKTracker
from permask.trackers.rigid import fit_rigid_robust, kabsch
from permask.trackers.static import StaticTracker
from tests.helpers.scenes import plane_scene


def score(scene, queries, result):
    gt = true_tracks(scene.ground_truth, queries, scene.num_frames)
    gt_vis = true_visibility(scene, queries.instance_id, gt)
    return gt_metrics(result.tracks, result.visible, gt, gt_vis, queries.frame)


@pytest.fixture(scope="module")
def demo_queries(small_demo_scene):
    return {iid: build_queries(small_demo_scene, iid, QueryConfig(max_points=120))
            for iid in small_demo_scene.instance_ids}


def test_static_tracker_holds_position_from_query_frame(small_demo_scene):
    q = build_queries(small_demo_scene, "instance_0", QueryConfig(max_points=10))
    q.points[:5, 0] = 3  # queries at frame 3
    res = StaticTracker().track(small_demo_scene, q)
    assert res.tracks.shape == (small_demo_scene.num_frames, 10, 3)
    assert np.isnan(res.tracks[:3, :5]).all() and not res.visible[:3, :5].any()
    np.testing.assert_allclose(res.tracks[3:, :5], np.broadcast_to(q.points[:5, 1:], (13, 5, 3)))


def test_lk_beats_static_on_every_instance(small_demo_scene, demo_queries):
    lk, static = LKTracker(), StaticTracker()
    for iid, q in demo_queries.items():
        m_lk = score(small_demo_scene, q, lk.track(small_demo_scene, q))
        m_st = score(small_demo_scene, q, static.track(small_demo_scene, q))
        assert m_lk["AJ"] > m_st["AJ"] + 0.1, iid
        assert m_lk["median_error_cm"] < 0.5 * m_st["median_error_cm"], iid


def test_lk_output_convention_for_later_query_frames(small_demo_scene):
    scene = small_demo_scene
    # re-lift the same instance at frame 5: queries must start there
    q = build_queries(scene, "instance_1", QueryConfig(mode="contact_window", frames_before=0,
                                                       frames_after=0, max_points=60))
    q = Queries(q.instance_id, q.points.copy(), q.view, q.pixel)
    res = LKTracker().track(scene, q)
    frames = q.frame
    T = scene.num_frames
    before = np.arange(T)[:, None] < frames[None, :]
    assert np.isnan(res.tracks[before]).all() and not res.visible[before].any()
    at = res.tracks[frames, np.arange(len(q))]
    np.testing.assert_allclose(at, q.points[:, 1:], atol=1e-5)
    assert np.isfinite(res.tracks[~before]).all()


def test_lk_accurate_for_queries_after_frame_zero(small_demo_scene):
    scene = small_demo_scene
    q = build_queries(scene, "instance_0", QueryConfig(mode="contact_window", frames_before=0,
                                                       frames_after=2, max_points=100))
    assert q.frame.min() > 0
    m_lk = score(scene, q, LKTracker().track(scene, q))
    m_st = score(scene, q, StaticTracker().track(scene, q))
    assert m_lk["median_error_cm"] < 0.5 * m_st["median_error_cm"]


def test_instances_are_independent(small_demo_scene, demo_queries):
    """A tracker call sees one instance; tracking others first changes nothing."""
    lk = LKTracker()
    alone = lk.track(small_demo_scene, demo_queries["instance_1"])
    for iid in ("instance_0", "instance_2"):
        lk.track(small_demo_scene, demo_queries[iid])
    again = lk.track(small_demo_scene, demo_queries["instance_1"])
    np.testing.assert_array_equal(alone.tracks, again.tracks)
    np.testing.assert_array_equal(alone.visible, again.visible)


def test_lk_without_masks_and_rigid_prior_still_tracks(small_demo_scene, demo_queries):
    q = demo_queries["instance_2"]
    plain = LKTracker(use_masks=False, rigid_prior=False)
    m = score(small_demo_scene, q, plain.track(small_demo_scene, q))
    m_st = score(small_demo_scene, q, StaticTracker().track(small_demo_scene, q))
    assert m["AJ"] > m_st["AJ"]


def test_empty_queries():
    scene = plane_scene()
    q = Queries("instance_0", np.zeros((0, 4), np.float32), np.zeros(0, int), np.zeros((0, 2)))
    res = LKTracker().track(scene, q)
    assert res.tracks.shape == (scene.num_frames, 0, 3)


def test_lk_follows_a_known_image_shift():
    """A textured plane sliding 2 px/frame to the right at 2 m: the 3D track moves
    2 px * z / f per frame along x."""
    scene = plane_scene(V=1, T=6, H=60, W=80, square=(15, 45, 20, 50), shift_per_frame=2)
    rng = np.random.default_rng(3)
    import cv2
    base = cv2.GaussianBlur(rng.integers(0, 255, (60, 120, 3), dtype=np.uint8), (0, 0), 1.5)
    for t in range(6):
        scene.rgbs[0, t] = base[:, 20 - 2 * t: 100 - 2 * t]
    scene._gray = None
    q = build_queries(scene, "instance_0", QueryConfig(max_points=40, erode_px=6))
    res = LKTracker(rigid_prior=False).track(scene, q)
    f = scene.intrs[0, 0, 0, 0]
    expected_dx = 2 * 2.0 / f * np.arange(6)
    dx = np.nanmedian(res.tracks[:, :, 0] - res.tracks[0:1, :, 0], axis=1)
    np.testing.assert_allclose(dx, expected_dx, atol=0.004)
    assert res.visible.mean() > 0.9


def test_fuse_views_rejects_outlier():
    est = np.full((3, 1, 3), np.nan)
    est[0, 0] = [0, 0, 1.0]
    est[1, 0] = [0.01, 0, 1.0]
    est[2, 0] = [0.5, 0, 1.0]  # a view that latched on something else
    fused, inlier = fuse_views(est, np.zeros((1, 3)), 0.03)
    np.testing.assert_allclose(fused[0], [0.005, 0, 1.0])
    assert inlier[:, 0].tolist() == [True, True, False]


def test_fuse_two_views_picks_the_one_near_previous():
    est = np.full((2, 1, 3), np.nan)
    est[0, 0] = [1.0, 0, 0]
    est[1, 0] = [0.0, 0, 0.01]
    fused, _ = fuse_views(est, np.zeros((1, 3)), 0.03)
    np.testing.assert_allclose(fused[0], [0, 0, 0.01])


def test_rigid_fit_recovers_pose_despite_outliers():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    angle = 0.3
    R = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    dst = src @ R.T + [0.1, -0.2, 0.3]
    dst[:5] += 2.0  # outliers
    pose = fit_rigid_robust(src, dst)
    np.testing.assert_allclose(pose[:3, :3], R, atol=1e-9)
    np.testing.assert_allclose(pose[:3, 3], [0.1, -0.2, 0.3], atol=1e-9)
    assert fit_rigid_robust(src[:3], dst[:3], min_points=6) is None
    np.testing.assert_allclose(kabsch(src, src), np.eye(4), atol=1e-12)


def test_similarity_fit_recovers_scale():
    rng = np.random.default_rng(1)
    src = np.concatenate([rng.normal(size=(40, 2)), np.ones((40, 1))], axis=1)  # on the plane z=1
    dst = src.copy()
    dst[:, :2] = 0.5 * src[:, :2] + [0.2, -0.1]  # shrinks and slides on the plane
    pose = fit_rigid_robust(src, dst, with_scale=True)
    np.testing.assert_allclose(src @ pose[:3, :3].T + pose[:3, 3], dst, atol=1e-9)
    rigid = fit_rigid_robust(src, dst)  # a rigid fit cannot shrink
    assert rigid is None or np.abs(src @ rigid[:3, :3].T + rigid[:3, 3] - dst).max() > 0.1
