"""`lk`'s rigid model of an instance on real 3D: its points in one common, object-attached frame
and the pose that maps that frame to the current one, found by RANSAC every frame; whether the
instance moves rigidly (with hysteresis), which points drifted off that motion, where a rigid
instance's points are, and which points some view sees at their very pixel."""

from __future__ import annotations

import numpy as np

from permask.data import Scene
from permask.geometry import in_image
from permask.trackers.lifting import depth_at, lookup_mask
from permask.trackers.lk.config import LKConfig
from permask.trackers.lk.silhouette import edge_distance
from permask.trackers.lk.views import Cameras
from permask.trackers.rigid import fit_rigid_ransac


class RigidModel:
    """The rigid model of one instance during one `track` call (N points, V views)."""

    def __init__(self, config: LKConfig, num_points: int, interior_px: np.ndarray):
        """interior_px [V]: pixels inside the mask that count as interior in each view (away
        from the rim, where LK windows see the silhouette, which stands still while a turning
        texture moves)."""
        self.config = config
        self.interior_px = interior_px
        self.local = np.full((num_points, 3), np.nan)  # [N,3] in the common frame (NaN: unknown)
        self.pose: np.ndarray | None = np.eye(4)  # common frame -> now; None: not rigid now
        self.inliers = np.zeros(num_points, bool)  # [N] on the rigid motion last frame
        self.interior: np.ndarray | None = None  # [N] measured away from the mask edge
        self.active = False  # the model holds: drift check, snap, exact visibility
        self.streak = 0  # frames the instance has moved rigidly since the common frame
        self.restart_pending = False  # the test failed: restart the common frame
        self._started = False

    def measure_interior(self, masks: np.ndarray, uv: np.ndarray, view: np.ndarray,
                         idx: np.ndarray) -> None:
        """From this frame's lifted measurements (pixels uv [M,2] of points idx [M] in views
        view [M]; masks [V,H,W]): `interior` [N], some view measured the point further inside
        its mask than its interior margin."""
        dist = edge_distance(masks, uv, view, self.interior_px + 1)
        self.interior = np.zeros(len(self.local), bool)
        self.interior[idx[dist > np.round(self.interior_px[view])]] = True

    def place(self, new: np.ndarray, positions: np.ndarray) -> None:
        """Place points starting now [N] bool, at positions [N,3], in the common frame."""
        if not new.any():
            return
        if not self._started:  # the first queries define the common frame
            self.local[new] = positions[new]
            self._started = True
        elif self.pose is not None:
            R, c = self.pose[:3, :3], self.pose[:3, 3]
            self.local[new] = (positions[new] - c) @ R

    def restart(self, positions: np.ndarray) -> None:
        """Make the points' current positions [N,3] the common frame again (the instance lost
        its rigid motion: it deforms, or its points drifted): a rigid instance passes the test
        again after `rigid_probation` frames, a deforming one keeps failing it."""
        self.local = positions.copy()
        self.pose = np.eye(4)
        self.inliers[:] = False
        self.restart_pending = False

    def drift(self, scene: Scene, cameras: Cameras, t: int, fused: np.ndarray,
              measured: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The long-range rigid check at frame t, from the fused positions [N,3] (metres) and
        which points are measured [N] bool. Slow drift that frame-to-frame checks cannot see (a
        point sliding round a turning object's silhouette): fit the rigid motion from the common
        frame to the fused positions by RANSAC (the dominant motion even when many points slid),
        from the points measured away from the silhouette where there are enough (last frame's
        inliers tried first); the share of points within `rigid_drift_tolerance` of it (of all,
        or of those the motion does not turn out of every view's sight: those are expected off)
        tells whether the instance moves rigidly.

        Hysteresis: a fresh common frame must show `rigid_enter_share` for `rigid_probation`
        frames before the model is used; from then on `rigid_min_inliers` keeps it. A deforming
        object (sheet, arm, animal) fails within a few frames of every restart; a rigid one
        whose points drifted comes back. While the model is used, the points further off are
        drifted: returns (drifted [N] bool, rigid positions [N,3]); else (none, None)."""
        c = self.config
        none = np.zeros(len(fused), bool), None
        usable = measured & ~np.isnan(self.local[:, 0])
        if self.interior is not None and (usable & self.interior).sum() >= 2 * c.min_rigid_points:
            usable &= self.interior  # LK windows on the silhouette lag a turning texture
        guess = None if self.pose is None else self.inliers[usable]
        fit = fit_rigid_ransac(self.local[usable], fused[usable], c.rigid_drift_tolerance,
                               c.min_rigid_points, guess)
        share = 0.0
        if fit is not None:
            pose, inliers = fit
            self.inliers[:] = False
            self.inliers[np.flatnonzero(usable)[inliers]] = True
            share = inliers.mean()
            if share < c.rigid_min_inliers:  # count only the points left in sight
                positions = self.local @ pose[:3, :3].T + pose[:3, 3]
                counted = ~self.hidden(scene, cameras, t, positions[usable])
                share = inliers[counted].sum() / max(counted.sum(), 1)
        if share < (c.rigid_min_inliers if self.active else c.rigid_enter_share):
            self.pose = None  # no drift check, no carry, until the model holds again
            self.active, self.streak, self.restart_pending = False, 0, True
            return none
        self.streak += 1
        self.pose = pose
        if not self.active and self.streak < c.rigid_probation:
            return none
        self.active = True
        positions = self.local @ pose[:3, :3].T + pose[:3, 3]
        drifted = usable & (np.linalg.norm(fused - positions, axis=1) > c.rigid_drift_tolerance)
        return drifted, positions

    def hidden(self, scene: Scene, cameras: Cameras, t: int, points: np.ndarray) -> np.ndarray:
        """[M] bool: points [M,3] no view can see at frame t: each view has them outside its
        image, behind it, or measured depth at their pixel closer than them by more than
        `visibility_tolerance` (0: the tracking's depth tolerance): hidden behind a surface,
        the far side of a turning object."""
        c = self.config
        _, _, z, inside, d = _depths_seen(scene, t, *cameras.project(points, t))
        tol = (c.visibility_tolerance if c.visibility_tolerance > 0 else
               c.depth_tolerance + c.depth_tolerance_rel * np.abs(z))
        with np.errstate(invalid="ignore"):
            behind = (d > 0) & (d < z - tol)
        return (~inside | behind).reshape(scene.num_views, len(points)).all(axis=0)


def in_sight(scene: Scene, t: int, uv: np.ndarray, z: np.ndarray, masks: np.ndarray | None,
             tolerance: float) -> np.ndarray:
    """[N] bool: some view sees the points at frame t, given where they project (uv [V,N,2],
    camera z [V,N]: `views.Cameras.project`; NaN: unknown): inside its image, in front of it,
    inside the instance's mask there (masks [V,T,H,W], None: no test) and not behind the surface
    it measured at that very pixel (depth there within `tolerance` metres of the point's; a
    depth hole does not hide). Tighter than the tracking's robust read, which accepts the
    nearest agreeing depth of a window: that is for holes, not for occlusion."""
    view, uv, z, ok, d = _depths_seen(scene, t, uv, z)
    if masks is not None:
        ok = lookup_mask(masks[:, t], uv, view, ok)
    with np.errstate(invalid="ignore"):
        ok &= np.isnan(d) | (np.abs(d - z) < tolerance)
    return ok.reshape(scene.num_views, -1).any(axis=0)


def _depths_seen(scene: Scene, t: int, uv: np.ndarray, z: np.ndarray):
    """Points seen from every view at frame t (uv [V,N,2], z [V,N]), view-major [V*N]: (view,
    pixel uv [V*N,2], camera z, in the image and in front of the camera, the depth measured at
    that very pixel: NaN where none or outside)."""
    V, N = z.shape
    view = np.repeat(np.arange(V), N)
    uv, z = uv.reshape(V * N, 2), z.reshape(V * N)
    H, W = scene.image_size
    with np.errstate(invalid="ignore"):
        inside = in_image(uv, H, W) & (z > 0)
    pixel = np.rint(np.where(inside[:, None], uv, 0)).astype(np.int64)
    d = depth_at(scene.depths[:, t], view, pixel[:, 0], pixel[:, 1])
    return view, uv, z, inside, np.where(inside, d, np.nan)
