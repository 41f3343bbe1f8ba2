"""Query points: on the surface at their own frame, labelled, inside the eroded mask, seeded."""

import numpy as np
import pytest

from permask.config import QueryConfig
from permask.errors import QueryError
from permask.geometry import project
from permask.queries import build_queries, deduplicate, farthest_point_sampling, sample
from tests.helpers.scenes import plane_scene


def test_first_frame_queries_on_surface_and_labelled():
    scene = plane_scene()
    q = build_queries(scene, "instance_0", QueryConfig(max_points=50, erode_px=2))
    assert len(q) == 50 and q.points.dtype == np.float32
    assert (q.frame == 0).all()
    for v in np.unique(q.view):
        sel = q.view == v
        uv, z = project(q.points[sel, 1:], scene.intrs[v, 0], scene.extrs[v, 0])
        np.testing.assert_allclose(uv, q.pixel[sel], atol=1e-3)
        np.testing.assert_allclose(z, 2.0, atol=1e-5)


def test_eroded_mask_excludes_border():
    scene = plane_scene(square=(10, 30, 15, 40))
    q = build_queries(scene, "instance_0", QueryConfig(max_points=10000, erode_px=2, dedup_radius=0))
    u, v = q.pixel[:, 0], q.pixel[:, 1]
    assert u.min() >= 17 and u.max() <= 37 and v.min() >= 12 and v.max() <= 27


def test_mask_at_twice_depth_resolution_gives_no_background():
    scene = plane_scene(mask_scale=2)
    q = build_queries(scene, "instance_0", QueryConfig(max_points=10000, erode_px=0, dedup_radius=0))
    u, v = q.pixel[:, 0], q.pixel[:, 1]
    assert u.min() >= 15 and u.max() <= 39 and v.min() >= 10 and v.max() <= 29


def test_depth_edges_rejected_holes_skipped():
    scene = plane_scene()
    scene.depths[:, :, 20:, :] = 3.0  # a step
    scene.depths[:, :, :, 25] = 0.0  # a column with no depth
    q = build_queries(scene, "instance_0", QueryConfig(max_points=10000, erode_px=0, dedup_radius=0))
    assert not np.any(q.pixel[:, 0] == 25)  # no depth: never a query
    assert np.any(q.pixel[:, 0] == 24)  # next to a hole is fine (sparse depth keeps its points)
    assert not np.any(np.abs(q.pixel[:, 1] - 19.5) <= 1)  # both sides of the step are dropped


def test_views_deduplicated_when_identical():
    scene = plane_scene(V=2)  # both cameras identical: every point is lifted twice
    cfg = QueryConfig(max_points=100000, erode_px=0, dedup_radius=0.001)
    q = build_queries(scene, "instance_0", cfg)
    assert len(q) == 20 * 25  # one per pixel of the square, not two


def test_contact_window_queries_keep_their_frames():
    scene = plane_scene(T=6, shift_per_frame=2)
    cfg = QueryConfig(mode="contact_window", frames_before=1, frames_after=1, max_points=100000,
                      erode_px=0, dedup_radius=0)
    q = build_queries(scene, "instance_0", cfg)
    # cam_00 contact 1 -> frames 0..2; cam_01 contact 2 -> frames 1..3
    assert set(q.frame[q.view == 0]) == {0, 1, 2} and set(q.frame[q.view == 1]) == {1, 2, 3}
    for t in range(4):  # each query lies inside its own frame's (moving) mask
        sel = q.frame == t
        assert (q.pixel[sel, 0] >= 15 + 2 * t).all() and (q.pixel[sel, 0] < 40 + 2 * t).all()


def test_seeded_sampling_is_deterministic_and_seed_dependent():
    scene = plane_scene()
    a = build_queries(scene, "instance_0", QueryConfig(max_points=30, sampling="uniform", seed=1))
    b = build_queries(scene, "instance_0", QueryConfig(max_points=30, sampling="uniform", seed=1))
    c = build_queries(scene, "instance_0", QueryConfig(max_points=30, sampling="uniform", seed=2))
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, c.points)


@pytest.mark.parametrize("method", ["uniform", "grid", "farthest"])
def test_sampling_budget(method):
    xyz = np.random.default_rng(0).random((5000, 3))
    idx = sample(xyz, 64, method, np.random.default_rng(0))
    assert len(idx) <= 64 and len(np.unique(idx)) == len(idx)
    if method != "grid":
        assert len(idx) == 64


def test_farthest_point_sampling_spreads():
    xyz = np.concatenate([np.zeros((100, 3)), np.ones((1, 3))])
    idx = farthest_point_sampling(xyz, 2, np.random.default_rng(0))
    assert 100 in idx


def test_deduplicate_keeps_frames_apart():
    pts = np.array([[0, 0, 0, 0], [0, 0.0001, 0, 0], [1, 0, 0, 0]], float)
    assert list(deduplicate(pts, 0.01)) == [0, 2]


def test_npz_queries_need_query_points():
    with pytest.raises(QueryError, match="query_points"):
        build_queries(plane_scene(), "instance_0", QueryConfig(mode="npz"))


def test_npz_global_points_assigned_by_mask():
    scene = plane_scene()
    scene.masks["instance_1"] = ~scene.masks["instance_0"]
    # one point inside the square (pixel 20,20), one outside (pixel 5,5); both at frame 1
    from permask.geometry import unproject
    xyz = unproject(np.array([[20.0, 20.0], [5.0, 5.0]]), np.array([2.0, 2.0]),
                    scene.intrs[0, 1], scene.extrs[0, 1])
    scene.query_points = np.concatenate([[[1], [1]], xyz], axis=1)
    q0 = build_queries(scene, "instance_0", QueryConfig(mode="npz"))
    q1 = build_queries(scene, "instance_1", QueryConfig(mode="npz"))
    assert len(q0) == 1 and len(q1) == 1 and q0.frame[0] == 1
    np.testing.assert_allclose(q0.points[0, 1:], xyz[0], atol=1e-6)
