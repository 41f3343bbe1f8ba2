"""Track quality figures.

With ground truth (3D, metric thresholds d in metres), evaluated on frames strictly after each
query's own frame:
- pts_within_d: share of GT-visible (point, frame) pairs whose error is below d; delta_avg: mean over d.
- jaccard_d = TP / (GT-visible + FP), TP: within d, predicted visible and GT visible;
  FP: predicted visible and (GT occluded or not within d). AJ: mean over d.
- OA: share of (point, frame) pairs where predicted visibility equals GT visibility.
- median_error_cm: median 3D error over GT-visible pairs, in centimetres.
- survival: mean over points of the share of evaluated frames before the first GT-visible frame
  whose error exceeds the largest threshold (1.0 = never lost).
"""

from __future__ import annotations

import numpy as np

from permask.data import GroundTruth, Queries, Scene
from permask.geometry import in_image, project
from permask.scene import mask_at_depth_resolution

DEFAULT_THRESHOLDS = (0.01, 0.02, 0.05, 0.10, 0.20)


def evaluation_mask(num_frames: int, query_frames: np.ndarray) -> np.ndarray:
    """[T,N] bool: frames strictly after each query's own frame."""
    return np.arange(num_frames)[:, None] > np.asarray(query_frames)[None, :]


def gt_metrics(pred_tracks: np.ndarray, pred_visible: np.ndarray, gt_tracks: np.ndarray,
               gt_visible: np.ndarray, query_frames: np.ndarray,
               thresholds=DEFAULT_THRESHOLDS, unit: str = "m") -> dict[str, float]:
    """Ground-truth metrics for one instance. Tracks [T,N,D] (D=3 metres, or D=2 pixels with
    unit="px" and pixel thresholds), visibility [T,N] bool."""
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
    """Mean share of evaluated frames before a point's first GT-visible failure (error > limit)."""
    n_eval = evaluated.sum(0)
    failed = gt_vis & (error > limit)
    T = error.shape[0]
    first_fail = np.where(failed.any(0), np.argmax(failed, axis=0), T)
    frames_ok = (evaluated & (np.arange(T)[:, None] < first_fail[None, :])).sum(0)
    has = n_eval > 0
    return float(np.mean(frames_ok[has] / n_eval[has])) if has.any() else float("nan")


def true_tracks(ground_truth: GroundTruth, queries: Queries, num_frames: int) -> np.ndarray | None:
    """[T,N,3] true world tracks of an instance's queries from the rigid object poses, or None
    when the ground truth does not cover the instance. NaN before each query's frame."""
    k = ground_truth.pose_index(queries.instance_id)
    if k is None:
        return None
    poses = ground_truth.object_poses[k].astype(np.float64)  # [T,4,4] object-to-world
    frames = queries.frame
    xyz = queries.points[:, 1:].astype(np.float64)
    # point in object coordinates at its own frame, then carried by every frame's pose
    inv = np.linalg.inv(poses[frames])  # [N,4,4]
    local = np.einsum("nij,nj->ni", inv[:, :3, :3], xyz) + inv[:, :3, 3]
    tracks = np.einsum("tij,nj->tni", poses[:, :3, :3], local) + poses[:, None, :3, 3]
    tracks[np.arange(num_frames)[:, None] < frames[None, :]] = np.nan
    return tracks


def true_visibility(scene: Scene, instance_id: str, tracks: np.ndarray,
                    depth_tolerance: float = 0.02) -> np.ndarray:
    """[T,N] bool: the true point lies inside the instance mask of some view, and where that
    view measured depth, the measurement agrees with the point's depth (not hidden behind)."""
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
            agrees = (depth <= 0) | (np.abs(depth - z) < depth_tolerance)
            visible[t] |= ok & mask[vi, ui] & agrees
    return visible


def summary_figures(tracks: np.ndarray, visible: np.ndarray) -> dict[str, float]:
    """Figures that need no ground truth: points and share visible at the last frame."""
    return {"points": int(tracks.shape[1]),
            "visible_at_end": float(visible[-1].mean()) if tracks.shape[1] else float("nan")}


def overall(per_instance: dict[str, dict[str, float]]) -> dict[str, float]:
    """Point-weighted mean of every numeric figure over instances (NaN-aware)."""
    if not per_instance:
        return {}
    keys = sorted({k for m in per_instance.values() for k in m if k != "points"})
    weights = np.array([m.get("points", 1) for m in per_instance.values()], float)
    out: dict[str, float] = {"points": int(weights.sum())}
    for k in keys:
        vals = np.array([m.get(k, np.nan) for m in per_instance.values()], float)
        ok = ~np.isnan(vals)
        out[k] = float(np.average(vals[ok], weights=weights[ok])) if ok.any() and weights[ok].sum() else float("nan")
    return out
