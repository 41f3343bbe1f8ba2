"""`lk`'s 2D step: chained pyramidal LK from frame t-1 to t with a forward-backward check, one
pair of OpenCV calls per view (`flow`), in windows sized to the instance (`window_size`), started
where each point's last 3D step carries it (`predicted_shift`)."""

from __future__ import annotations

import cv2
import numpy as np



def window_size(typical: float | None, fraction: float, smallest: int, largest: int) -> int:
    """The LK window (pixels, odd) in a view where the instance's typical thickness is `typical`
    pixels (`silhouette.thickness`; None: no masks, the largest): `fraction` of it, clipped to
    [smallest, largest]. A window covering a small or thin object whole tracks its silhouette,
    not the texture moving inside it."""
    if typical is None:
        return largest
    return int(np.clip(2 * round((fraction * typical - 1) / 2) + 1, smallest, largest))


def flow(frames: list, pos: np.ndarray, view: np.ndarray, t: int, params: list[dict],
         fb_threshold: float, shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chained LK t-1 -> t with a forward-backward check for the 2D tracks at pixels pos [M,2]
    in views view [M] (sorted), in `frames` (per view, a `views.Frames`) with per view LK
    settings `params`, started at pos + shift [M,2] where given (and back from the predicted
    origin). Returns uv [M,2] (float64 pixels at t) and ok [M]: both LK calls converged and the
    track came back within `fb_threshold` pixels."""
    p0 = pos.astype(np.float32)
    p1 = np.empty_like(p0)
    fb = np.empty_like(p0)  # forward-backward difference, crop pixels
    status = np.empty((len(p0), 2), np.uint8)
    view_runs = list(runs(view))
    for (v, (s, e)), extent in zip(view_runs, extents(p0, view_runs)):
        (prev, cur), offset = frames[v].crops([t - 1, t], extent)
        p0c = p0[s:e] - offset
        if shift is None:
            p1c, status[s:e, :1], _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0c, None, **params[v])
            p0b, status[s:e, 1:], _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1c, None, **params[v])
        else:
            guess = np.ascontiguousarray(p0c + shift[s:e], np.float32)
            p1c, status[s:e, :1], _ = cv2.calcOpticalFlowPyrLK(
                prev, cur, p0c, guess, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **params[v])
            back = np.ascontiguousarray(p1c - shift[s:e], np.float32)
            p0b, status[s:e, 1:], _ = cv2.calcOpticalFlowPyrLK(
                cur, prev, p1c, back, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **params[v])
        fb[s:e] = p0b - p0c
        p1[s:e] = p1c + offset
    ok = (status == 1).all(axis=1) & (np.hypot(fb[:, 0], fb[:, 1]) < fb_threshold)
    return p1.astype(np.float64), ok


def predicted_shift(cameras, tracks: np.ndarray, t: int, view: np.ndarray, idx: np.ndarray,
                    then: np.ndarray) -> np.ndarray:
    """[M,2] float32 pixels: how far the 2D tracks (view [M], idx [M]) should move from t-1 to t
    if each point keeps its last 3D step (tracks [T,N,3] at t-2 -> t-1, metres), projected with
    the cameras of t (`views.Cameras.project`) from where the points were at t-1 (then [V,N,2]:
    tracks[t-1] projected with the cameras of t-1); 0 where a position is unknown or does not
    project."""
    last, before = tracks[t - 1], tracks[t - 2]
    step = np.where(np.isnan(before), 0.0, last - before)
    now, _ = cameras.project(last + step, t)
    shift = now[view, idx] - then[view, idx]
    return np.where(np.isfinite(shift), shift, 0.0).astype(np.float32)


def runs(sorted_keys: np.ndarray):
    """(key, (start, end)) of each run of equal values in a sorted [M] int array."""
    if len(sorted_keys) == 0:
        return
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(sorted_keys)]
    for k, s, e in zip(sorted_keys[bounds[:-1]].tolist(), bounds[:-1], bounds[1:]):
        yield k, (s, e)


def extents(points: np.ndarray, runs: list) -> list[list[float]]:
    """Per run (see `runs`) of points [M,2] (x, y; finite): [x0, y0, x1, y1], the points'
    minimum and maximum + 1 (a box holding every pixel they touch)."""
    if not runs:
        return []
    starts = [s for _, (s, _) in runs]
    lo = np.minimum.reduceat(points, starts, axis=0)
    hi = np.maximum.reduceat(points, starts, axis=0)
    return np.concatenate([lo, hi + 1], axis=1).tolist()
