"""Multi-view 3D tracking with OpenCV's pyramidal Lucas-Kanade.

Per step t-1 -> t and per view:
1. chained LK from frame t-1 in the frames masked to the instance, with a forward-backward
   check, started where the point's last 3D step would carry it (constant velocity, projected
   into the view); the window adapts to the instance's size in that view (`win_fraction` of its
   thickness);
2. lifted to 3D with depth read robustly around the tracked pixel (sparse depth has holes):
   the valid depth nearest the expected depth, accepted within a tolerance, else the view lost it;
3. gated by the instance's (dilated) mask in that view.
The views' 3D estimates are fused with outlier rejection (median with >=3 views, else the estimate
nearest the previous position). With `rigid_prior`, a robust rigid (on a constant-depth stand-in:
similarity) fit of the instance's points from t-1 to t drops fused outliers and carries the points
no view measured: by the fitted motion plus what their nearest measured points moved beyond it
(`carry_neighbours`), so a lost point on a limb follows the limb. On real 3D, a RANSAC fit from a
common object frame (`lk_rigid`) tells whether the instance moves rigidly: then points off that
motion drifted (dropped, carried by it) and, with `rigid_snap`, the others sit where it puts
them. A deforming instance fails the test and keeps its measurements; the common frame restarts
whenever the test fails, and a fresh one must hold for a few frames before it is used. A view
that lost a point is re-seeded where the current 3D position projects, if its depth there agrees
(the point is visible again in that view). While an instance moves rigidly on real depth, a
point counts visible only where some view measured depth at its very pixel within
`visibility_tolerance` (`in_sight`): the far side of a turning ball is hidden even where the
tracking's tolerant depth read (a window, for holes) agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from permask.data import Queries, Scene, TrackResult
from permask.logs import bars_on
from permask.geometry import depth_each, in_image, project_each, unproject_each
from permask.trackers.base import TrackerBase, TrackerConfig, apply_query_convention
from permask.trackers.lifting import (LiftingParams, fuse_views, instance_masks, lookup_mask,
                                      read_depth_robust)
from permask.trackers.lk_frames import (Frames, extents, mask_boxes, nearest_inside,
                                        predicted_shift, runs, thickness)
from permask.trackers.lk_rigid import in_sight, rigid_drift
from permask.trackers.lk_state import Cameras, ViewTracks
from permask.trackers.rigid import carry_locally, fit_rigid_robust, median


@dataclass
class LKConfig(LiftingParams, TrackerConfig):
    """`tracker=lk`: the lifting settings (`LiftingParams`) plus the LK ones below. Values and
    what they do, grouped by idea: conf/tracker/lk.yaml."""

    _target_: str = "permask.trackers.lk.LKTracker"
    name: str = "lk"
    # pixels; the largest LK window
    win_size: int = 15
    # pixels; the smallest (adaptive) LK window
    win_min: int = 5
    # window = this share of the instance's typical thickness in a view (mask area / longer box
    # side; odd, within [win_min, win_size]): a window covering a small or thin object whole
    # tracks its silhouette, not the texture moving inside it
    win_fraction: float = 0.2
    # pyramid levels above the base image
    max_level: int = 3
    # pixels; forward-backward error limit: a track that does not come back this close is
    # dropped and carried (cheaper than a drifting measurement)
    fb_threshold: float = 0.5
    # LK starts where the point's last 3D motion carries it (constant velocity, projected into
    # each view): fast motion leaves LK only the residual
    predict_motion: bool = True
    # a point no view measured moves with the instance's fitted motion plus what its this many
    # nearest measured points moved beyond it (0: the fitted motion alone)
    carry_neighbours: int = 10
    # videos only (one view, a constant-depth stand-in): a point no view measured that the carry
    # put outside the instance's mask moves to the mask's nearest pixel
    pull_into_mask: bool = True
    # real 3D only (not on a constant-depth stand-in): metres off the instance's rigid motion
    # that count as drifted
    rigid_drift_tolerance: float = 0.02
    # real 3D only: the share of points within rigid_drift_tolerance that keeps an instance
    # rigid once its rigid model is in use
    rigid_min_inliers: float = 0.7
    # real 3D only: the share needed from a fresh common frame (the first, or one restarted from
    # the current positions after the test failed) before the rigid model is used: a deforming
    # object fails within a few frames of every restart, a drifted rigid one comes back
    rigid_enter_share: float = 0.9
    # real 3D only: frames rigid_enter_share must hold from a fresh common frame
    rigid_probation: int = 2
    # metres; a fused point further than max(this, 3 x the median) off the frame-to-frame fit
    # is an outlier (at most rigid_outlier_tolerance; 0: always rigid_outlier_tolerance)
    rigid_outlier_floor: float = 0.015
    # real 3D only: the rigid fit uses points at least this share of the instance's thickness
    # inside its mask (and half the LK window) when there are enough: near the rim an LK window
    # sees the silhouette, which stands still while a turning texture moves
    rigid_interior_fraction: float = 0.2
    # real 3D only: a rigid instance's measured points sit where its fitted motion puts them
    # (the fit averages every point's pixel and depth noise; deforming instances never snap)
    rigid_snap: bool = True
    # real 3D only, metres; a point counts visible only where some view measured depth within
    # this of it at its very pixel (inside the mask): the far side of a turning object is
    # hidden even where the tracking's tolerant depth read agrees (0: off)
    visibility_tolerance: float = 0.02


class LKTracker(TrackerBase):
    Config = LKConfig
    config: LKConfig

    def __init__(self, config: LKConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.lk_params = dict(winSize=(c.win_size, c.win_size), maxLevel=c.max_level,
                              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))

    # ------------------------------------------------------------------ main loop
    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        T, N, V = scene.num_frames, len(queries), scene.num_views
        tracks = np.full((T, N, 3), np.nan)
        visible = np.zeros((T, N), bool)
        scores = np.zeros((T, N), np.float32)
        if N == 0:
            return TrackResult(tracks.astype(np.float32), visible, scores)
        masks = self._instance_masks(scene, queries.instance_id) if self.config.use_masks else None
        gray = scene.gray()
        boxes = [None] * V if masks is None else mask_boxes(masks)
        state = ViewTracks(V, N)
        areas = [None] * V if masks is None else masks.sum(axis=(2, 3))  # [V,T] pixels
        typical = [thickness(b, a) for b, a in zip(boxes, areas)]  # per view; None: no masks
        state.lk_params = [self._view_lk_params(th) for th in typical]
        state.set_margins(typical, self.config.rigid_interior_fraction)
        videos = [Frames(gray[v], None if masks is None else masks[v],
                         None if boxes[v] is None else boxes[v].tolist(),
                         state.lk_params[v]["winSize"][0]) for v in range(V)]
        cameras = Cameras(scene.intrs.astype(np.float64), scene.extrs.astype(np.float64))
        # the long-range rigid check needs real 3D: not a constant-depth stand-in for a video
        planar = _planar_stand_in(scene)
        state.check_drift = self.config.rigid_prior and scene.depth_metric and not planar
        state.similarity = planar  # on a stand-in plane, moving away looks like shrinking
        state.exact_visibility = state.check_drift and self.config.visibility_tolerance > 0
        qframe = queries.frame
        frames = range(int(qframe.min()), T)
        for t in tqdm(frames, desc=f"  {queries.instance_id}", unit="frame", leave=False,
                      disable=not bars_on(self.progress) or len(frames) < 2):
            started = qframe < t
            if started.any():
                self._step(scene, cameras, videos, masks, state, tracks, visible, scores, t,
                           started)
            new = qframe == t
            tracks[t, new] = queries.points[new, 1:]
            visible[t, new] = True
            scores[t, new] = 1.0
            state.place_in_rigid_frame(new, tracks[t])
            seen = self._seed(scene, cameras, masks, state, tracks[t], t, qframe <= t)
            if state.restart_rigid:
                state.restart_rigid_frame(tracks[t])
            if state.exact_visibility and state.rigid_active:  # moving rigidly
                sight = in_sight(scene, cameras, t, tracks[t], masks,
                                 self.config.visibility_tolerance)
                visible[t] &= sight | new
                seen &= sight
            if masks is not None:  # a carried point found again inside its mask, at its depth
                regained = seen & ~visible[t] & (qframe < t)
                visible[t] |= regained
                scores[t, regained] = 0.5
        result = TrackResult(tracks.astype(np.float32), visible, scores)
        return apply_query_convention(result, qframe)

    def _step(self, scene, cameras, videos, masks, state, tracks, visible, scores, t, started):
        V, N = state.pos.shape[:2]
        estimates = np.full((V, N, 3), np.nan)
        # every (view, point) tracked in 2D, view-major: each view's points are one slice
        view, idx = np.nonzero(started[None, :] & ~np.isnan(state.pos[..., 0]))
        if len(idx):  # flow per view, then lift every view's tracked pixels in one go
            shift = (predicted_shift(cameras, tracks, t, view, idx)
                     if self.config.predict_motion and t >= 2 else None)
            uv, ok = self._flow(videos, state, t, view, idx, shift)
            ok &= _in_view(scene, masks, t, uv, view)
            lifted = np.flatnonzero(ok)  # depth is read only where the pixel can still count
            v, i = view[lifted], idx[lifted]
            K, E = cameras.intrs[v, t], cameras.extrs[v, t]
            z_expected = depth_each(tracks[t - 1, i], E)
            z, ok_depth = self._read_depth(scene.depths[:, t], uv[lifted], z_expected, v)
            ok[lifted] = ok_depth
            estimates[v[ok_depth], i[ok_depth]] = unproject_each(
                uv[lifted][ok_depth], z[ok_depth], K[ok_depth], E[ok_depth])
            state.pos[view, idx] = np.where(ok[:, None], uv, np.nan)
            if state.check_drift and masks is not None:  # the rigid model fits interior points
                inner = lifted[ok_depth]
                state.measure_interior(masks[:, t], uv[inner], view[inner], idx[inner])
        fused, inlier = fuse_views(estimates, tracks[t - 1], self.config.fuse_tolerance)
        state.pos[~inlier & ~np.isnan(estimates[..., 0])] = np.nan  # outlier views lose the point
        measured = started & ~np.isnan(fused[:, 0])
        carried = tracks[t - 1].copy()
        if self.config.rigid_prior:
            pose = fit_rigid_robust(tracks[t - 1, measured], fused[measured], self.config.min_rigid_points,
                                    with_scale=state.similarity)
            if pose is not None:
                predicted = tracks[t - 1] @ pose[:3, :3].T + pose[:3, 3]
                residual = np.linalg.norm(fused - predicted, axis=1)
                off = residual > self._outlier_tolerance(residual[measured], state.similarity)
                state.pos[:, measured & off] = np.nan
                measured &= ~off
                carried = predicted
                lost = started & ~measured & ~np.isnan(tracks[t - 1, :, 0])
                if self.config.carry_neighbours > 0 and lost.any() and measured.any():
                    carried[lost] += carry_locally(tracks[t - 1, lost], (fused - predicted)[measured],
                                                   tracks[t - 1, measured], self.config.carry_neighbours)
            drifted, rigid_positions = (rigid_drift(self.config, scene, cameras, t, state, fused, measured)
                                        if state.check_drift else (None, None))
            if rigid_positions is not None:
                state.pos[:, drifted] = np.nan
                measured &= ~drifted
                carried = np.where(np.isnan(rigid_positions), carried, rigid_positions)
                if self.config.rigid_snap:
                    fused = np.where(np.isnan(rigid_positions), fused, rigid_positions)
        tracks[t, started] = np.where(measured[started, None], fused[started], carried[started])
        if self.config.pull_into_mask and state.similarity and masks is not None and V == 1:
            self._pull_into_mask(cameras, masks[0, t], tracks, t, started & ~measured)
        visible[t] = measured
        measuring_views = (~np.isnan(estimates[..., 0])).sum(0)
        scores[t] = np.where(measured, inlier.sum(0) / np.maximum(measuring_views, 1), 0.0)

    def _seed(self, scene, cameras, masks, state, positions, t, eligible):
        """Start 2D tracks in every view where the point at `positions` [N,3] is visible at t
        (in the image, depth agrees, inside the mask). Returns [N] bool: started in some view."""
        seen = np.zeros(len(positions), bool)
        candidates = eligible & ~np.isnan(positions[:, 0])
        view, idx = np.nonzero(candidates[None, :] & np.isnan(state.pos[..., 0]))
        if len(idx) == 0:
            return seen
        uv, z_expected = project_each(positions[idx], cameras.intrs[view, t],
                                      cameras.extrs[view, t])
        ok = _in_view(scene, masks, t, uv, view) & (z_expected > 0)
        check = np.flatnonzero(ok)  # depth is read only where the point can still be seen
        ok[check] = self._read_depth(scene.depths[:, t], uv[check], z_expected[check],
                                     view[check])[1]
        state.start(view[ok], idx[ok], uv[ok])
        seen[idx[ok]] = True
        return seen

    # ------------------------------------------------------------------ pieces
    def _view_lk_params(self, typical: float | None) -> dict:
        """LK settings for one view where the instance's typical thickness is `typical` pixels
        (`lk_frames.thickness`; None: no masks): the window `win_fraction` of it, odd, clipped
        to [win_min, win_size]."""
        c = self.config
        win = c.win_size
        if typical is not None:
            target = c.win_fraction * typical
            win = int(np.clip(2 * round((target - 1) / 2) + 1, c.win_min, c.win_size))
        return {**self.lk_params, "winSize": (win, win)}

    def _flow(self, videos, state, t, view, idx, shift=None):
        """Chained LK t-1 -> t with forward-backward check for the 2D tracks (view [M], idx
        [M]) sorted by view, in `videos` (per view, a `Frames`, built once per track call),
        started at p0 + shift [M,2] where given. One pair of LK calls per view; everything
        around them runs once for all views. Returns uv [M,2] and ok [M]."""
        p0 = state.pos[view, idx].astype(np.float32)
        p1 = np.empty_like(p0)
        fb = np.empty_like(p0)  # forward-backward difference, crop pixels
        status = np.empty((len(p0), 2), np.uint8)
        view_runs = list(runs(view))
        for (v, (s, e)), extent in zip(view_runs, extents(p0, view_runs)):
            (prev, cur), offset = videos[v].crops([t - 1, t], extent)
            p0c = p0[s:e] - offset
            params = state.lk_params[v]
            if shift is None:
                p1c, status[s:e, :1], _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0c, None, **params)
                p0b, status[s:e, 1:], _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1c, None, **params)
            else:  # start from the predicted positions (and back from the predicted origins)
                guess = np.ascontiguousarray(p0c + shift[s:e], np.float32)
                p1c, status[s:e, :1], _ = cv2.calcOpticalFlowPyrLK(
                    prev, cur, p0c, guess, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **params)
                back = np.ascontiguousarray(p1c - shift[s:e], np.float32)
                p0b, status[s:e, 1:], _ = cv2.calcOpticalFlowPyrLK(
                    cur, prev, p1c, back, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **params)
            fb[s:e] = p0b - p0c
            p1[s:e] = p1c + offset
        ok = (status == 1).all(axis=1) & (np.hypot(fb[:, 0], fb[:, 1]) < self.config.fb_threshold)
        return p1.astype(np.float64), ok

    def _pull_into_mask(self, cameras, mask: np.ndarray, tracks: np.ndarray, t: int,
                        lost: np.ndarray) -> None:
        """On a video (one view, a constant-depth stand-in): the points no view measured [N]
        bool whose carried position at t projects outside the instance's mask [H,W] move (in
        tracks [T,N,3], in place) to the nearest pixel of the mask, at their depth. On a video
        the object's points lie on its silhouette; a lost hoof left outside it by the carry is
        never measured again."""
        rows = np.flatnonzero(lost & ~np.isnan(tracks[t, :, 0]))
        if len(rows) == 0:
            return
        K = np.broadcast_to(cameras.intrs[0, t], (len(rows), 3, 3))
        E = np.broadcast_to(cameras.extrs[0, t], (len(rows), 3, 4))
        uv, z = project_each(tracks[t, rows], K, E)
        moved = nearest_inside(mask, uv)
        if moved is not None:
            tracks[t, rows] = unproject_each(moved, z, K, E)

    def _outlier_tolerance(self, residuals: np.ndarray, planar: bool) -> float:
        """Metres off the frame-to-frame fit beyond which a fused point is an outlier, given the
        measured points' residuals [M]: on real depth, max(`rigid_outlier_floor`, 3 x their
        median), at most `rigid_outlier_tolerance` (a point sliding off a rolling ball is caught
        long before it is 6 cm off; a deforming object's own spread raises the bar); on a
        stand-in plane (a video) the fixed tolerance, which lets a leg move on its own."""
        c = self.config
        if planar or c.rigid_outlier_floor <= 0 or len(residuals) == 0:
            return c.rigid_outlier_tolerance
        return min(c.rigid_outlier_tolerance, max(c.rigid_outlier_floor, 3.0 * median(residuals)))

    def _read_depth(self, depth, uv, z_expected, view=None):
        """Robust depth read at uv [M,2] (see `lifting.read_depth_robust`): (z [M], ok [M])."""
        return read_depth_robust(depth, uv, z_expected, self.config.depth_window, self.config.depth_tolerance,
                                 self.config.depth_tolerance_rel, view)

    def _instance_masks(self, scene: Scene, instance_id: str) -> np.ndarray:
        """[V,T,H,W] bool instance mask at depth resolution, dilated for tolerance at borders."""
        return instance_masks(scene, instance_id, self.config.mask_dilate_px)


def _in_view(scene: Scene, masks: np.ndarray | None, t: int, uv: np.ndarray,
             view: np.ndarray) -> np.ndarray:
    """[M] bool: pixel uv [M,2] of its view [M] lies in the image at frame t and, with masks
    [V,T,H,W], inside the instance's mask."""
    inside = in_image(uv, *scene.image_size)
    return inside if masks is None else lookup_mask(masks[:, t], uv, view, inside)


def _planar_stand_in(scene: Scene) -> bool:
    """True when every measured depth of the first frame is the same value: a plane standing in
    for missing depth (as in videos without depth), where 3D rigidity means nothing."""
    d = scene.depths[:, 0]
    valid = d[d > 0]
    return valid.size > 0 and float(np.ptp(valid)) < 1e-6
