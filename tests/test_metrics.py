"""Ground-truth metrics on hand-made tracks with answers worked out by hand."""

import numpy as np
import pytest

from permask.metrics import gt_metrics, overall, survival

THRESHOLDS = (0.01, 0.02, 0.05, 0.10, 0.20)


def line_tracks(T=5, N=2, speed=0.1):
    """Points moving along x at `speed` m/frame, queried at frame 0."""
    t = np.arange(T)[:, None, None]
    base = np.zeros((1, N, 3))
    base[0, :, 1] = np.arange(N)
    return base + t * np.array([speed, 0, 0])


def test_perfect_tracks_score_one():
    gt = line_tracks()
    vis = np.ones(gt.shape[:2], bool)
    m = gt_metrics(gt, vis, gt, vis, np.zeros(2, int), THRESHOLDS)
    assert m["AJ"] == 1.0 and m["delta_avg"] == 1.0 and m["OA"] == 1.0
    assert m["median_error_cm"] == 0.0 and m["survival"] == 1.0


def test_static_prediction_by_hand():
    # moving 10 cm / frame; static prediction error at frame t is 0.1 t: 10, 20, 30, 40 cm
    gt = line_tracks(T=5, speed=0.1)
    pred = np.repeat(gt[:1], 5, axis=0)
    vis = np.ones((5, 2), bool)
    m = gt_metrics(pred, vis, gt, vis, np.zeros(2, int), THRESHOLDS)
    # within d over frames 1..4 (errors .1 .2 .3 .4): 1cm 0, 2cm 0, 5cm 0, 10cm 0 (strict <), 20cm 1/4
    assert m["pts_within_20cm"] == pytest.approx(0.25)
    assert m["delta_avg"] == pytest.approx(0.05)
    # jaccard: TP = within & vis; FP = the rest of the predicted-visible pairs
    assert m["jaccard_20cm"] == pytest.approx(2 / (8 + 6))
    assert m["median_error_cm"] == pytest.approx(25.0)
    # first failure (error > 20 cm) at frame 3: frames 1, 2 ok of 4 evaluated
    assert m["survival"] == pytest.approx(0.5)


def test_half_occluded_predicted_visible_throughout():
    gt = line_tracks(T=5)
    gt_vis = np.ones((5, 2), bool)
    gt_vis[1:3] = False  # evaluated frames 1..4: two occluded, two visible
    pred_vis = np.ones((5, 2), bool)
    m = gt_metrics(gt, pred_vis, gt, gt_vis, np.zeros(2, int), THRESHOLDS)
    assert m["delta_avg"] == 1.0  # every GT-visible pair is exact
    assert m["AJ"] == pytest.approx(4 / (4 + 4))  # 4 TP, 4 FP on occluded frames
    assert m["OA"] == pytest.approx(0.5)


def test_one_outlier():
    gt = line_tracks(T=6, N=1)
    pred = gt.copy()
    pred[3, 0] += [1.0, 0, 0]
    vis = np.ones((6, 1), bool)
    m = gt_metrics(pred, vis, gt, vis, np.zeros(1, int), THRESHOLDS)
    assert m["delta_avg"] == pytest.approx(4 / 5)
    assert m["AJ"] == pytest.approx(4 / (5 + 1))
    assert m["survival"] == pytest.approx(2 / 5)


def test_frames_up_to_query_frame_not_evaluated():
    gt = line_tracks(T=4, N=1)
    pred = gt.copy()
    pred[:2] = np.nan  # before/at the query frame: must not count
    vis = np.ones((4, 1), bool)
    m = gt_metrics(pred, vis, gt, vis, np.array([1]), THRESHOLDS)
    # frame 1 is the query frame: excluded; frames 2, 3 exact
    assert m["delta_avg"] == 1.0


def test_survival_never_lost_is_one():
    err = np.zeros((4, 3))
    ev = np.ones((4, 3), bool)
    assert survival(err, ev, ev, 0.2) == 1.0


def test_overall_weights_by_points():
    o = overall({"a": {"points": 1, "AJ": 1.0}, "b": {"points": 3, "AJ": 0.0}})
    assert o["points"] == 4 and o["AJ"] == pytest.approx(0.25)


def test_pixel_units():
    gt = line_tracks(T=3, N=1, speed=1.0)[..., :2]  # 1 px per frame
    pred = np.repeat(gt[:1], 3, axis=0)
    vis = np.ones((3, 1), bool)
    m = gt_metrics(pred, vis, gt, vis, np.zeros(1, int), (1, 2, 4), unit="px")
    # errors 1 px and 2 px: within 1 px (strict) none; within 2 px one of two; within 4 px both
    assert m["pts_within_2px"] == 0.5 and m["pts_within_4px"] == 1.0
    assert m["median_error_px"] == 1.5
