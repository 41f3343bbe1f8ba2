"""MVTracker's evaluation: TAP-Vid-style AJ, <delta_avg and OA per track on world 3D tracks, plus
median / average / final trajectory error and survival, averaged over tracks and reported in
percent (x100, as MVTracker's tables: errors in metres x100 are centimetres), for all tracks and
for static / dynamic / very dynamic ones.

A numpy port of `evaluate_predictions` (with its `compute_metrics` and `compute_tapvid_metrics`)
in ethz-vlg/mvtracker `mvtracker/evaluation/metrics.py` (commit ceea8ad), with the per-dataset
settings of `mvtracker/evaluation/evaluator_3dpt.py` (`SETTINGS`). The reference runs in torch
float32; so does this port (numpy float32), and torch's rules are kept where they differ from
numpy's: the median of an even count is the lower middle value, query frames are truncated
(`.long()`), and figures are not rounded (the reference's DataFrame rounds them to 2 decimals).

What MVTracker scores, unlike TAP-Vid: only tracks with at least two true-visible frames from
their query frame on; each track's figures are computed on its own and the tracks averaged
(NaN-aware); the query frame and the frames before it are not scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32


@dataclass(frozen=True)
class Setting:
    """One evaluation setting of MVTracker's `evaluate_3dpt` (distances in metres)."""

    distance_thresholds: tuple[float, ...]
    survival_threshold: float
    static_threshold: float | None
    dynamic_threshold: float | None
    very_dynamic_threshold: float | None


SETTINGS = {
    "kubric-multiview": Setting((0.05, 0.1, 0.2, 0.4, 0.8), 0.5, 0.01, 0.1, 2.0),
    "dexycb-multiview": Setting((0.01, 0.02, 0.05, 0.1, 0.2), 0.1, 0.01, 0.1, 0.5),
    "panoptic-multiview": Setting((0.05, 0.10, 0.20, 0.40), 1.0, None, None, None),
}


def _lower_nanmedian(x: np.ndarray) -> np.ndarray:
    """torch.nanmedian over axis 0 of [T,N]: the lower middle of the non-NaN values (NaN if none)."""
    ordered = np.sort(x, axis=0)  # NaN last
    count = (~np.isnan(x)).sum(0)
    idx = np.maximum(count - 1, 0) // 2
    out = np.take_along_axis(ordered, idx[None], axis=0)[0]
    return np.where(count > 0, out, np.nan).astype(x.dtype)


def per_track(query_points: np.ndarray, gt_occluded: np.ndarray, gt_tracks: np.ndarray,
              pred_occluded: np.ndarray, pred_tracks: np.ndarray,
              distance_thresholds, survival_threshold: float) -> dict[str, np.ndarray]:
    """The reference's `compute_metrics` (query_mode 'first') for one video, per track.

    query_points [N,1+D] (t, coordinates); gt_occluded, pred_occluded [T,N] bool; gt_tracks,
    pred_tracks [T,N,D]. Returns {name: [N] float32}, names as the reference's without
    `_per_track`.
    """
    T, N = gt_occluded.shape
    gt_tracks, pred_tracks = np.asarray(gt_tracks, F32), np.asarray(pred_tracks, F32)
    q_t = np.asarray(query_points, F32)[:, 0].astype(np.int64)  # torch .long(): truncation
    frames = np.arange(T)[:, None]
    evaluation = (frames != q_t[None]) & (frames >= q_t[None])
    count = evaluation.sum(0).astype(F32)
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        right = (pred_occluded == gt_occluded) & evaluation
        out["occlusion_accuracy"] = right.sum(0).astype(F32) / count
        for name, occluded in (("occlusion_accuracy_for_vis0", True),
                               ("occlusion_accuracy_for_vis1", False)):
            among = (gt_occluded == occluded) & evaluation
            out[name] = (right & among).sum(0).astype(F32) / among.sum(0).astype(F32)
        distances = np.sqrt(np.sum(np.square(pred_tracks - gt_tracks), axis=-1, dtype=F32))
        visible_points = (~gt_occluded & evaluation).sum(0).astype(F32)
        jaccards, within = [], []
        for thresh in np.asarray(distance_thresholds, F32):
            inside = distances < thresh
            correct = (inside & ~gt_occluded & evaluation).sum(0).astype(F32)
            out[f"pts_within_{thresh:.2f}"] = correct / visible_points
            tp = (inside & ~pred_occluded & ~gt_occluded & evaluation).sum(0).astype(F32)
            fp = ((~inside & ~pred_occluded) | (~pred_occluded & gt_occluded))
            fp = (fp & evaluation).sum(0).astype(F32)
            out[f"jaccard_{thresh:.2f}"] = tp / (visible_points + fp)
            jaccards.append(out[f"jaccard_{thresh:.2f}"])
            within.append(out[f"pts_within_{thresh:.2f}"])
        out["average_jaccard"] = np.stack(jaccards, -1).mean(-1, dtype=F32)
        out["average_pts_within_thresh"] = np.stack(within, -1).mean(-1, dtype=F32)

        visible = ~gt_occluded
        scored = np.where(visible & (frames >= q_t[None]), distances, np.nan).astype(F32)
        out["mte_visible"] = _lower_nanmedian(scored)
        n_scored = (~np.isnan(scored)).sum(0).astype(F32)
        out["ate_visible"] = np.nansum(scored, axis=0, dtype=F32) / n_scored
        last_visible = np.argmax(visible * frames, axis=0)
        out["fde_visible"] = scored[last_visible, np.arange(N)]
        failed = (scored > F32(survival_threshold)) & visible
        failure = np.where(failed.any(0), np.argmax(failed, axis=0), T)
        out["survival"] = (failure - q_t).astype(F32) / (T - q_t).astype(F32)
    return out


def evaluate_predictions(gt_tracks: np.ndarray, gt_visibilities: np.ndarray,
                         pred_tracks: np.ndarray, pred_occluded: np.ndarray,
                         query_points: np.ndarray, setting: Setting
                         ) -> dict[str, dict[str, float]]:
    """The reference's `evaluate_predictions` (unrounded): {group: {figure: value}}.

    gt_tracks, pred_tracks [T,N,D]; gt_visibilities, pred_occluded [T,N] bool; query_points
    [N,1+D] (t, coordinates). Groups: `all_any`, and where the setting names them `all_static`,
    `all_dynamic`, `all_very_dynamic`, `all_dynamic-static-mean`; a group without tracks is left
    out. Figures x100; `n`: share of tracks in the group (%), `v`: share of visible frames (%).
    """
    gt_tracks = np.asarray(gt_tracks)
    T, N, _ = gt_tracks.shape
    q = np.asarray(query_points)
    gt_vis = np.asarray(gt_visibilities, bool) & (np.arange(T)[:, None] >= q[:, 0][None, :])
    movement = np.zeros(N)
    for i in range(N):
        track = gt_tracks[gt_vis[:, i], i, :]
        movement[i] = np.linalg.norm(track[1:] - track[:-1], axis=-1).sum()
    types = {"any": np.ones(N, bool)}
    if setting.static_threshold is not None:
        types["static"] = movement < setting.static_threshold
    if setting.dynamic_threshold is not None:
        types["dynamic"] = movement > setting.dynamic_threshold
    if setting.very_dynamic_threshold is not None:
        types["very_dynamic"] = movement > setting.very_dynamic_threshold
    enough = gt_vis.sum(0) >= 2  # the query and at least one more
    results: dict[str, dict[str, float]] = {}
    for kind, members in types.items():
        mask = enough & members
        if not mask.any():
            continue
        figures = per_track(q[mask], ~gt_vis[:, mask], gt_tracks[:, mask],
                            np.asarray(pred_occluded, bool)[:, mask],
                            np.asarray(pred_tracks)[:, mask],
                            setting.distance_thresholds, setting.survival_threshold)
        group = {k: _nanmean_percent(v) for k, v in figures.items()}
        group["n"] = mask.sum() / N * 100
        group["v"] = gt_vis[:, mask].sum() / mask.sum() / T * 100
        results[f"all_{kind}"] = group
    if "all_static" in results and "all_dynamic" in results:
        results["all_dynamic-static-mean"] = {
            k: (results["all_dynamic"][k] + results["all_static"][k]) / 2 for k in results["all_static"]}
    return results


def _nanmean_percent(values: np.ndarray) -> float:
    """torch's `v.nanmean().item() * 100` on float32 values."""
    ok = ~np.isnan(values)
    if not ok.any():
        return float("nan")
    return float(np.sum(values[ok], dtype=F32) / F32(ok.sum())) * 100
