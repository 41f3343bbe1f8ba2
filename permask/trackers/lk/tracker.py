"""`LKTracker`: the frame loop of one `lk` `track` call (the ideas: docs/lk.md).

Per step t-1 -> t: every view's 2D tracks move by LK (`flow`), are lifted to 3D with a robust
depth read and gated by the instance's mask; the views' estimates are fused with outlier
rejection; with `rigid_prior`, a robust rigid (on a constant-depth stand-in: similarity) fit from
t-1 to t drops fused outliers and carries the points no view measured (plus what their nearest
measured points moved beyond it); on real 3D the instance's `RigidModel` catches slow drift, snaps
a rigid instance's points and decides visibility at the very pixel. A view that lost a point is
re-seeded where the point's 3D position projects, if its depth there agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from permask.data import Queries, Scene, TrackResult
from permask.geometry import depth_each, in_image, project_each, unproject_each
from permask.logs import bars_on
from permask.trackers.base import TrackerBase, apply_query_convention
from permask.trackers.lifting import fuse_views, instance_masks, lookup_mask, read_depth_robust
from permask.trackers.lk.config import LKConfig
from permask.trackers.lk.flow import flow, predicted_shift, window_size
from permask.trackers.lk.rigid_model import RigidModel, in_sight
from permask.trackers.lk.silhouette import boxes_and_areas, nearest_inside, thickness
from permask.trackers.lk.views import Cameras, Frames
from permask.trackers.rigid import carry_locally, fit_rigid_robust, median


@dataclass
class _Call:
    """The state of one `track` call: the instance's inputs (scene, cameras, masks [V,T,H,W] or
    None, per-view `Frames` and LK settings), the outputs being filled (tracks [T,N,3],
    visible [T,N], scores [T,N]), every view's current 2D position of every point (pos [V,N,2],
    NaN: not tracked there) and the instance's rigid model."""

    scene: Scene
    cameras: Cameras
    masks: np.ndarray | None
    frames: list[Frames]
    lk_params: list[dict]
    tracks: np.ndarray
    visible: np.ndarray
    scores: np.ndarray
    pos: np.ndarray
    rigid: RigidModel
    planar: bool  # a constant-depth stand-in (a video): fit similarities, no drift check
    check_drift: bool  # the long-range rigid check runs (real 3D only)
    exact_visibility: bool  # visibility at the very pixel (`in_sight`), real 3D only
    # every point at the last settled frame projected into every view with its cameras [V,N,2]
    seen_from: np.ndarray | None = None


class LKTracker(TrackerBase):
    Config = LKConfig
    config: LKConfig

    def __init__(self, config: LKConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.lk_params = dict(winSize=(c.win_size, c.win_size), maxLevel=c.max_level,
                              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))

    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        T, N = scene.num_frames, len(queries)
        if N == 0:
            return TrackResult(np.full((T, 0, 3), np.nan, np.float32), np.zeros((T, 0), bool),
                               np.zeros((T, 0), np.float32))
        call = self._start(scene, queries.instance_id, N)
        qframe = queries.frame
        frames = range(int(qframe.min()), T)
        for t in tqdm(frames, desc=f"  {queries.instance_id}", unit="frame", leave=False,
                      disable=not bars_on(self.progress) or len(frames) < 2):
            started = qframe < t
            if started.any():
                self._step(call, t, started)
            new = qframe == t
            call.tracks[t, new] = queries.points[new, 1:]
            call.visible[t, new] = True
            call.scores[t, new] = 1.0
            self._settle(call, t, new, qframe)
        result = TrackResult(call.tracks.astype(np.float32), call.visible, call.scores)
        return apply_query_convention(result, qframe)

    def _start(self, scene: Scene, instance_id: str, N: int) -> _Call:
        """Everything of one call that does not change per frame: masks, per-view windows and
        crops, cameras in float64, which ideas apply to this kind of input."""
        c = self.config
        T, V = scene.num_frames, scene.num_views
        masks = instance_masks(scene, instance_id, c.mask_dilate_px) if c.use_masks else None
        gray = scene.gray()
        boxes, areas = ([None] * V, [None] * V) if masks is None else boxes_and_areas(masks)
        typical = [thickness(b, a) for b, a in zip(boxes, areas)]  # per view; None: no masks
        windows = [window_size(th, c.win_fraction, c.win_min, c.win_size) for th in typical]
        lk_params = [{**self.lk_params, "winSize": (w, w)} for w in windows]
        frames = [Frames(gray[v], None if masks is None else masks[v],
                         None if boxes[v] is None else boxes[v].tolist(), windows[v])
                  for v in range(V)]
        # the rigid fit's interior: `rigid_interior_fraction` of the thickness inside the mask
        # and at least half the LK window (no window on the silhouette)
        interior_px = np.maximum(np.array(windows) // 2,
                                 c.rigid_interior_fraction * np.array([th or 0.0 for th in typical]))
        planar = _planar_stand_in(scene)
        check_drift = c.rigid_prior and scene.depth_metric and not planar
        return _Call(scene, Cameras(scene.intrs.astype(np.float64), scene.extrs.astype(np.float64)),
                     masks, frames, lk_params, np.full((T, N, 3), np.nan), np.zeros((T, N), bool),
                     np.zeros((T, N), np.float32), np.full((V, N, 2), np.nan),
                     RigidModel(c, N, interior_px), planar, check_drift,
                     check_drift and c.visibility_tolerance > 0)

    def _settle(self, call: _Call, t: int, new: np.ndarray, qframe: np.ndarray) -> None:
        """After frame t's positions are known (tracked, carried, new queries [N] bool): the new
        points join the rigid model, views that lost a point try to see it again, visibility."""
        tracks, visible, scores, rigid = call.tracks, call.visible, call.scores, call.rigid
        rigid.place(new, tracks[t])
        uv, z = call.cameras.project(tracks[t], t)  # [V,N,2], [V,N]
        call.seen_from = uv
        seen = self._seed(call, uv, z, t, (qframe <= t) & ~np.isnan(tracks[t, :, 0]))
        if rigid.restart_pending:
            rigid.restart(tracks[t])
        if call.exact_visibility and rigid.active:  # moving rigidly
            sight = in_sight(call.scene, t, uv, z, call.masks, self.config.visibility_tolerance)
            visible[t] &= sight | new
            seen &= sight
        if call.masks is not None:  # a carried point found again inside its mask, at its depth
            regained = seen & ~visible[t] & (qframe < t)
            visible[t] |= regained
            scores[t, regained] = 0.5

    def _step(self, call: _Call, t: int, started: np.ndarray) -> None:
        """Frame t of the points started before it [N] bool: flow, lift, fuse, rigid prior,
        carry; fills tracks[t], visible[t], scores[t]."""
        scene, cameras, masks, tracks, pos = call.scene, call.cameras, call.masks, call.tracks, call.pos
        V, N = pos.shape[:2]
        estimates = np.full((V, N, 3), np.nan)
        # every (view, point) tracked in 2D, view-major: each view's points are one slice
        view, idx = np.nonzero(started[None, :] & ~np.isnan(pos[..., 0]))
        if len(idx):  # flow per view, then lift every view's tracked pixels in one go
            shift = (predicted_shift(cameras, tracks, t, view, idx, call.seen_from)
                     if self.config.predict_motion and t >= 2 else None)
            uv, ok = flow(call.frames, pos[view, idx], view, t, call.lk_params,
                          self.config.fb_threshold, shift)
            ok &= _in_view(scene, masks, t, uv, view)
            lifted = np.flatnonzero(ok)  # depth is read only where the pixel can still count
            v, i = view[lifted], idx[lifted]
            K, E = cameras.intrs[v, t], cameras.extrs[v, t]
            z_expected = depth_each(tracks[t - 1, i], E)
            z, ok_depth = self._read_depth(scene.depths[:, t], uv[lifted], z_expected, v)
            ok[lifted] = ok_depth
            estimates[v[ok_depth], i[ok_depth]] = unproject_each(
                uv[lifted][ok_depth], z[ok_depth], K[ok_depth], E[ok_depth])
            pos[view, idx] = np.where(ok[:, None], uv, np.nan)
            if call.check_drift and masks is not None:  # the rigid model fits interior points
                inner = lifted[ok_depth]
                call.rigid.measure_interior(masks[:, t], uv[inner], view[inner], idx[inner])
        fused, inlier = fuse_views(estimates, tracks[t - 1], self.config.fuse_tolerance)
        pos[~inlier & ~np.isnan(estimates[..., 0])] = np.nan  # outlier views lose the point
        measured = started & ~np.isnan(fused[:, 0])
        carried = tracks[t - 1].copy()
        if self.config.rigid_prior:
            pose = fit_rigid_robust(tracks[t - 1, measured], fused[measured],
                                    self.config.min_rigid_points, with_scale=call.planar)
            if pose is not None:
                predicted = tracks[t - 1] @ pose[:3, :3].T + pose[:3, 3]
                residual = np.linalg.norm(fused - predicted, axis=1)
                off = residual > self._outlier_tolerance(residual[measured], call.planar)
                pos[:, measured & off] = np.nan
                measured &= ~off
                carried = predicted
                lost = started & ~measured & ~np.isnan(tracks[t - 1, :, 0])
                if self.config.carry_neighbours > 0 and lost.any() and measured.any():
                    carried[lost] += carry_locally(tracks[t - 1, lost],
                                                   (fused - predicted)[measured],
                                                   tracks[t - 1, measured],
                                                   self.config.carry_neighbours)
            drifted, rigid_positions = (call.rigid.drift(scene, cameras, t, fused, measured)
                                        if call.check_drift else (None, None))
            if rigid_positions is not None:
                pos[:, drifted] = np.nan
                measured &= ~drifted
                carried = np.where(np.isnan(rigid_positions), carried, rigid_positions)
                if self.config.rigid_snap:
                    fused = np.where(np.isnan(rigid_positions), fused, rigid_positions)
        tracks[t, started] = np.where(measured[started, None], fused[started], carried[started])
        if self.config.pull_into_mask and call.planar and masks is not None and V == 1:
            self._pull_into_mask(cameras, masks[0, t], tracks, t, started & ~measured)
        call.visible[t] = measured
        measuring_views = (~np.isnan(estimates[..., 0])).sum(0)
        call.scores[t] = np.where(measured, inlier.sum(0) / np.maximum(measuring_views, 1), 0.0)

    def _seed(self, call: _Call, uv_all: np.ndarray, z_all: np.ndarray, t: int,
              eligible: np.ndarray) -> np.ndarray:
        """Start 2D tracks in every view where an eligible point [N] bool (a known position at
        t, projecting to uv_all [V,N,2] at camera z z_all [V,N]) is visible at t (in the image,
        depth agrees, inside the mask). Returns [N] bool: started in some view."""
        seen = np.zeros(len(eligible), bool)
        view, idx = np.nonzero(eligible[None, :] & np.isnan(call.pos[..., 0]))
        if len(idx) == 0:
            return seen
        uv, z_expected = uv_all[view, idx], z_all[view, idx]
        ok = _in_view(call.scene, call.masks, t, uv, view) & (z_expected > 0)
        check = np.flatnonzero(ok)  # depth is read only where the point can still be seen
        ok[check] = self._read_depth(call.scene.depths[:, t], uv[check], z_expected[check],
                                     view[check])[1]
        call.pos[view[ok], idx[ok]] = uv[ok]
        seen[idx[ok]] = True
        return seen

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
