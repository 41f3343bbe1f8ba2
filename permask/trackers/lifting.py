"""From image measurements to fused world tracks; shared by `lk` and the learned trackers.

- `read_depth_robust`: depth at a tracked pixel when sparse depth has holes and edges;
- `instance_masks` / `lookup_mask`: the instance's (dilated) mask at depth resolution;
- `query_views`: in which views each query is visible at its own frame (in the image, in front,
  depth agrees, inside the mask): where a per-view tracker is run for it;
- `lift_pixels`: one view's 2D positions -> world points with the robust depth read;
- `fuse_views`: per-view 3D estimates -> one position per point, with outlier rejection;
- `fuse_over_time`: the frame loop that turns per-view estimates into a `TrackResult` following
  the one convention (NaN / invisible before each query's frame, the query itself at its frame);
- `LiftingParams`: the settings of all of the above, one block shared by `lk` and the lifted
  trackers (`lifted.LiftedTracker`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.geometry import in_image, project, unproject
from permask.inputs.masks import mask_at_depth_resolution
from permask.trackers.base import apply_query_convention
from permask.trackers.rigid import fit_rigid_robust


@dataclass
class LiftingParams:
    """How image measurements become fused world tracks (`lk` and the lifted trackers)."""

    use_masks: bool = True  # a view measures a point only inside the instance's (dilated) mask
    mask_dilate_px: int = 1
    depth_window: int = 2  # radius (px) of the robust depth read
    depth_tolerance: float = 0.04  # metres (+ depth_tolerance_rel * z) for depth consistency
    depth_tolerance_rel: float = 0.03
    fuse_tolerance: float = 0.03  # metres; a view's 3D estimate further than this is an outlier
    rigid_prior: bool = True  # carry unmeasured points with the instance's robust rigid motion
    rigid_outlier_tolerance: float = 0.06  # metres; fused points this far off the rigid fit drop
    min_rigid_points: int = 6


def read_depth_robust(depth: np.ndarray, uv: np.ndarray, z_expected: np.ndarray, window: int,
                      tolerance: float, tolerance_rel: float, view: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Depth at tracked pixels when sparse depth has holes and edges: the nearest pixel's depth
    where it is valid and agrees with the expected z; else (a hole, or an edge) the valid depth
    in a (2*window+1)^2 neighbourhood nearest the expected z.

    Args:
      depth: [H,W] metres (0: no measurement), or [V,H,W] with each pixel's `view`.
      uv: [M,2] pixels (u, v); NaN pixels are never ok.
      z_expected: [M] the camera z the point should have, metres.
      window: neighbourhood radius, pixels.
      tolerance, tolerance_rel: agreement within `tolerance + tolerance_rel * |z_expected|` m.
      view: [M] int, each pixel's view in a [V,H,W] depth.

    Returns:
      (z [M] metres, ok [M] bool: the chosen depth agrees).
    """
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    z_expected = np.asarray(z_expected, np.float64).reshape(-1)
    if view is None:
        depth, view = depth[None], np.zeros(len(uv), np.int64)
    tol = tolerance + tolerance_rel * np.abs(z_expected)
    finite = np.isfinite(uv).all(axis=1)
    pixel = np.rint(np.where(finite[:, None], uv, -1e6)).astype(np.int64)  # NaN: far outside
    z = depth_at(depth, view, pixel[:, 0], pixel[:, 1])
    with np.errstate(invalid="ignore"):
        ok = np.abs(z - z_expected) < tol  # NaN compares False
    retry = np.flatnonzero(~ok & finite)  # holes and edges only: search the neighbourhood
    if len(retry) and window > 0:
        du, dv = _window_offsets(int(window))
        values = depth_at(depth, view[retry, None], pixel[retry, :1] + du, pixel[retry, 1:] + dv)
        diff = np.abs(values - z_expected[retry, None])
        diff[np.isnan(diff)] = np.inf
        best = np.argmin(diff, axis=1)
        rows = np.arange(len(retry))
        z[retry] = values[rows, best]
        ok[retry] = diff[rows, best] < tol[retry]
    return z, ok


@functools.lru_cache(maxsize=8)
def _window_offsets(r: int) -> tuple[np.ndarray, np.ndarray]:
    """(du, dv) [K] offsets of a (2r+1)^2 window, nearest to the centre first (read-only: the
    arrays are cached and shared)."""
    du, dv = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1))
    order = np.argsort(du.ravel() ** 2 + dv.ravel() ** 2, kind="stable")
    du, dv = du.ravel()[order], dv.ravel()[order]
    du.flags.writeable = dv.flags.writeable = False
    return du, dv


def depth_at(depth: np.ndarray, view: np.ndarray, ui: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """depth [V,H,W] at views and integer pixels (broadcast together) as float64; NaN outside
    the image or where not measured."""
    _, H, W = depth.shape
    # read every (broadcast) position at the pixel clamped into the image; a pixel the clamp
    # moved was outside
    u = np.minimum(np.maximum(ui, 0), W - 1)
    v = np.minimum(np.maximum(vi, 0), H - 1)
    values = depth[view, v, u]
    return np.where((u == ui) & (v == vi) & (values > 0), values, np.float64(np.nan))


def lookup_mask(mask: np.ndarray, uv: np.ndarray, view: np.ndarray | None = None,
                inside: np.ndarray | None = None) -> np.ndarray:
    """mask [H,W] bool (or [V,H,W] with each pixel's view [M]) at the nearest pixel of uv [M,2];
    False outside or for NaN. `inside` [M]: `in_image(uv, H, W)` where the caller has it."""
    H, W = mask.shape[-2:]
    ok = in_image(uv, H, W) if inside is None else inside
    out = np.zeros(len(uv), bool)
    ui = np.rint(uv[ok, 0]).astype(np.int64)
    vi = np.rint(uv[ok, 1]).astype(np.int64)
    out[ok] = mask[vi, ui] if view is None else mask[view[ok], vi, ui]
    return out


def instance_masks(scene: Scene, instance_id: str, dilate_px: int) -> np.ndarray:
    """[V,T,H,W] bool instance mask at depth resolution, dilated by `dilate_px` for tolerance at
    borders."""
    H, W = scene.image_size
    at_depth = mask_at_depth_resolution(scene.masks[instance_id], H, W)  # [V,T,H,W] bool
    if not dilate_px:
        return np.array(at_depth, bool)  # a copy: never the scene's own array
    kernel = np.ones((2 * dilate_px + 1,) * 2, np.uint8)
    frames = at_depth.reshape(-1, H, W).view(np.uint8)
    out = np.empty(frames.shape, np.uint8)
    for i, frame in enumerate(frames):  # OpenCV dilates one 2D image at a time
        cv2.dilate(frame, kernel, dst=out[i])
    return out.view(bool).reshape(at_depth.shape)


def fuse_views(estimates: np.ndarray, previous: np.ndarray, tolerance: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Fuse the views' 3D estimates of each point with outlier rejection: the reference is the
    per-axis median where at least 3 views measured, else the estimate nearest the previous
    position; the views within `tolerance` of it are averaged.

    Args:
      estimates: [V,N,3] world metres, NaN where a view has none.
      previous: [N,3] the points' previous positions (NaN: unknown).
      tolerance: metres.

    Returns:
      (fused [N,3] metres, NaN where no view measured; inlier [V,N] bool).
    """
    measured = ~np.isnan(estimates[..., 0])
    if len(estimates) == 1:  # one view: its estimate is the reference and the fused position
        return estimates[0].copy(), measured
    count = np.add.reduce(measured, 0)
    # both references for every point (a handful of views: cheaper than selecting first);
    # squared distances: the same order and the same test as the distances, without the roots
    gap = estimates - np.where(np.isnan(previous), 0.0, previous)
    squared = np.einsum("vnc,vnc->vn", gap, gap)
    squared[~measured] = np.inf
    nearest = estimates[np.argmin(squared, axis=0), np.arange(len(count))]  # all-NaN where none
    ref = np.where((count >= 3)[:, None], _nan_median(estimates, count), nearest)
    gap = estimates - ref
    with np.errstate(invalid="ignore"):
        inlier = np.einsum("vnc,vnc->vn", gap, gap) < tolerance * tolerance
    inliers = np.add.reduce(inlier, 0)
    with np.errstate(invalid="ignore", divide="ignore"):  # inliers are finite: a plain sum
        fused = np.where(inlier[..., None], estimates, 0.0).sum(axis=0) / inliers[:, None]
    fused[inliers == 0] = np.nan
    return fused, inlier


def _nan_median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per-axis median over axis 0 of values [V,M,3] ignoring NaN, count [M] finite per column
    (sorting puts NaN last; cheaper than np.nanmedian for a handful of views). Columns with
    count 0 get NaN."""
    ordered = np.sort(values, axis=0)
    columns = np.arange(values.shape[1])
    return 0.5 * (ordered[(count - 1) // 2, columns] + ordered[count // 2, columns])


def query_views(scene: Scene, queries: Queries, masks: np.ndarray | None, params: LiftingParams,
                source_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Where each query is visible at its own frame: (pixels [V,N,2] (u,v), ok [V,N] bool).

    A view sees a query when its projection lies in the image, in front of the camera, the depth
    there agrees with the query's camera z (robust read), and (with masks [V,T,H,W]) inside the
    instance's mask. With `source_only`, only the view the query was lifted from is considered.
    """
    V, N = scene.num_views, len(queries)
    H, W = scene.image_size
    pixels = np.full((V, N, 2), np.nan)
    ok = np.zeros((V, N), bool)
    frames = queries.frame
    for v in range(V):
        for t in np.unique(frames):
            idx = np.nonzero(frames == t)[0]
            if source_only:
                idx = idx[queries.view[idx] == v]
            if len(idx) == 0:
                continue
            uv, z = project(queries.points[idx, 1:], scene.intrs[v, t], scene.extrs[v, t])
            good = in_image(uv, H, W) & (z > 0)
            _, agrees = read_depth_robust(scene.depths[v, t], uv, z, params.depth_window,
                                          params.depth_tolerance, params.depth_tolerance_rel)
            good &= agrees
            if masks is not None:
                good &= lookup_mask(masks[v, t], uv)
            pixels[v, idx] = uv
            ok[v, idx] = good
    pixels[~ok] = np.nan
    return pixels, ok


def lift_pixels(scene: Scene, view: int, frame: int, uv: np.ndarray, previous: np.ndarray,
                masks: np.ndarray | None, params: LiftingParams) -> np.ndarray:
    """World points [M,3] of pixels uv [M,2] (NaN: not tracked) of one view and frame, with the
    depth read robustly near the depth the previous world positions [M,3] project to; NaN where
    the pixel left the image, the depth disagrees or (with masks) it left the mask."""
    out = np.full((len(uv), 3), np.nan)
    H, W = scene.image_size
    K, E = scene.intrs[view, frame], scene.extrs[view, frame]
    _, z_expected = project(previous, K, E)
    good = in_image(uv, H, W) & np.isfinite(z_expected) & (z_expected > 0)
    if not good.any():
        return out
    idx = np.nonzero(good)[0]
    z, agrees = read_depth_robust(scene.depths[view, frame], uv[idx], z_expected[idx],
                                  params.depth_window, params.depth_tolerance,
                                  params.depth_tolerance_rel)
    if masks is not None:
        agrees &= lookup_mask(masks[view, frame], uv[idx])
    idx, uv_ok, z = idx[agrees], uv[idx][agrees], z[agrees]
    if len(idx):
        out[idx] = unproject(uv_ok, z, K, E)
    return out


Estimator = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def fuse_over_time(num_frames: int, queries: Queries, estimate: Estimator | None,
                   params: LiftingParams) -> TrackResult:
    """World tracks from per-view estimates, frame by frame.

    `estimate(t, previous [N,3], started [N] bool)` returns [V,N,3] world estimates at frame t
    (NaN: that view has none). Per frame they are fused (`fuse_views`, reference: the previous
    fused position); with `rigid_prior`, a robust rigid fit of the instance from t-1 to t drops
    fused outliers and carries unmeasured points, else they keep their last position. Each query
    sits at its own position at its frame; frames before are NaN and invisible.
    """
    T, N = num_frames, len(queries)
    tracks = np.full((T, N, 3), np.nan)
    visible = np.zeros((T, N), bool)
    scores = np.zeros((T, N), np.float32)
    if N == 0:
        return TrackResult(tracks.astype(np.float32), visible, scores)
    frames = queries.frame
    for t in range(int(frames.min()), T):
        started = frames < t
        if started.any():
            estimates = np.asarray(estimate(t, tracks[t - 1], started), np.float64).copy()
            estimates[:, ~started] = np.nan
            fused, inlier = fuse_views(estimates, tracks[t - 1], params.fuse_tolerance)
            measured = started & ~np.isnan(fused[:, 0])
            carried = tracks[t - 1].copy()
            if params.rigid_prior:
                pose = fit_rigid_robust(tracks[t - 1, measured], fused[measured],
                                        params.min_rigid_points)
                if pose is not None:
                    predicted = tracks[t - 1] @ pose[:3, :3].T + pose[:3, 3]
                    off = np.linalg.norm(fused - predicted, axis=1) > params.rigid_outlier_tolerance
                    measured &= ~off
                    carried = predicted
            tracks[t, started] = np.where(measured[started, None], fused[started], carried[started])
            visible[t] = measured
            views = (~np.isnan(estimates[..., 0])).sum(0)
            scores[t] = np.where(measured, inlier.sum(0) / np.maximum(views, 1), 0.0)
        new = frames == t
        tracks[t, new] = queries.points[new, 1:]
        visible[t, new] = True
        scores[t, new] = 1.0
    return apply_query_convention(TrackResult(tracks.astype(np.float32), visible, scores), frames)
