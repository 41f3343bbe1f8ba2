"""Camera and rigid-body geometry in one place.

World-to-camera extrinsics `[R|t]` ([...,3,4]), OpenCV axes, pixel intrinsics K ([...,3,3]),
pixel centres at integer coordinates: X_cam = K^-1 [u,v,1]^T * z, X_world = R^T (X_cam - t).
Tracks: 3D tracks projected into their source views (`tracks_2d`), and the tracks of points
rigidly attached to posed objects (`rigid_tracks`, the ground truth of a rigid scene).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from permask.data import Scene


def unproject(pixels: np.ndarray, depth: np.ndarray, K: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Lift pixels to world points.

    Args:
      pixels: [N,2] (u, v), pixel centres at integer coordinates.
      depth: [N] camera z, metres.
      K: [3,3] intrinsics.
      E: [3,4] world-to-camera extrinsics.

    Returns:
      [N,3] world points, metres.
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
    """Project world points into one camera.

    Args:
      points: [N,3] world, metres.
      K: [3,3] intrinsics.
      E: [3,4] world-to-camera extrinsics.

    Returns:
      (pixels [N,2] (u, v), NaN at or behind the camera; z [N] camera depth, metres).
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


def tracks_2d(scene: Scene, tracks: np.ndarray, views: np.ndarray) -> np.ndarray:
    """Project 3D tracks into each point's source view, frame by frame.

    tracks [T,N,3] world (NaN where unknown), views [N] int source view of each point (a query's
    `view`). Returns [T,N,2] float64 pixels (u, v) with that view's camera at each frame; NaN where
    the track is NaN, the view is invalid (< 0) or the point is at/behind the camera. Pixel
    centres at integer coordinates, as everywhere (permask.geometry).
    """
    tracks = np.asarray(tracks, np.float64)
    views = np.asarray(views, np.int64)
    T, N = tracks.shape[:2]
    if views.shape != (N,):
        raise ValueError(f"views must be [N]={N}, got {views.shape}")
    out = np.full((T, N, 2), np.nan)
    ok_view = (views >= 0) & (views < scene.num_views)
    if not ok_view.any():
        return out
    idx = np.nonzero(ok_view)[0]
    v = views[idx]
    E = scene.extrs[v][:, :T].astype(np.float64).transpose(1, 0, 2, 3)  # [T,M,3,4]
    K = scene.intrs[v][:, :T].astype(np.float64).transpose(1, 0, 2, 3)  # [T,M,3,3]
    X = tracks[:, idx]  # [T,M,3]
    cam = np.einsum("tmij,tmj->tmi", E[..., :3], X) + E[..., 3]
    pix = np.einsum("tmij,tmj->tmi", K, cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = pix[..., :2] / pix[..., 2:3]
    uv[~(cam[..., 2] > 1e-9)] = np.nan
    out[:, idx] = uv
    return out


def rigid_tracks(object_poses: np.ndarray, instance_index: np.ndarray,
                 query_points: np.ndarray) -> np.ndarray:
    """3D tracks of query points rigidly attached to moving objects (the ground truth of a
    rigid scene).

    object_poses [K,T,4,4] object-to-world; instance_index [N] int (row of object_poses);
    query_points [N,4] (t, x, y, z) world, t a frame index (rounded).
    Returns [T,N,3] float64 world positions pose[k,t] @ inv(pose[k,tq]) @ X; NaN before tq.
    """
    poses = np.asarray(object_poses, np.float64)
    k = np.asarray(instance_index, np.int64)
    queries = np.asarray(query_points, np.float64)
    num_frames = poses.shape[1]
    tq = np.rint(queries[:, 0]).astype(np.int64)
    if len(tq) and (tq.min() < 0 or tq.max() >= num_frames):
        raise ValueError(f"query frames must lie in [0, {num_frames})")
    R_q, c_q = poses[k, tq, :3, :3], poses[k, tq, :3, 3]  # [N,3,3], [N,3]
    local = np.einsum("nji,nj->ni", R_q, queries[:, 1:4] - c_q)  # R^T (X - c)
    R_all, c_all = poses[k, :, :3, :3], poses[k, :, :3, 3]  # [N,T,3,3], [N,T,3]
    tracks = np.einsum("ntij,nj->tni", R_all, local) + c_all.transpose(1, 0, 2)
    tracks[np.arange(num_frames)[:, None] < tq[None, :]] = np.nan
    return tracks
