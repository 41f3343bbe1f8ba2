"""Robust rigid (Kabsch) and similarity (Umeyama) fits for carrying an instance's occluded
points. A similarity is for constant-depth stand-ins, where an object moving away from the
camera shows up as shrinking on the plane."""

from __future__ import annotations

import numpy as np


def kabsch(src: np.ndarray, dst: np.ndarray, with_scale: bool = False) -> np.ndarray:
    """Least-squares transform [4,4] with dst ~ s R src + t, for src, dst [M,3] (M >= 3);
    s = 1 (rigid) unless `with_scale` (Umeyama's similarity)."""
    cs, cd = src.mean(0), dst.mean(0)
    U, S, Vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.ones(3)
    d[2] = -1.0 if np.linalg.det(U @ Vt) < 0 else 1.0  # no reflection
    R = (Vt.T * d) @ U.T
    scale = 1.0
    if with_scale:
        spread = ((src - cs) ** 2).sum()
        scale = float((S * d).sum() / spread) if spread > 0 else 1.0
    pose = np.eye(4)
    pose[:3, :3] = scale * R
    pose[:3, 3] = cd - scale * R @ cs
    return pose


def fit_rigid_robust(src: np.ndarray, dst: np.ndarray, min_points: int = 6,
                     iterations: int = 3, floor: float = 0.005,
                     with_scale: bool = False) -> np.ndarray | None:
    """Rigid (or, `with_scale`, similarity) transform [4,4] from src to dst [M,3], refitted on
    inliers (residual below max(3 x median residual, floor metres)); None when too few points or
    too few inliers."""
    if len(src) < max(min_points, 3):
        return None
    keep = np.ones(len(src), bool)
    pose = None
    for _ in range(iterations):
        pose = kabsch(src[keep], dst[keep], with_scale)
        diff = src @ pose[:3, :3].T + pose[:3, 3] - dst
        residual = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        keep = residual < max(3.0 * np.median(residual), floor)
        if keep.sum() < max(min_points, 3):
            return None
    if keep.mean() < 0.5:
        return None
    return pose
