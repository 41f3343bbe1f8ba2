"""Robust rigid fits (Kabsch) for carrying an instance's occluded points."""

from __future__ import annotations

import numpy as np


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rigid transform [4,4] with dst ~ R src + t, for src, dst [M,3] (M >= 3)."""
    cs, cd = src.mean(0), dst.mean(0)
    U, _, Vt = np.linalg.svd((src - cs).T @ (dst - cd))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    pose = np.eye(4)
    pose[:3, :3] = R
    pose[:3, 3] = cd - R @ cs
    return pose


def fit_rigid_robust(src: np.ndarray, dst: np.ndarray, min_points: int = 6,
                     iterations: int = 3, floor: float = 0.005) -> np.ndarray | None:
    """Rigid transform [4,4] from src to dst [M,3], refitted on inliers (residual below
    max(3 x median residual, floor metres)); None when too few points or too few inliers."""
    if len(src) < max(min_points, 3):
        return None
    keep = np.ones(len(src), bool)
    pose = None
    for _ in range(iterations):
        pose = kabsch(src[keep], dst[keep])
        residual = np.linalg.norm(src @ pose[:3, :3].T + pose[:3, 3] - dst, axis=1)
        keep = residual < max(3.0 * np.median(residual), floor)
        if keep.sum() < max(min_points, 3):
            return None
    if keep.mean() < 0.5:
        return None
    return pose
