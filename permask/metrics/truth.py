"""Figures against ground truth (see `permask.metrics`): TAP-Vid style position accuracy, Jaccard
and occlusion accuracy, median error and survival, per instance and per frame; the true tracks
and visibility they compare against."""

from __future__ import annotations

import numpy as np

from permask.data import GroundTruth, Queries, Scene
from permask.geometry import in_image, project, rigid_tracks
from permask.inputs.masks import mask_at_depth_resolution
from permask.metrics.figures import as_list


DEFAULT_THRESHOLDS = (0.01, 0.02, 0.05, 0.10, 0.20)


def evaluation_mask(num_frames: int, query_frames: np.ndarray) -> np.ndarray:
    """Which point-frames are scored: those strictly after each query's own frame.

    Args:
      num_frames: T.
      query_frames: [N] int, each query's frame.

    Returns:
      [T,N] bool.
    """
    return np.arange(num_frames)[:, None] > np.asarray(query_frames)[None, :]


def gt_metrics(pred_tracks: np.ndarray, pred_visible: np.ndarray, gt_tracks: np.ndarray,
               gt_visible: np.ndarray, query_frames: np.ndarray,
               thresholds=DEFAULT_THRESHOLDS, unit: str = "m") -> dict[str, float]:
    """Ground-truth metrics of one instance, TAP-Vid style (position accuracy, Jaccard,
    occlusion accuracy), plus the median error and survival.

    Args:
      pred_tracks: [T,N,D] predicted positions: D=3 world metres, or D=2 pixels with unit="px".
      pred_visible: [T,N] bool, predicted visibility.
      gt_tracks: [T,N,D] true positions, same units.
      gt_visible: [T,N] bool, true visibility.
      query_frames: [N] int; only frames after each query's frame are scored.
      thresholds: distances in the tracks' unit (metres by default: 1, 2, 5, 10, 20 cm).
      unit: "m" (keys named in cm) or a pixel unit such as "px".

    Returns:
      {pts_within_<d>, jaccard_<d> per threshold, delta_avg, AJ, OA (shares in [0,1]),
      median_error_cm (or median_error_<unit>), survival}; NaN where nothing was scored.
    """
    T = pred_tracks.shape[0]
    evaluated = evaluation_mask(T, query_frames)
    gt_vis = gt_visible & evaluated
    pred_vis = pred_visible & evaluated
    error = np.linalg.norm(pred_tracks - gt_tracks, axis=-1)
    error = np.where(np.isnan(error), np.inf, error)
    out: dict[str, float] = {}
    within_all, jaccard_all = [], []
    n_gt_vis = gt_vis.sum()
    for d in thresholds:
        within = error < d
        tp = (within & pred_vis & gt_vis).sum()
        fp = (pred_vis & (~gt_visible | ~within) & evaluated).sum()
        pts = within[gt_vis].mean() if n_gt_vis else np.nan
        jac = tp / (n_gt_vis + fp) if (n_gt_vis + fp) else np.nan
        key = f"{round(d * 100):g}cm" if unit == "m" else f"{d:g}{unit}"
        out[f"pts_within_{key}"] = float(pts)
        out[f"jaccard_{key}"] = float(jac)
        within_all.append(pts)
        jaccard_all.append(jac)
    out["delta_avg"] = float(np.mean(within_all))
    out["AJ"] = float(np.mean(jaccard_all))
    out["OA"] = float((pred_visible == gt_visible)[evaluated].mean()) if evaluated.any() else np.nan
    finite = error[gt_vis]
    median = float(np.median(finite)) if finite.size else np.nan
    out["median_error_cm" if unit == "m" else f"median_error_{unit}"] = median * 100 if unit == "m" else median
    out["survival"] = survival(error, gt_vis, evaluated, max(thresholds))
    return out


def survival(error: np.ndarray, gt_vis: np.ndarray, evaluated: np.ndarray, limit: float) -> float:
    """How long points survive: the mean over points of the share of their scored frames before
    their first truly visible frame with an error above `limit`.

    Args:
      error: [T,N] distances (inf where not tracked).
      gt_vis: [T,N] bool, truly visible and scored.
      evaluated: [T,N] bool, scored (see `evaluation_mask`).
      limit: the error (same unit) that counts as a failure.

    Returns:
      A share in [0,1]; NaN when no point has a scored frame.
    """
    n_eval = evaluated.sum(0)
    failed = gt_vis & (error > limit)
    T = error.shape[0]
    first_fail = np.where(failed.any(0), np.argmax(failed, axis=0), T)
    frames_ok = (evaluated & (np.arange(T)[:, None] < first_fail[None, :])).sum(0)
    has = n_eval > 0
    return float(np.mean(frames_ok[has] / n_eval[has])) if has.any() else float("nan")


def true_tracks(ground_truth: GroundTruth, queries: Queries, num_frames: int) -> np.ndarray | None:
    """True world tracks of an instance's queries, moved with its rigid object poses.

    Args:
      ground_truth: the file's ground truth (object poses [T,K,4,4]).
      queries: the instance's queries (points [N,4]: t, x, y, z in metres).
      num_frames: T.

    Returns:
      [T,N,3] metres, NaN before each query's frame; None when the poses do not cover the
      instance.
    """
    k = ground_truth.pose_index(queries.instance_id)
    if k is None:
        return None
    tracks = rigid_tracks(ground_truth.object_poses, np.full(len(queries), k), queries.points)
    return tracks[:num_frames]


def ground_truth_tracks(scene: Scene, queries: Queries, depth_tolerance: float = 0.02
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(true tracks [T,N,3] world, true visibility [T,N] bool, index [N] of each query's track in
    the file's `gt_tracks` or None) of an instance's queries, or None without truth for them.

    Point tracks first: every query must be one of the instance's `gt_query_points` (as
    `query=gt` makes them); the file's tracks and visibility are then the truth, on every frame.
    Else rigid poses (`true_tracks`, visibility from masks and depth: `true_visibility`; with
    depth that is not metric, from masks alone).
    """
    gt = scene.ground_truth
    if gt is None:
        return None
    if gt.point_tracks is not None:
        index = gt.point_tracks.match(queries.instance_id, queries.points)
        if len(index) and (index >= 0).all():
            truth = gt.point_tracks
            return (truth.tracks[index].transpose(1, 0, 2)[:scene.num_frames],
                    truth.visible[index].T[:scene.num_frames], index)
    tracks = true_tracks(gt, queries, scene.num_frames)
    if tracks is None:
        return None
    tolerance = depth_tolerance if scene.depth_metric else np.inf
    return tracks, true_visibility(scene, queries.instance_id, tracks, tolerance), None


def true_visibility(scene: Scene, instance_id: str, tracks: np.ndarray,
                    depth_tolerance: float = 0.02) -> np.ndarray:
    """True visibility of an instance's true tracks, from its masks and the measured depth.

    Args:
      scene: the recording (masks, depths, cameras).
      instance_id: whose masks count.
      tracks: [T,N,3] true world positions, metres (NaN: unknown).
      depth_tolerance: metres; a measured depth closer than the point by more hides it (inf:
        masks alone).

    Returns:
      [T,N] bool: inside the instance's mask in some view whose depth there (where measured)
      agrees with the point's.
    """
    T, N, _ = tracks.shape
    H, W = scene.image_size
    visible = np.zeros((T, N), bool)
    masks = scene.masks[instance_id]
    for v in range(scene.num_views):
        for t in range(T):
            ok = ~np.isnan(tracks[t, :, 0])
            if not ok.any():
                continue
            uv, z = project(np.nan_to_num(tracks[t]), scene.intrs[v, t], scene.extrs[v, t])
            ok &= in_image(uv, H, W) & (z > 0)
            ui = np.clip(np.rint(np.nan_to_num(uv[:, 0])).astype(int), 0, W - 1)
            vi = np.clip(np.rint(np.nan_to_num(uv[:, 1])).astype(int), 0, H - 1)
            mask = mask_at_depth_resolution(masks[v, t], H, W)
            depth = scene.depths[v, t][vi, ui]
            agrees = (depth <= 0) | (np.abs(depth - z) < depth_tolerance)  # inf: masks alone
            visible[t] |= ok & mask[vi, ui] & agrees
    return visible


def gt_per_frame(pred_tracks: np.ndarray, pred_visible: np.ndarray, gt_tracks: np.ndarray,
                 gt_visible: np.ndarray, query_frames: np.ndarray,
                 thresholds=DEFAULT_THRESHOLDS) -> dict[str, list[float]]:
    """Per-frame ground-truth curves ([T] lists, NaN where no point is evaluated): median 3D error
    (cm) and delta_avg over the GT-visible points of each frame after their query frame."""
    T = pred_tracks.shape[0]
    gt_vis = gt_visible & evaluation_mask(T, query_frames)
    error = np.linalg.norm(np.asarray(pred_tracks, np.float64) - gt_tracks, axis=-1)
    error = np.where(np.isnan(error), np.inf, error)
    median, delta = np.full(T, np.nan), np.full(T, np.nan)
    for t in range(T):
        e = error[t][gt_vis[t]]
        if e.size:
            median[t] = np.median(e) * 100
            delta[t] = np.mean([(e < d).mean() for d in thresholds])
    return {"median_error_cm": as_list(median), "delta_avg": as_list(delta)}
