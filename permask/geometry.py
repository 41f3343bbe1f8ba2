"""Camera geometry in one place.

World-to-camera extrinsics `[R|t]` ([...,3,4]), OpenCV axes, pixel intrinsics K ([...,3,3]),
pixel centres at integer coordinates: X_cam = K^-1 [u,v,1]^T * z, X_world = R^T (X_cam - t).
"""

from __future__ import annotations

import numpy as np


def unproject(pixels: np.ndarray, depth: np.ndarray, K: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Lift pixels to world points.

    pixels [N,2] (u,v), depth [N] z in metres, K [3,3], E [3,4] world-to-camera -> [N,3] world.
    """
    pixels = np.asarray(pixels, np.float64)
    z = np.asarray(depth, np.float64)
    K = np.asarray(K, np.float64)
    x = (pixels[:, 0] - K[0, 2] - K[0, 1] * (pixels[:, 1] - K[1, 2]) / K[1, 1]) / K[0, 0]
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1]
    cam = np.stack([x * z, y * z, z], axis=-1)
    return camera_to_world(cam, E)


def camera_to_world(points_cam: np.ndarray, E: np.ndarray) -> np.ndarray:
    """[N,3] camera-frame points -> [N,3] world, for world-to-camera E [3,4]."""
    R, t = np.asarray(E[:3, :3], np.float64), np.asarray(E[:3, 3], np.float64)
    return (points_cam - t) @ R


def world_to_camera(points: np.ndarray, E: np.ndarray) -> np.ndarray:
    """[N,3] world -> [N,3] camera frame, for world-to-camera E [3,4]."""
    R, t = np.asarray(E[:3, :3], np.float64), np.asarray(E[:3, 3], np.float64)
    return np.asarray(points, np.float64) @ R.T + t


def project(points: np.ndarray, K: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points [N,3] -> (pixels [N,2] (u,v), z [N] camera depth in metres).

    Points at or behind the camera get NaN pixels.
    """
    cam = world_to_camera(points, E)
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uvw = cam @ np.asarray(K, np.float64).T
        uv = uvw[:, :2] / uvw[:, 2:3]
    uv[z <= 1e-9] = np.nan
    return uv, z


def camera_center(E: np.ndarray) -> np.ndarray:
    """World position [3] of the camera with world-to-camera E [3,4]."""
    return -np.asarray(E[:3, :3], np.float64).T @ np.asarray(E[:3, 3], np.float64)


def camera_to_world_matrix(E: np.ndarray) -> np.ndarray:
    """Invert world-to-camera [3,4] into camera-to-world [4,4]."""
    R, t = np.asarray(E[:3, :3], np.float64), np.asarray(E[:3, 3], np.float64)
    M = np.eye(4)
    M[:3, :3] = R.T
    M[:3, 3] = -R.T @ t
    return M


def in_image(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """[N] bool: pixel (rounded to the nearest centre) lies inside an H x W image."""
    u, v = pixels[:, 0], pixels[:, 1]
    with np.errstate(invalid="ignore"):
        return (u > -0.5) & (u < width - 0.5) & (v > -0.5) & (v < height - 0.5)


def apply_pose(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a [4,4] rigid transform to [N,3] points."""
    return np.asarray(points, np.float64) @ pose[:3, :3].T + pose[:3, 3]


def look_at(center, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera [3,4] (OpenCV axes: x right, y down, z forward) of a camera at `center`
    looking at `target`, with the world's `up` direction pointing up in the image."""
    center, target, up = (np.asarray(a, np.float64) for a in (center, target, up))
    forward = (target - center) / np.linalg.norm(target - center)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    return np.concatenate([R, (-R @ center)[:, None]], axis=1)


def project_each(points: np.ndarray, K: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`project` with one camera per point: points [P,3], K [P,3,3], E [P,3,4] ->
    (pixels [P,2], z [P]); NaN pixels at or behind the camera."""
    points = np.asarray(points, np.float64)
    cam = np.einsum("pij,pj->pi", np.asarray(E[:, :, :3], np.float64), points) + E[:, :, 3]
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uvw = np.einsum("pij,pj->pi", np.asarray(K, np.float64), cam)
        uv = uvw[:, :2] / uvw[:, 2:3]
    uv[z <= 1e-9] = np.nan
    return uv, z


def unproject_each(pixels: np.ndarray, depth: np.ndarray, K: np.ndarray, E: np.ndarray
                   ) -> np.ndarray:
    """`unproject` with one camera per pixel: pixels [P,2], depth [P], K [P,3,3], E [P,3,4]
    -> world points [P,3]."""
    pixels = np.asarray(pixels, np.float64)
    z = np.asarray(depth, np.float64)
    K = np.asarray(K, np.float64)
    y = (pixels[:, 1] - K[:, 1, 2]) / K[:, 1, 1]
    x = (pixels[:, 0] - K[:, 0, 2] - K[:, 0, 1] * y) / K[:, 0, 0]
    cam = np.stack([x * z, y * z, z], axis=-1) - E[:, :, 3]
    return np.einsum("pji,pj->pi", np.asarray(E[:, :, :3], np.float64), cam)


def depth_each(points: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Camera z [P] (metres) of world points [P,3], one world-to-camera E [P,3,4] per point: the
    z of `project_each` without the pixels."""
    return np.einsum("pj,pj->p", np.asarray(E[:, 2, :3], np.float64), points) + E[:, 2, 3]
