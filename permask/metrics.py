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

Without ground truth (real recordings; see `gt_free_metrics`), on the same evaluated frames, for
the (point, frame) pairs the tracker calls visible. A view *sees* a point when the point projects
inside its image, in front of the camera, and is not hidden: where the view measured depth at that
pixel, the measurement is not closer than the point by more than `depth_tolerance` (a point
floating in front of the observed surface is still seen; one behind it is not).
- mask_adherence (higher is better): mean over visible pairs seen by at least one view of the
  share of the seeing views in which the point lies inside its own instance's mask.
- static_mask_adherence: the same for the zero-motion track (each query kept at its position, all
  frames visible): how much the object's masks moved away from the queries. A reference, not a
  score: near 1 the object hardly moved and adherence cannot tell trackers apart.
- motion_adherence (higher is better): (mask_adherence - static) / (1 - static): 0 for a tracker
  that stands still, 1 for one whose points all stay inside the mask, negative when worse than
  standing still. NaN when the masks hardly moved (1 - static < MIN_MASK_MOTION).
- depth_err_cm (lower is better): median over visible pairs of the smallest |projected z - observed
  depth| over the views that measured depth at the point's pixel (distance to the observed surface
  along the camera rays), in cm; depth_within_2cm (higher is better): share of those pairs within
  2 cm.
- tracked_at_end (higher is better): share of points that at the last frame are predicted visible
  AND lie inside their mask in at least half the views that see them (a point left behind by the
  object does not count as tracked, unlike `visible_at_end`, which only reads the tracker's flag).
- jitter_mm (lower is better): median norm of the second temporal difference
  x[t+1] - 2 x[t] + x[t-1] over visible triples, in mm. Standing still scores 0: read it together
  with adherence, never alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.data import GroundTruth, Queries, Scene
from permask.geometry import in_image, project, rigid_tracks
from permask.inputs.masks import mask_at_depth_resolution

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
            agrees = (depth <= 0) | (np.abs(depth - z) < depth_tolerance)  # inf: masks alone
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
    keys = sorted({k for m in per_instance.values() for k, v in m.items()
                   if k != "points" and is_number(v)})  # skips nested curves (per_frame)
    weights = np.array([m.get("points", 1) for m in per_instance.values()], float)
    out: dict[str, float] = {"points": int(weights.sum())}
    for k in keys:
        vals = np.array([m.get(k, np.nan) if is_number(m.get(k)) else np.nan
                         for m in per_instance.values()], float)
        ok = ~np.isnan(vals)
        out[k] = float(np.average(vals[ok], weights=weights[ok])) if ok.any() and weights[ok].sum() else float("nan")
    return out


def is_number(value) -> bool:
    """A scalar figure (int, float, numpy number; not bool, not a nested curve)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


# -------------------------------------------------------------------------------------------------
# ground-truth-free measures (see the module docstring)

GT_FREE_DEPTH_TOLERANCE = 0.03  # m: a view's depth closer than the point by more hides it
DEPTH_WITHIN = 0.02  # m: depth_within_2cm
MIN_MASK_MOTION = 0.1  # 1 - static adherence below this: masks hardly moved, motion_adherence NaN

# Which way is better, for tables and rankings: +1 higher is better, -1 lower is better.
DIRECTION: dict[str, int] = {
    "AJ": 1, "delta_avg": 1, "OA": 1, "median_error_cm": -1, "survival": 1,
    "mask_adherence": 1, "motion_adherence": 1, "depth_err_cm": -1, "depth_within_2cm": 1,
    "tracked_at_end": 1, "jitter_mm": -1, "visible_at_end": 1,
}


PROTOCOL_PREFIXES = ("tapvid3d_", "tapvid2d_", "mvtracker_")  # permask/protocols/modes.py


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither (counts, references).
    A published protocol's figure (`tapvid3d_AJ`, `tapvid2d_OA@cam_00`, `mvtracker_MTE`, ...)
    goes the way its plain name goes, as does a figure renamed by mode (`NAME [MODE]`)."""
    metric = metric.split(" [", 1)[0]
    if metric.startswith(PROTOCOL_PREFIXES):
        plain = metric.split("_", 1)[1].split("@", 1)[0]
        return {"APD": 1, "MTE": -1, "ATE": -1, "FDE": -1, "n": 0}.get(plain, direction(plain))
    if metric in DIRECTION:
        return DIRECTION[metric]
    if metric.startswith(("pts_within_", "jaccard_")):
        return 1
    if metric.startswith("median_error_"):
        return -1
    return 0


@dataclass
class Observations:
    """How the views see a set of tracks [T,N,3].

    seen: [T,N,V] the view sees the point (in image, in front, not hidden behind observed depth).
    in_mask: [T,N,V] the point projects inside the instance's mask of that view (only where seen).
    depth_err: [T,N] smallest |projected z - observed depth| (m) over views that measured depth at
      the point's pixel, NaN where none did.
    """

    seen: np.ndarray
    in_mask: np.ndarray
    depth_err: np.ndarray

    def adherence(self) -> np.ndarray:
        """[T,N] share of seeing views that put the point inside the mask; NaN where none sees it."""
        n_seen = self.seen.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_seen > 0, (self.in_mask & self.seen).sum(-1) / n_seen, np.nan)


def observe(scene: Scene, instance_id: str | None, tracks: np.ndarray,
            depth_tolerance: float = GT_FREE_DEPTH_TOLERANCE) -> Observations:
    """Project tracks [T,N,3] (world, m; NaN = no position) into every view of every frame.

    Masks are read at their own resolution (the depth pixel's centre mapped into the mask), so no
    mask is resampled; depth <= 0 or non-finite counts as no measurement. instance_id None: only
    what the views see (`in_mask` stays False).
    """
    T, N, _ = tracks.shape
    V = scene.num_views
    H, W = scene.image_size
    masks = scene.masks[instance_id] if instance_id is not None else None
    seen = np.zeros((T, N, V), bool)
    in_mask = np.zeros((T, N, V), bool)
    depth_err = np.full((T, N), np.inf)
    for t in range(T):
        finite = np.isfinite(tracks[t]).all(-1)
        if not finite.any():
            continue
        pts = np.where(finite[:, None], tracks[t], 0.0)
        for v in range(V):
            uv, z = project(pts, scene.intrs[v, t], scene.extrs[v, t])
            ok = finite & in_image(uv, H, W) & (z > 0)
            if not ok.any():
                continue
            ui = np.clip(np.rint(np.nan_to_num(uv[:, 0])).astype(int), 0, W - 1)
            vi = np.clip(np.rint(np.nan_to_num(uv[:, 1])).astype(int), 0, H - 1)
            observed = scene.depths[v, t][vi, ui].astype(np.float64)
            measured = ok & np.isfinite(observed) & (observed > 0)
            hidden = measured & (observed < z - depth_tolerance)
            seen[t, :, v] = ok & ~hidden
            if masks is not None:
                Hm, Wm = masks.shape[-2:]
                mi = np.clip(((vi + 0.5) * Hm / H).astype(int), 0, Hm - 1)
                mj = np.clip(((ui + 0.5) * Wm / W).astype(int), 0, Wm - 1)
                in_mask[t, :, v] = seen[t, :, v] & np.asarray(masks[v, t], bool)[mi, mj]
            err = np.where(measured, np.abs(observed - z), np.inf)
            depth_err[t] = np.minimum(depth_err[t], err)
    depth_err[np.isinf(depth_err)] = np.nan
    return Observations(seen, in_mask, depth_err)


def static_tracks(query_points: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The zero-motion track of queries [N,4] (t,x,y,z): ([T,N,3], visible [T,N]), NaN/invisible
    before each query's frame."""
    q = np.asarray(query_points, np.float64)
    tracks = np.repeat(q[None, :, 1:], num_frames, axis=0)
    before = np.arange(num_frames)[:, None] < q[None, :, 0].astype(np.int64)
    tracks[before] = np.nan
    return tracks, ~before


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def jitter_mm(tracks: np.ndarray, visible: np.ndarray) -> float:
    """Median norm (mm) of x[t+1] - 2 x[t] + x[t-1] over triples visible and finite throughout."""
    if tracks.shape[0] < 3:
        return float("nan")
    ok = visible & np.isfinite(tracks).all(-1)
    triple = ok[:-2] & ok[1:-1] & ok[2:]
    second = tracks[2:] - 2 * tracks[1:-1] + tracks[:-2]
    norms = np.linalg.norm(second[triple], axis=-1)
    return float(np.median(norms) * 1000) if norms.size else float("nan")


@dataclass
class GtFree:
    """GT-free figures of one instance (floats) and per-frame curves ([T] lists, NaN = none)."""

    figures: dict[str, float]
    per_frame: dict[str, list[float]]


def gt_free_metrics(scene: Scene, instance_id: str, tracks: np.ndarray, visible: np.ndarray,
                    query_points: np.ndarray, *,
                    depth_tolerance: float = GT_FREE_DEPTH_TOLERANCE,
                    depth_within: float = DEPTH_WITHIN,
                    min_mask_motion: float = MIN_MASK_MOTION) -> GtFree:
    """Ground-truth-free quality of one instance's tracks (meaning and direction: module docstring).

    tracks [T,N,3] world (m), visible [T,N] bool, query_points [N,4] (t,x,y,z). Per-frame curves:
    `mask_adherence` and `tracked` (share of the points queried by then that are visible and inside
    their mask), both on frames after each query's frame.
    """
    tracks = np.asarray(tracks, np.float64)
    T, N = visible.shape
    query_frames = np.asarray(query_points)[:, 0].astype(np.int64)
    evaluated = evaluation_mask(T, query_frames)
    obs = observe(scene, instance_id, tracks, depth_tolerance)
    adherence = obs.adherence()
    pairs = visible & evaluated & ~np.isnan(adherence)

    ref_tracks, ref_visible = static_tracks(query_points, T)
    ref = observe(scene, instance_id, ref_tracks, depth_tolerance).adherence()
    ref_pairs = ref_visible & evaluated & ~np.isnan(ref)

    adh = _mean(np.where(pairs, adherence, np.nan))
    static_adh = _mean(np.where(ref_pairs, ref, np.nan))
    motion = 1 - static_adh
    motion_adh = (adh - static_adh) / motion if motion >= min_mask_motion else float("nan")

    depth_pairs = visible & evaluated & ~np.isnan(obs.depth_err)
    errs = obs.depth_err[depth_pairs]
    holds = visible & (np.nan_to_num(adherence, nan=0.0) >= 0.5)  # visible and inside its mask
    figures = {
        "mask_adherence": adh,
        "static_mask_adherence": static_adh,
        "motion_adherence": float(motion_adh),
        "depth_err_cm": float(np.median(errs) * 100) if errs.size else float("nan"),
        f"depth_within_{round(depth_within * 100):g}cm":
            float((errs < depth_within).mean()) if errs.size else float("nan"),
        "tracked_at_end": float(holds[-1].mean()) if N else float("nan"),
        "jitter_mm": jitter_mm(tracks, visible),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        n_pairs = pairs.sum(1)
        curve = np.where(n_pairs > 0, np.where(pairs, adherence, 0).sum(1) / np.maximum(n_pairs, 1),
                         np.nan)
        started = evaluated.sum(1)
        tracked = np.where(started > 0, (holds & evaluated).sum(1) / np.maximum(started, 1), np.nan)
    per_frame = {"mask_adherence": _as_list(curve), "tracked": _as_list(tracked)}
    return GtFree(figures, per_frame)


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
    return {"median_error_cm": _as_list(median), "delta_avg": _as_list(delta)}


def _as_list(values: np.ndarray) -> list[float]:
    """JSON-ready curve: floats rounded to 6 significant digits (keeps metrics.json small)."""
    return [float(f"{x:.6g}") for x in np.asarray(values, np.float64)]
