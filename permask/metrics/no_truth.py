"""Measures without ground truth (see `permask.metrics`): how the views see the tracks (masks,
measured depth), mask and motion adherence, depth agreement, tracked at end, jitter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.data import Scene
from permask.geometry import in_image, project
from permask.metrics.figures import as_list
from permask.metrics.truth import evaluation_mask


GT_FREE_DEPTH_TOLERANCE = 0.03  # m: a view's depth closer than the point by more hides it


DEPTH_WITHIN = 0.02  # m: depth_within_2cm


MIN_MASK_MOTION = 0.1  # 1 - static adherence below this: masks hardly moved, motion_adherence NaN


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
    per_frame = {"mask_adherence": as_list(curve), "tracked": as_list(tracked)}
    return GtFree(figures, per_frame)
