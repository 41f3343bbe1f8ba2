"""Two reference trackers for `hard_cases.py`, both on the `track(scene, queries)` interface:

- `PlainLK`: single-view pyramidal Lucas-Kanade in each query's source view (`vs_plain_lk.plain_lk`),
  lifted with the depth at the tracked pixel (the last depth where it is a hole); always visible
  while in the image;
- `RigidFit`: multi-view LK (chained, forward-backward check, every view that sees a query at its
  frame, lifted with the robust depth read, fused with outlier rejection) plus a per-frame RANSAC
  Kabsch fit of the instance's points from t-1 to t: measured inliers keep their measurement,
  everything else (outliers, occluded, lost) is carried by the fitted motion and counts visible
  where some view sees it again (in the mask, its depth agrees). LK window 15 px like plain LK, or
  (`win=5`) the small window that suits these 192x144 scenes' small objects; `snap=True` puts
  every point where the fitted motion does (not only the unmeasured ones).
"""

from __future__ import annotations

import cv2
import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.geometry import in_image, project, unproject
from permask.trackers.base import apply_query_convention
from permask.trackers.lifting import (LiftingParams, fuse_views, instance_masks, lookup_mask,
                                      query_views, read_depth_robust)
from permask.trackers.rigid import kabsch
from vs_plain_lk import plain_lk  # benchmarks/vs_plain_lk.py

LK = dict(winSize=(15, 15), maxLevel=3)


class PlainLK:
    name = "plain LK"

    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        T, N = scene.num_frames, len(queries)
        tracks = np.full((T, N, 3), np.nan)
        visible = np.zeros((T, N), bool)
        gray = scene.gray()
        H, W = scene.image_size
        for v in np.unique(queries.view):
            idx = np.flatnonzero(queries.view == v)
            uv = plain_lk(gray[v], queries.pixel[idx], queries.frame[idx])  # [T,M,2]
            z_last = project(queries.points[idx, 1:], scene.intrs[v, 0], scene.extrs[v, 0])[1]
            for t in range(int(queries.frame[idx].min()), T):
                live = queries.frame[idx] <= t
                inside = in_image(uv[t], H, W) & live
                ui = np.clip(np.rint(np.nan_to_num(uv[t, :, 0])).astype(int), 0, W - 1)
                vi = np.clip(np.rint(np.nan_to_num(uv[t, :, 1])).astype(int), 0, H - 1)
                d = scene.depths[v, t][vi, ui].astype(np.float64)
                z_last = np.where(inside & (d > 0), d, z_last)
                xyz = unproject(np.nan_to_num(uv[t]), z_last, scene.intrs[v, t], scene.extrs[v, t])
                tracks[t, idx[live]] = xyz[live]
                visible[t, idx] = inside
        tracks[queries.frame, np.arange(N)] = queries.points[:, 1:]
        result = TrackResult(tracks.astype(np.float32), visible, np.ones((T, N), np.float32))
        return apply_query_convention(result, queries.frame)


def ransac_kabsch(src: np.ndarray, dst: np.ndarray, rng: np.random.Generator,
                  threshold: float = 0.015, iterations: int = 100) -> np.ndarray | None:
    """Rigid [4,4] from src to dst [M,3]: the 3-point sample with most inliers (residual below
    `threshold` metres), refitted on them; None with fewer than 3 points or 3 inliers."""
    if len(src) < 3:
        return None
    best = None
    for _ in range(iterations):
        pick = rng.choice(len(src), 3, replace=False)
        pose = kabsch(src[pick], dst[pick])
        inliers = np.linalg.norm(src @ pose[:3, :3].T + pose[:3, 3] - dst, axis=1) < threshold
        if best is None or inliers.sum() > best.sum():
            best = inliers
    return kabsch(src[best], dst[best]) if best.sum() >= 3 else None


class RigidFit:
    name = "multi-view LK + rigid fit"

    def __init__(self, params: LiftingParams | None = None, seed: int = 0,
                 threshold: float = 0.015, snap: bool = False, win: int = 15):
        self.params = params or LiftingParams()
        self.seed, self.threshold, self.snap = seed, threshold, snap
        self.lk = {**LK, "winSize": (win, win)}  # LK window (pixels): 15 as plain LK, or 5
        if win != 15 or snap:
            self.name = f"rigid fit, {win} px LK" + (", snapped" if snap else "")

    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        p, rng = self.params, np.random.default_rng(self.seed)
        T, N, V = scene.num_frames, len(queries), scene.num_views
        H, W = scene.image_size
        masks = instance_masks(scene, queries.instance_id, p.mask_dilate_px)
        seeds, _ = query_views(scene, queries, masks, p)  # [V,N,2], NaN where not seen
        gray, frames = scene.gray(), queries.frame
        tracks = np.full((T, N, 3), np.nan)
        visible = np.zeros((T, N), bool)
        pos = np.full((V, N, 2), np.nan)
        for t in range(int(frames.min()), T):
            started = frames < t
            if started.any():
                est = np.full((V, N, 3), np.nan)
                for v in range(V):
                    idx = np.flatnonzero(started & ~np.isnan(pos[v, :, 0]))
                    if not len(idx):
                        continue
                    p0 = pos[v, idx].astype(np.float32)
                    p1, s1, _ = cv2.calcOpticalFlowPyrLK(gray[v, t - 1], gray[v, t], p0, None,
                                                         **self.lk)
                    pb, s2, _ = cv2.calcOpticalFlowPyrLK(gray[v, t], gray[v, t - 1], p1, None,
                                                         **self.lk)
                    good = (s1[:, 0] == 1) & (s2[:, 0] == 1) & (np.linalg.norm(pb - p0, axis=1) < 1.0)
                    good &= lookup_mask(masks[v, t], p1.astype(np.float64))
                    _, z_exp = project(tracks[t - 1, idx], scene.intrs[v, t], scene.extrs[v, t])
                    z, ok = read_depth_robust(scene.depths[v, t], p1, z_exp, p.depth_window,
                                              p.depth_tolerance, p.depth_tolerance_rel)
                    good &= ok
                    est[v, idx[good]] = unproject(p1[good].astype(np.float64), z[good],
                                                  scene.intrs[v, t], scene.extrs[v, t])
                    pos[v, idx] = np.where(good[:, None], p1, np.nan)
                fused, _ = fuse_views(est, tracks[t - 1], p.fuse_tolerance)
                measured = started & ~np.isnan(fused[:, 0])
                pose = ransac_kabsch(tracks[t - 1, measured], fused[measured], rng, self.threshold)
                carried = tracks[t - 1] if pose is None else tracks[t - 1] @ pose[:3, :3].T + pose[:3, 3]
                if pose is not None:
                    measured &= np.linalg.norm(fused - carried, axis=1) < self.threshold
                keep = measured & (pose is None or not self.snap)
                tracks[t, started] = np.where(keep[started, None], fused[started], carried[started])
                visible[t] = measured | (started & self._seen(scene, masks, tracks[t], t))
                pos[:, started & ~measured] = np.nan
            new = frames == t
            tracks[t, new] = queries.points[new, 1:]
            visible[t, new] = True
            pos[:, new] = seeds[:, new]
        result = TrackResult(tracks.astype(np.float32), visible, visible.astype(np.float32))
        return apply_query_convention(result, frames)

    def _seen(self, scene: Scene, masks: np.ndarray, points: np.ndarray, t: int) -> np.ndarray:
        """[N] bool: some view sees points [N,3] at frame t (in its mask, depth agrees)."""
        p, H, W = self.params, *scene.image_size
        seen = np.zeros(len(points), bool)
        for v in range(scene.num_views):
            uv, z = project(np.nan_to_num(points), scene.intrs[v, t], scene.extrs[v, t])
            ok = in_image(uv, H, W) & (z > 0) & lookup_mask(masks[v, t], uv)
            ok &= read_depth_robust(scene.depths[v, t], uv, z, p.depth_window, p.depth_tolerance,
                                    p.depth_tolerance_rel)[1]
            seen |= ok
        return seen
