"""TAPVid-3D metrics: 3D Average Jaccard, APD (average share of points within threshold) and
occlusion accuracy, in every scaling mode, with depth-adaptive or fixed metric thresholds.

A numpy port of `compute_tapvid3d_metrics` in google-deepmind/tapnet
`tapnet/tapvid3d/evaluation/metrics.py` (commit c2cbab8, Apache License 2.0, Copyright Google
LLC), for one video in the reference's default order 'n t': the same operations in the same
order, so the figures are equal to the reference's (tests/test_protocols.py). What it means:

- tracks are in the camera frame of the video (x, y, z metres, z forward); `intrinsics` is
  (fx, fy, cx, cy) in pixels; the reference paper reads it at 256x256 but only fx*fy matters;
- every frame counts (the reference has no query-frame mask; query points only pick the frame
  of `per_trajectory` / `local_neighborhood` / `median_on_queries` scaling);
- adaptive thresholds: k pixels back-projected at the true depth, k * z_gt / sqrt(fx fy), for
  k in 1, 2, 4, 8, 16; fixed thresholds: 1, 4, 16, 64, 256 cm (`FIXED_METRES`);
- scaling: the predicted tracks are multiplied by a factor before comparing (`SCALINGS`).
"""

from __future__ import annotations

import warnings

import numpy as np

PIXEL_THRESHOLDS = (1, 2, 4, 8, 16)
FIXED_METRES = {1: 0.01, 2: 0.04, 4: 0.16, 8: 0.64, 16: 2.56}  # PIXEL_TO_FIXED_METRIC_THRESH
SCALINGS = ("none", "median", "mean", "per_trajectory", "local_neighborhood",
            "median_on_queries", "reproduce_2d")
LOCAL_NEIGHBORHOOD_METRES = 0.05


def threshold_multiplier(gt_tracks: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """[...,N,T] metres per pixel at the true depth: z_gt / sqrt(fx fy)."""
    mean_focal = np.sqrt(intrinsics[..., 0] * intrinsics[..., 1])
    return gt_tracks[..., -1] / mean_focal[..., np.newaxis, np.newaxis]


def local_tracks(gt_occluded, gt_tracks, pred_occluded, pred_tracks, thresh):
    """`local_neighborhood`: for every track, all (point, frame) pairs whose true position lies
    within `thresh` of the track's on the same frame, as one padded track, with the reference's
    weighting. Inputs [N,T] / [N,T,3]; outputs [N,L] / [N,L,3] and weights [N,L]."""
    out = {"gt_tr": [], "gt_occ": [], "pr_tr": [], "pr_occ": []}
    for idx in range(gt_occluded.shape[0]):
        diffs = gt_tracks - gt_tracks[idx:idx + 1]
        is_neighbor = np.reshape(np.sum(np.square(diffs), axis=-1) < thresh * thresh, [-1])

        def grab(x):
            return np.reshape(x, [-1, x.shape[-1]])[is_neighbor]  # noqa: B023 - this loop's mask

        out["gt_tr"].append(grab(gt_tracks))
        out["pr_tr"].append(grab(pred_tracks))
        out["gt_occ"].append(grab(gt_occluded[..., np.newaxis]))
        out["pr_occ"].append(grab(pred_occluded[..., np.newaxis]))
    largest = np.max([x.shape[0] for x in out["gt_tr"]])

    def pad(x):
        res = np.zeros([largest, x.shape[-1]], dtype=x.dtype)
        res[: x.shape[0]] = x
        return res

    gt_tr = np.stack([pad(x) for x in out["gt_tr"]])
    pr_tr = np.stack([pad(x) for x in out["pr_tr"]])
    valid = np.stack([pad(np.ones_like(x)) for x in out["gt_occ"]])[..., 0]
    gt_occ = np.stack([pad(x) for x in out["gt_occ"]])[..., 0]
    pr_occ = np.stack([pad(x) for x in out["pr_occ"]])[..., 0]
    weighting = np.sum((1.0 - gt_occluded), axis=1, keepdims=True) / np.maximum(
        1.0, np.sum((1.0 - gt_occ) * valid, axis=1, keepdims=True))
    return gt_occ, gt_tr, pr_occ, pr_tr, valid * weighting


def tapvid3d_metrics(gt_occluded: np.ndarray, gt_tracks: np.ndarray, pred_occluded: np.ndarray,
                     pred_tracks: np.ndarray, intrinsics: np.ndarray, *,
                     scaling: str = "median", query_points: np.ndarray | None = None,
                     fixed_thresholds: bool = False,
                     local_neighborhood_thresh: float = LOCAL_NEIGHBORHOOD_METRES,
                     trackwise: bool = False) -> dict[str, float | np.ndarray]:
    """The reference's figures of one video.

    gt_occluded, pred_occluded: [N,T] bool (True = occluded). gt_tracks, pred_tracks: [N,T,3]
    camera frame, metres. intrinsics: [4] (fx, fy, cx, cy). query_points: [N,3] (t, y, x), needed
    by the query-based scalings (only t is read). Returns the reference's keys as floats:
    `occlusion_accuracy`, `pts_within_{k}`, `jaccard_{k}` (k = 1, 2, 4, 8, 16),
    `average_jaccard` (3D AJ), `average_pts_within_thresh` (APD). trackwise: per track ([N]
    arrays; the reference's `get_trackwise_metrics`) instead of the video's figure.

    One departure, where the reference cannot answer: with `local_neighborhood` on one video and
    trackwise False, the reference fails (it stacks 0-d figures along axis -2); here the video's
    figure pools the same weighted counts over every neighbourhood, as the other modes pool over
    every track.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r}; one of {', '.join(SCALINGS)}")
    gt_occluded = np.asarray(gt_occluded)
    pred_occluded = np.asarray(pred_occluded)
    gt_tracks = np.asarray(gt_tracks)
    pred_tracks = np.asarray(pred_tracks)
    intrinsics = np.asarray(intrinsics)
    if scaling != "local_neighborhood":  # the reference's '() n t': one video as a batch of one
        gt_occluded, pred_occluded = gt_occluded[None], pred_occluded[None]
        gt_tracks, pred_tracks = gt_tracks[None], pred_tracks[None]
        if query_points is not None:
            query_points = np.asarray(query_points)[None]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN medians: the figure is NaN
        metrics = _metrics(gt_occluded, gt_tracks, pred_occluded, pred_tracks, intrinsics,
                           scaling, query_points, fixed_thresholds, local_neighborhood_thresh,
                           (-1,) if trackwise else (-2, -1))
    if trackwise:
        return {k: np.asarray(v, np.float64).reshape(-1) for k, v in metrics.items()}
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in metrics.items()}


def _metrics(gt_occluded, gt_tracks, pred_occluded, pred_tracks, intrinsics, scaling,
             query_points, fixed_thresholds, local_neighborhood_thresh, summing_axis):
    evaluation_weights = np.ones(gt_occluded.shape)
    pred_norms = np.sqrt(np.maximum(1e-12, np.sum(np.square(pred_tracks), axis=-1)))
    gt_norms = np.sqrt(np.maximum(1e-12, np.sum(np.square(gt_tracks), axis=-1)))
    if scaling == "reproduce_2d":
        scale_factor = gt_tracks[..., -1:] / pred_tracks[..., -1:]
    elif scaling in ("per_trajectory", "local_neighborhood"):
        query_frame = np.round(query_points[..., 0]).astype(np.int32)[..., np.newaxis]

        def do_take(x):
            took = np.take_along_axis(x, query_frame, axis=-1)
            return np.maximum(took, 1e-12)[..., np.newaxis]

        scale_factor = do_take(gt_tracks[..., -1]) / do_take(pred_tracks[..., -1])
        if scaling == "local_neighborhood":
            gt_occluded, gt_tracks, pred_occluded, pred_tracks, evaluation_weights = local_tracks(
                gt_occluded, gt_tracks, pred_occluded, pred_tracks, local_neighborhood_thresh)
    else:
        either_occluded = np.logical_or(gt_occluded, pred_occluded)
        nan_mat = np.full(pred_norms.shape, np.nan)
        pred_norms = np.where(either_occluded, nan_mat, pred_norms)
        gt_norms = np.where(either_occluded, nan_mat, gt_norms)
        if scaling == "median":
            scale_factor = (np.nanmedian(gt_norms, axis=(-2, -1), keepdims=True)
                            / np.nanmedian(pred_norms, axis=(-2, -1), keepdims=True))
        elif scaling == "mean":
            scale_factor = (np.nanmean(gt_norms, axis=(-2, -1), keepdims=True)
                            / np.nanmean(pred_norms, axis=(-2, -1), keepdims=True))
        elif scaling == "none":
            scale_factor = 1.0
        else:  # median_on_queries
            range_n_pts = np.arange(pred_norms.shape[-2])
            query_frame = np.round(query_points[..., 0]).astype(np.int32).squeeze()
            pred_norms = pred_norms[:, range_n_pts, query_frame][..., None]
            gt_norms = gt_norms[:, range_n_pts, query_frame][..., None]
            scale_factor = (np.nanmedian(gt_norms, axis=(-2, -1), keepdims=True)
                            / np.nanmedian(pred_norms, axis=(-2, -1), keepdims=True))
    pred_tracks = pred_tracks * scale_factor

    metrics = {"occlusion_accuracy": np.sum(np.equal(pred_occluded, gt_occluded)
                                            * evaluation_weights, axis=summing_axis)
               / np.sum(evaluation_weights, axis=summing_axis)}
    visible = np.logical_not(gt_occluded)
    pred_visible = np.logical_not(pred_occluded)
    all_frac_within, all_jaccard = [], []
    for thresh in PIXEL_THRESHOLDS:
        if fixed_thresholds:
            pointwise_thresh = FIXED_METRES[thresh]
        else:
            pointwise_thresh = thresh * threshold_multiplier(gt_tracks, intrinsics)
        within_dist = np.sum(np.square(pred_tracks - gt_tracks), axis=-1) < np.square(pointwise_thresh)
        is_correct = np.logical_and(within_dist, visible)
        count_correct = np.sum(is_correct * evaluation_weights, axis=summing_axis)
        count_visible_points = np.sum(visible * evaluation_weights, axis=summing_axis)
        frac_correct = count_correct / count_visible_points
        metrics[f"pts_within_{thresh}"] = frac_correct
        all_frac_within.append(frac_correct)
        true_positives = np.sum((is_correct & pred_visible) * evaluation_weights, axis=summing_axis)
        gt_positives = np.sum(visible * evaluation_weights, axis=summing_axis)
        false_positives = ((~visible) & pred_visible) | ((~within_dist) & pred_visible)
        false_positives = np.sum(false_positives * evaluation_weights, axis=summing_axis)
        jaccard = true_positives / (gt_positives + false_positives)
        metrics[f"jaccard_{thresh}"] = jaccard
        all_jaccard.append(jaccard)
    # the reference stacks along axis -2: the same means, but 0-d figures cannot stack there
    metrics["average_jaccard"] = np.mean(np.stack(all_jaccard, axis=0), axis=0)
    metrics["average_pts_within_thresh"] = np.mean(np.stack(all_frac_within, axis=0), axis=0)
    return metrics
