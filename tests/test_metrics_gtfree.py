"""Ground-truth-free measures on hand-made scenes: a square patch 1 m in front of a camera, in front
of a wall at 2 m, sliding sideways; tracks made by hand (perfect, standing still, off the surface)."""

import math

import numpy as np
import pytest

from permask.data import Scene
from permask.metrics import (direction, gt_free_metrics, jitter_mm, observe, overall,
                             static_tracks)
from permask.tables import best_columns, comparison_table, run_table

H, W, F = 48, 64, 100.0  # image size, focal length (px)
K = np.array([[F, 0, 32], [0, F, 24], [0, 0, 1]], np.float32)
OBJECT_Z, WALL_Z = 1.0, 2.0
SIZE = 10  # patch width/height in pixels
V0 = 19  # patch top row


def patch_left(t, speed_px):
    return 5 + int(round(speed_px * t))


def moving_patch_scene(T=6, speed_px=10.0, views=1, occluder_in_view1=False, mask_scale=1,
                       depth_holes=False):
    """The patch slides `speed_px` pixels per frame to the right (at 1 m: speed_px cm/frame).

    View 1 (if any) is a copy of view 0; with `occluder_in_view1`, a board at 0.5 m covers the
    patch in view 1 for every frame (so view 1 sees none of it, and its mask is empty)."""
    depths = np.full((views, T, H, W), WALL_Z, np.float32)
    masks = np.zeros((views, T, H * mask_scale, W * mask_scale), bool)
    for t in range(T):
        u0 = patch_left(t, speed_px)
        for v in range(views):
            depths[v, t, V0:V0 + SIZE, u0:u0 + SIZE] = OBJECT_Z
            if v == 1 and occluder_in_view1:
                depths[v, t, V0 - 2:V0 + SIZE + 2, :] = 0.5
                continue
            masks[v, t, V0 * mask_scale:(V0 + SIZE) * mask_scale,
                  u0 * mask_scale:(u0 + SIZE) * mask_scale] = True
    if depth_holes:
        depths[:] = 0.0
    extr = np.concatenate([np.eye(3), np.zeros((3, 1))], 1).astype(np.float32)
    return Scene(rgbs=np.zeros((views, T, H, W, 3), np.uint8), depths=depths,
                 intrs=np.broadcast_to(K, (views, T, 3, 3)).copy(),
                 extrs=np.broadcast_to(extr, (views, T, 3, 4)).copy(),
                 camera_ids=[f"cam_{v}" for v in range(views)], masks={"patch": masks})


def patch_queries(n_side=3):
    """Query points on the patch at frame 0 (pixel centres well inside it), lifted at 1 m."""
    us = np.linspace(patch_left(0, 0) + 2, patch_left(0, 0) + SIZE - 3, n_side)
    vs = np.linspace(V0 + 2, V0 + SIZE - 3, n_side)
    uu, vv = np.meshgrid(us, vs)
    x = (uu.ravel() - K[0, 2]) / F * OBJECT_Z
    y = (vv.ravel() - K[1, 2]) / F * OBJECT_Z
    pts = np.stack([np.zeros_like(x), x, y, np.full_like(x, OBJECT_Z)], 1)
    return pts.astype(np.float32)


def perfect_tracks(queries, T, speed_px):
    shift = np.array([speed_px / F * OBJECT_Z, 0, 0])
    return np.stack([queries[:, 1:] + t * shift for t in range(T)]).astype(np.float64)


def test_perfect_track_scores_best():
    scene = moving_patch_scene(T=6, speed_px=4)
    q = patch_queries()
    tracks = perfect_tracks(q, 6, 4)
    m = gt_free_metrics(scene, "patch", tracks, np.ones(tracks.shape[:2], bool), q)
    f = m.figures
    assert f["mask_adherence"] == 1.0
    assert f["motion_adherence"] == 1.0
    assert f["tracked_at_end"] == 1.0
    assert f["depth_err_cm"] == pytest.approx(0.0, abs=1e-4)
    assert f["depth_within_2cm"] == 1.0
    assert f["jitter_mm"] == pytest.approx(0.0, abs=1e-6)  # constant velocity
    assert len(m.per_frame["mask_adherence"]) == 6
    assert math.isnan(m.per_frame["mask_adherence"][0])  # query frame: not evaluated
    assert m.per_frame["mask_adherence"][1:] == [1.0] * 5


def test_standing_still_on_a_moving_object_does_not_look_good():
    """Adherence of a static track falls as the object slides away from it."""
    T, speed = 6, 2.0  # 2 px per frame, patch 10 px wide
    scene = moving_patch_scene(T=T, speed_px=speed)
    q = patch_queries(n_side=5)
    still, vis = static_tracks(q, T)
    m = gt_free_metrics(scene, "patch", still, vis, q)
    curve = np.array(m.per_frame["mask_adherence"][1:])
    assert np.all(np.diff(curve) <= 0) and curve[0] > curve[-1]
    assert curve[-1] < 0.5
    assert m.figures["mask_adherence"] < 0.8
    assert m.figures["mask_adherence"] == pytest.approx(m.figures["static_mask_adherence"])
    assert m.figures["motion_adherence"] == pytest.approx(0.0)  # exactly the standing-still score
    # the tracker calls every point visible, but those left behind are not "tracked" at the end
    assert m.figures["tracked_at_end"] < 0.5
    assert m.figures["jitter_mm"] == 0.0  # jitter alone would reward it: read it with adherence

    moving = perfect_tracks(q, T, speed)
    good = gt_free_metrics(scene, "patch", moving, np.ones((T, len(q)), bool), q)
    for key in ("mask_adherence", "motion_adherence", "tracked_at_end", "depth_within_2cm"):
        assert good.figures[key] > m.figures[key], key
    assert good.figures["depth_err_cm"] < m.figures["depth_err_cm"]


def test_fast_object_static_track_leaves_mask_entirely():
    scene = moving_patch_scene(T=4, speed_px=10)  # the patch moves a full width per frame
    q = patch_queries()
    still, vis = static_tracks(q, 4)
    f = gt_free_metrics(scene, "patch", still, vis, q).figures
    assert f["mask_adherence"] == 0.0 and f["tracked_at_end"] == 0.0
    # the left-behind points float 1 m in front of the wall: 100 cm off the observed surface
    assert f["depth_err_cm"] == pytest.approx(100.0, abs=0.01)
    assert f["depth_within_2cm"] == 0.0


def test_object_that_does_not_move_gives_no_motion_score():
    scene = moving_patch_scene(T=4, speed_px=0)
    q = patch_queries()
    still, vis = static_tracks(q, 4)
    f = gt_free_metrics(scene, "patch", still, vis, q).figures
    assert f["mask_adherence"] == 1.0 and f["static_mask_adherence"] == 1.0
    assert math.isnan(f["motion_adherence"])  # masks never moved: nothing to tell apart


def test_view_that_cannot_see_the_point_is_not_counted():
    """View 1 has the patch hidden behind a board (observed depth 0.5 m < 1 m): it does not see
    the points, so they are not counted as outside its (empty) mask."""
    scene = moving_patch_scene(T=4, speed_px=3, views=2, occluder_in_view1=True)
    q = patch_queries()
    tracks = perfect_tracks(q, 4, 3)
    obs = observe(scene, "patch", tracks)
    assert obs.seen[1:, :, 0].all() and not obs.seen[:, :, 1].any()
    f = gt_free_metrics(scene, "patch", tracks, np.ones(tracks.shape[:2], bool), q).figures
    assert f["mask_adherence"] == 1.0


def test_no_depth_means_seen_and_no_depth_figure():
    scene = moving_patch_scene(T=4, speed_px=3, depth_holes=True)
    q = patch_queries()
    tracks = perfect_tracks(q, 4, 3)
    f = gt_free_metrics(scene, "patch", tracks, np.ones(tracks.shape[:2], bool), q).figures
    assert f["mask_adherence"] == 1.0
    assert math.isnan(f["depth_err_cm"]) and math.isnan(f["depth_within_2cm"])


def test_masks_finer_than_depth():
    scene = moving_patch_scene(T=4, speed_px=3, mask_scale=2)
    q = patch_queries()
    tracks = perfect_tracks(q, 4, 3)
    f = gt_free_metrics(scene, "patch", tracks, np.ones(tracks.shape[:2], bool), q).figures
    assert f["mask_adherence"] == 1.0 and f["tracked_at_end"] == 1.0


def test_points_marked_invisible_are_left_out():
    T = 4
    scene = moving_patch_scene(T=T, speed_px=10)
    q = patch_queries()
    still, _ = static_tracks(q, T)
    visible = np.zeros((T, len(q)), bool)
    visible[0] = True  # visible only at the query frame: nothing to evaluate
    f = gt_free_metrics(scene, "patch", still, visible, q).figures
    assert math.isnan(f["mask_adherence"]) and f["tracked_at_end"] == 0.0


def test_depth_agreement_by_hand():
    scene = moving_patch_scene(T=3, speed_px=2)
    q = patch_queries()
    tracks = perfect_tracks(q, 3, 2)
    visible = np.ones(tracks.shape[:2], bool)
    for offset_cm, within in ((1.0, 1.0), (5.0, 0.0)):
        toward_camera = tracks * (1 - offset_cm / 100)  # z 1 m -> 1 m - offset, same pixel
        f = gt_free_metrics(scene, "patch", toward_camera, visible, q).figures
        assert f["depth_err_cm"] == pytest.approx(offset_cm, abs=1e-3)
        assert f["depth_within_2cm"] == within
        assert f["mask_adherence"] == 1.0  # same pixels: still inside the mask


def test_point_hidden_behind_the_surface_is_not_seen():
    scene = moving_patch_scene(T=3, speed_px=2)
    q = patch_queries()
    behind = perfect_tracks(q, 3, 2) * 1.2  # 20 cm behind the patch, same pixels
    obs = observe(scene, "patch", behind)
    assert not obs.seen.any()
    np.testing.assert_allclose(obs.depth_err[1:], 0.2, atol=1e-6)


def test_jitter_by_hand():
    x = np.array([0.0, 0.001, 0.0, 0.001])  # zig-zag 1 mm: second differences 2 mm
    tracks = np.zeros((4, 1, 3))
    tracks[:, 0, 0] = x
    assert jitter_mm(tracks, np.ones((4, 1), bool)) == pytest.approx(2.0)
    hidden = np.ones((4, 1), bool)
    hidden[1] = False  # no full visible triple left
    assert math.isnan(jitter_mm(tracks, hidden))


def test_static_tracks_follow_the_query_convention():
    q = np.array([[0, 1, 2, 3], [2, 4, 5, 6]], np.float32)
    tracks, visible = static_tracks(q, 4)
    assert np.isnan(tracks[:2, 1]).all() and not visible[:2, 1].any()
    np.testing.assert_allclose(tracks[3, 1], [4, 5, 6])
    assert visible[:, 0].all()


def test_overall_skips_per_frame_curves():
    per = {"a": {"points": 2, "mask_adherence": 1.0, "per_frame": {"x": [1.0]}},
           "b": {"points": 2, "mask_adherence": 0.5, "per_frame": {"x": [0.0]}}}
    out = overall(per)
    assert out["mask_adherence"] == 0.75 and "per_frame" not in out


def test_direction_and_best_per_row():
    assert direction("mask_adherence") == 1 and direction("AJ") == 1
    assert direction("median_error_cm") == -1 and direction("jitter_mm") == -1
    assert direction("depth_err_cm") == -1 and direction("pts_within_5cm") == 1
    assert direction("points") == 0 and direction("static_mask_adherence") == 0
    assert best_columns("AJ", [0.2, 0.5, float("nan")]) == {1}
    assert best_columns("median_error_cm", [3.0, 1.0, 1.0]) == {1, 2}
    assert best_columns("points", [1, 2]) == set()
    table = comparison_table("median_error_cm", {"i0": {"lk": 1.5, "static": 9.0}}, ["i0"],
                             ["lk", "static"])
    assert "| i0 | **1.50** | 9.00 |" in table


def test_run_table_markdown():
    text = run_table({"instance_0": {"points": 3, "mask_adherence": 0.5, "per_frame": {}}},
                     {"points": 3, "mask_adherence": 0.5}, title="t", skipped={"instance_1": "empty"})
    assert text.startswith("# t\n")
    assert "| instance | points | mask adherence ↑ |" in text
    assert "| instance_0 | 3 | 0.500 |" in text and "instance_1 | skipped: empty" in text
    assert "AJ" not in text.split("\n\n")[1]  # no ground truth: no GT column
