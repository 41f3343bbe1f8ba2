"""`lk`'s per-call objects: the scene's cameras in float64 (`Cameras`) and the state of one
`track` call (`ViewTracks`): every view's 2D tracks, the instance's common rigid frame and
whether its rigid model holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.trackers.lk_rigid import edge_distance


@dataclass(frozen=True)
class Cameras:
    """The scene's cameras in float64, converted once per track call: intrs [V,T,3,3],
    extrs [V,T,3,4] world-to-camera."""

    intrs: np.ndarray
    extrs: np.ndarray


class ViewTracks:
    """One `track` call's state. Per view and point: the current 2D position (NaN: not tracked
    in that view)."""

    def __init__(self, num_views: int, num_points: int):
        self.pos = np.full((num_views, num_points, 2), np.nan)
        # each point in one common, object-attached frame (NaN: unknown) and the pose [4,4] that
        # maps that frame to the current one (None: the instance is not moving rigidly now)
        self.rigid_local = np.full((num_points, 3), np.nan)
        self.rigid_pose: np.ndarray | None = np.eye(4)
        self.lk_params: list[dict] = []  # per view: cv2.calcOpticalFlowPyrLK settings
        # per view [V] (see `set_margins`): pixels inside the mask that count as interior
        self.interior_px = np.zeros(num_views)
        self.interior: np.ndarray | None = None  # [N] measured in a view away from the mask edge
        self.rigid_inliers = np.zeros(num_points, bool)  # [N] on the rigid motion last frame
        self._rigid_started = False
        self.rigid_active = False  # the rigid model holds (drift check, snap, exact visibility)
        self.rigid_streak = 0  # frames the instance has moved rigidly since the common frame
        self.restart_rigid = False  # the rigid test failed: restart the common frame
        # per call: check slow drift against the rigid motion (real 3D only); fit similarities
        self.check_drift = False
        self.similarity = False
        self.exact_visibility = False  # visibility at the very pixel (`in_sight`), real 3D only

    def set_margins(self, typical: list[float | None], interior_fraction: float) -> None:
        """Per view, from the instance's typical thickness there (pixels; None: no masks): the
        rigid fit's interior lies `interior_fraction` of it inside the mask and at least half
        the LK window (no window on the silhouette, away from the rim where a turning surface is
        foreshortened)."""
        th = np.array([t or 0.0 for t in typical])
        half_window = np.array([p["winSize"][0] // 2 for p in self.lk_params])
        self.interior_px = np.maximum(half_window, interior_fraction * th)

    def measure_interior(self, masks: np.ndarray, uv: np.ndarray, view: np.ndarray,
                         idx: np.ndarray) -> None:
        """From this frame's lifted measurements (pixels uv [M,2] of points idx [M] in views
        view [M]; masks [V,H,W]): `interior` [N], some view measured the point further inside
        its mask than its interior margin."""
        dist = edge_distance(masks, uv, view, self.interior_px + 1)
        self.interior = np.zeros(self.pos.shape[1], bool)
        self.interior[idx[dist > np.round(self.interior_px[view])]] = True

    def place_in_rigid_frame(self, new: np.ndarray, positions: np.ndarray) -> None:
        """Place points starting now [N] bool, at positions [N,3], in the common frame."""
        if not new.any():
            return
        if not self._rigid_started:  # the first queries define the common frame
            self.rigid_local[new] = positions[new]
            self._rigid_started = True
        elif self.rigid_pose is not None:
            R, c = self.rigid_pose[:3, :3], self.rigid_pose[:3, 3]
            self.rigid_local[new] = (positions[new] - c) @ R

    def restart_rigid_frame(self, positions: np.ndarray) -> None:
        """Make the points' current positions [N,3] the common frame again (the instance lost
        its rigid motion: it deforms, or its points drifted): a rigid instance passes the test
        again after `rigid_probation` frames, a deforming one keeps failing it."""
        self.rigid_local = positions.copy()
        self.rigid_pose = np.eye(4)
        self.rigid_inliers[:] = False
        self.restart_rigid = False

    def start(self, view, idx: np.ndarray, uv: np.ndarray) -> None:
        """Seed 2D tracks of points idx [M] in view(s) (one int or [M]) at pixels uv [M,2]."""
        self.pos[view, idx] = uv
