"""TAP-Vid 2D metrics (as TAP-Vid, CoTracker and most 2D trackers report them): Average Jaccard,
<delta^x_avg (share of points within 1, 2, 4, 8, 16 px, averaged) and occlusion accuracy.

A numpy port of `compute_tapvid_metrics` in google-deepmind/tapnet
`tapnet/tapvid/evaluation_datasets.py` (commit c2cbab8, Apache License 2.0, Copyright Google
LLC), for one video: the same operations in the same order (tests/test_protocols.py). Tracks are
pixels (x, y) of a video resized to 256x256 (`to_256`), the scale the published thresholds assume.
query_mode 'first': frames after each query's frame are scored (TAP-Vid "first", the queries of
DAVIS/Kinetics-first and of permask); 'strided': every frame but the query's.
"""

from __future__ import annotations

import numpy as np

PIXEL_THRESHOLDS = (1, 2, 4, 8, 16)
QUERY_MODES = ("first", "strided")
SIZE = 256  # the published tables' resolution


def to_256(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """[...,2] (x, y) pixels of a height x width image -> the same place in a 256x256 image."""
    return np.asarray(pixels, np.float64) * np.array([SIZE / width, SIZE / height])


def tapvid_metrics(query_points: np.ndarray, gt_occluded: np.ndarray, gt_tracks: np.ndarray,
                   pred_occluded: np.ndarray, pred_tracks: np.ndarray, query_mode: str = "first",
                   trackwise: bool = False) -> dict[str, float | np.ndarray]:
    """The reference's figures of one video.

    query_points [N,3] (t, y, x); gt_occluded, pred_occluded [N,T] bool (True = occluded);
    gt_tracks, pred_tracks [N,T,2] (x, y) pixels. Returns `occlusion_accuracy`,
    `pts_within_{k}`, `jaccard_{k}` (k = 1, 2, 4, 8, 16), `average_jaccard` (AJ) and
    `average_pts_within_thresh` (<delta^x_avg); floats, or [N] arrays with trackwise.
    """
    if query_mode not in QUERY_MODES:
        raise ValueError(f"unknown query mode {query_mode!r}; one of {', '.join(QUERY_MODES)}")
    query_points = np.asarray(query_points)[None]
    gt_occluded, pred_occluded = np.asarray(gt_occluded)[None], np.asarray(pred_occluded)[None]
    gt_tracks, pred_tracks = np.asarray(gt_tracks)[None], np.asarray(pred_tracks)[None]
    with np.errstate(all="ignore"):  # nothing to score: the figure is NaN, as the reference's
        metrics = _metrics(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks,
                           query_mode, (2,) if trackwise else (1, 2))
    if trackwise:
        return {k: np.asarray(v, np.float64).reshape(-1) for k, v in metrics.items()}
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in metrics.items()}


def _metrics(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, query_mode,
             summing_axis):
    eye = np.eye(gt_tracks.shape[2], dtype=np.int32)
    if query_mode == "first":
        query_frame_to_eval_frames = np.cumsum(eye, axis=1) - eye  # frames after the query's
    else:
        query_frame_to_eval_frames = 1 - eye  # every frame but the query's
    query_frame = np.round(query_points[..., 0]).astype(np.int32)
    evaluation_points = query_frame_to_eval_frames[query_frame] > 0
    metrics = {"occlusion_accuracy": np.sum(np.equal(pred_occluded, gt_occluded)
                                            & evaluation_points, axis=summing_axis)
               / np.sum(evaluation_points, axis=summing_axis)}
    visible = np.logical_not(gt_occluded)
    pred_visible = np.logical_not(pred_occluded)
    all_frac_within, all_jaccard = [], []
    for thresh in PIXEL_THRESHOLDS:
        within_dist = np.sum(np.square(pred_tracks - gt_tracks), axis=-1) < np.square(thresh)
        is_correct = np.logical_and(within_dist, visible)
        count_correct = np.sum(is_correct & evaluation_points, axis=summing_axis)
        count_visible_points = np.sum(visible & evaluation_points, axis=summing_axis)
        frac_correct = count_correct / count_visible_points
        metrics[f"pts_within_{thresh}"] = frac_correct
        all_frac_within.append(frac_correct)
        true_positives = np.sum(is_correct & pred_visible & evaluation_points, axis=summing_axis)
        gt_positives = np.sum(visible & evaluation_points, axis=summing_axis)
        false_positives = ((~visible) & pred_visible) | ((~within_dist) & pred_visible)
        false_positives = np.sum(false_positives & evaluation_points, axis=summing_axis)
        jaccard = true_positives / (gt_positives + false_positives)
        metrics[f"jaccard_{thresh}"] = jaccard
        all_jaccard.append(jaccard)
    metrics["average_jaccard"] = np.mean(np.stack(all_jaccard, axis=1), axis=1)
    metrics["average_pts_within_thresh"] = np.mean(np.stack(all_frac_within, axis=1), axis=1)
    return metrics
