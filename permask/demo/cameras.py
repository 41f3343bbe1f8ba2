"""The demo's static cameras and the pixel rays they cast.

Static cameras look at the workspace around the origin from azimuths between -15 and 110 degrees
(so they all face the walls), 1.6-2.3 m away, 60 degree (FOV_DEG) horizontal field of view. They follow
`permask.geometry`: world-to-camera `[R|t]`, OpenCV axes, pixel centres at integer coordinates,
depth = camera z in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask import geometry
from permask.demo.params import DemoParams

FOV_DEG = 60.0
"""Horizontal field of view of every camera."""

_CAM_RADII = (1.5, 1.25, 1.7, 1.4)
_CAM_HEIGHTS = (1.0, 0.85, 1.15, 0.95)
_CAM_TARGET = np.array([0.0, 0.0, 0.1])


def camera_azimuths(num_views: int) -> np.ndarray:
    """Azimuths (radians) of the cameras, spread from -15 to 110 degrees."""
    if num_views == 1:
        return np.radians([45.0])
    return np.radians(np.linspace(-15.0, 110.0, num_views))


def make_cameras(params: DemoParams) -> tuple[np.ndarray, np.ndarray]:
    """-> intrinsics [V,3,3], world-to-camera extrinsics [V,3,4] (float64)."""
    focal = 0.5 * params.width / np.tan(np.radians(FOV_DEG) / 2)
    K = np.array([[focal, 0.0, (params.width - 1) / 2],
                  [0.0, focal, (params.height - 1) / 2],
                  [0.0, 0.0, 1.0]])
    extrs = []
    for i, az in enumerate(camera_azimuths(params.num_views)):
        r, h = _CAM_RADII[i % len(_CAM_RADII)], _CAM_HEIGHTS[i % len(_CAM_HEIGHTS)]
        extrs.append(geometry.look_at([r * np.cos(az), r * np.sin(az), h], _CAM_TARGET))
    return np.repeat(K[None], params.num_views, axis=0), np.stack(extrs)


def scale_intrinsics(K: np.ndarray, scale: int) -> np.ndarray:
    """Intrinsics [3,3] of the same camera at `scale` x the resolution (pixel centres kept)."""
    Ks = K.copy()
    Ks[:2, :2] *= scale
    Ks[:2, 2] = scale * (K[:2, 2] + 0.5) - 0.5
    return Ks


@dataclass
class RaySet:
    """All pixel rays of one camera at one resolution.

    origin [3] camera centre (world); dirs [H,W,3] world directions scaled so the ray parameter
    equals camera z-depth in metres; K [3,3], E [3,4] world-to-camera.
    """

    origin: np.ndarray
    dirs: np.ndarray
    K: np.ndarray
    E: np.ndarray

    @classmethod
    def of_camera(cls, K: np.ndarray, E: np.ndarray, height: int, width: int) -> "RaySet":
        v, u = np.mgrid[0:height, 0:width].astype(np.float64)
        pix = np.stack([u, v, np.ones_like(u)], axis=-1)
        dirs_cam = pix @ np.linalg.inv(K).T  # camera z component is 1
        return cls(geometry.camera_center(E), dirs_cam @ E[:3, :3], K, E)

    @property
    def shape(self) -> tuple[int, int]:
        return self.dirs.shape[:2]
