"""Robust rigid (Kabsch) and similarity (Umeyama) fits for carrying an instance's occluded
points. A similarity is for constant-depth stand-ins, where an object moving away from the
camera shows up as shrinking on the plane."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree


_IDENTITY = np.eye(4)  # copied, not rebuilt: np.eye costs more than the fit's arithmetic


def kabsch(src: np.ndarray, dst: np.ndarray, with_scale: bool = False,
           weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares rigid transform (Kabsch), or similarity (Umeyama), dst ~ s R src + t.

    Args:
      src, dst: [M,3] paired points (M >= 3).
      with_scale: fit the scale s too (else s = 1).
      weights: [M] > 0 per pair (None: all 1).

    Returns:
      [4,4] transform taking src to dst.
    """
    return _kabsch_pairs(np.concatenate([src, dst], axis=1), with_scale, weights)


def _kabsch_pairs(pairs: np.ndarray, with_scale: bool, weights: np.ndarray | None = None
                  ) -> np.ndarray:
    """`kabsch` of pairs [M,6] = (src, dst) side by side: one array, so each step below is one
    numpy call for both point sets (this runs a few times per tracked frame)."""
    if weights is None:
        mean = pairs.sum(0) / len(pairs)  # without np.mean's call overhead
    else:
        mean = weights @ pairs / weights.sum()
    centred = pairs - mean
    weighted = centred if weights is None else centred * weights[:, None]
    # OpenCV's SVD of a 3x3: the same factors as LAPACK's to ~1e-14, without numpy.linalg's
    # per-call overhead
    S, U, Vt = cv2.SVDecomp(weighted[:, :3].T @ centred[:, 3:])
    R = Vt.T @ U.T
    d = np.ones(3)
    if cv2.determinant(R) < 0:  # a reflection: flip the axis of the smallest singular value
        d[2] = -1.0
        R = (Vt.T * d) @ U.T
    if with_scale:
        spread = (weighted[:, :3] * centred[:, :3]).sum()
        R = (float((S[:, 0] * d).sum() / spread) if spread > 0 else 1.0) * R
    pose = _IDENTITY.copy()
    pose[:3, :3] = R
    pose[:3, 3] = mean[3:] - R @ mean[:3]
    return pose


def fit_rigid_robust(src: np.ndarray, dst: np.ndarray, min_points: int = 6,
                     iterations: int = 3, floor: float = 0.005,
                     with_scale: bool = False) -> np.ndarray | None:
    """Rigid (or similarity) transform from src to dst, refitted on its inliers.

    Args:
      src, dst: [M,3] paired points, metres.
      min_points: fewer pairs or inliers than this: no fit.
      iterations: refits at most (it stops when the inliers stop changing).
      floor: metres; inliers lie below max(3 x the median residual, floor).
      with_scale: fit a similarity (a constant-depth stand-in, where moving away is shrinking).

    Returns:
      [4,4] transform, or None with too few points or fewer than half of them inliers.
    """
    enough = max(min_points, 3)
    if len(src) < enough:
        return None
    pairs = np.concatenate([src, dst], axis=1)
    keep = None  # every point
    pose = None
    for _ in range(iterations):
        pose = _kabsch_pairs(pairs if keep is None else pairs[keep], with_scale)
        diff = src @ pose[:3, :3].T + pose[:3, 3] - dst
        residual = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        inliers = residual < max(3.0 * median(residual), floor)
        kept = int(np.count_nonzero(inliers))
        if kept < enough:
            return None
        if kept == len(src) if keep is None else np.array_equal(inliers, keep):
            break  # converged: another pass would refit the same points to the same pose
        keep = inliers
    if kept < 0.5 * len(src):
        return None
    return pose


def median(values: np.ndarray) -> float:
    """np.median of a 1-D array without NaN (the same value), without its call overhead."""
    n = len(values)
    k = n // 2
    if n % 2:
        return np.partition(values, k)[k]
    part = np.partition(values, (k - 1, k))
    return (part[k - 1] + part[k]) / 2


_SAMPLES = np.random.default_rng(0).random((32, 3))  # fixed RANSAC draws, scaled to M points


def fit_rigid_ransac(src: np.ndarray, dst: np.ndarray, tolerance: float, min_points: int = 6,
                     guess: np.ndarray | None = None, accept: float = 0.9
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """RANSAC rigid transform from src to dst [M,3] (metres): of 32 3-point hypotheses (fixed
    draws: deterministic), the one with most pairs within `tolerance` metres (counted on about
    100 pairs), refitted (`kabsch`) on its inliers twice, counting again. Returns (pose [4,4],
    inliers [M] bool) or None with fewer than `min_points` pairs or inliers. Unlike
    `fit_rigid_robust`, it finds the dominant motion even when most points are off it. With
    `guess` [M] bool (last frame's inliers, say), a `kabsch` fit of those pairs whose inliers
    are at least `accept` of all pairs replaces the sampling (one fit instead of 32)."""
    M = len(src)
    if M < max(min_points, 3):
        return None
    inliers = fitted_on = None  # the pairs `pose` was fitted on
    if guess is not None and guess.sum() >= max(min_points, 3):
        pose = kabsch(src[guess], dst[guess])
        diff = src @ pose[:3, :3].T + pose[:3, 3] - dst
        close = np.einsum("ij,ij->i", diff, diff) < tolerance ** 2
        if close.sum() >= accept * M:
            inliers, fitted_on = close, guess
    if inliers is None:
        inliers = _ransac_inliers(src, dst, tolerance)
    for _ in range(2):  # refit on the consensus, recount
        if inliers.sum() < max(min_points, 3):
            return None
        if fitted_on is not None and np.array_equal(inliers, fitted_on):
            break  # a refit on the very pairs of the fit gives the same pose and count
        pose, fitted_on = kabsch(src[inliers], dst[inliers]), inliers
        inliers = ((src @ pose[:3, :3].T + pose[:3, 3] - dst) ** 2).sum(-1) < tolerance ** 2
    if inliers.sum() < max(min_points, 3):
        return None
    return pose, inliers


def _ransac_inliers(src: np.ndarray, dst: np.ndarray, tolerance: float) -> np.ndarray:
    """[M] bool: the pairs within `tolerance` of the best of the 32 fixed 3-point hypotheses."""
    M = len(src)
    pick = (_SAMPLES * M).astype(np.int64)
    a, b = src[pick], dst[pick]  # [S,3,3]
    ca, cb = a.mean(axis=1, keepdims=True), b.mean(axis=1, keepdims=True)
    # per hypothesis Kabsch (einsum: numpy's stacked matmul is slow for 3x3 blocks)
    U, _, Vt = np.linalg.svd(np.einsum("sni,snj->sij", a - ca, b - cb))
    Vt[np.linalg.det(U) * np.linalg.det(Vt) < 0, 2] *= -1  # no reflections
    R = np.einsum("sji,skj->sik", Vt, U)  # [S,3,3] = V U^T
    shift = cb[:, 0] - np.einsum("sij,sj->si", R, ca[:, 0])
    # every hypothesis scored at once on about 100 of the points: [m, S*3] moved points minus
    # targets (small temporaries: this runs every frame)
    step = max(1, M // 100)
    sub_src, sub_dst = src[::step], dst[::step]
    S = len(R)
    diff = sub_src @ R.transpose(2, 0, 1).reshape(3, 3 * S)
    diff += shift.reshape(-1) - np.tile(sub_dst, S)
    close = (diff * diff).reshape(len(sub_src), S, 3).sum(-1) < tolerance ** 2
    best = int(np.argmax(close.sum(0)))
    moved = src @ R[best].T + shift[best] - dst
    return (moved * moved).sum(-1) < tolerance ** 2


def carry_locally(previous: np.ndarray, residuals: np.ndarray, sources: np.ndarray,
                  neighbours: int) -> np.ndarray:
    """[L,3] correction (metres) to add to the fitted motion of L lost points at `previous`
    [L,3] (their positions one frame earlier): the inverse-distance weighted mean of the
    `neighbours` nearest measured points' `residuals` [M,3] (measured position minus the fitted
    motion's prediction), those points being at `sources` [M,3] one frame earlier. A lost point
    on a limb moves with the limb's measured points, not with the body's average motion; on a
    rigid instance the residuals are noise and the correction is about 0. M >= 1."""
    k = min(neighbours, len(sources))
    # scipy's k-d tree: faster than a brute-force search already at ten lost and 100 measured points
    distance, nearest = cKDTree(sources).query(previous, k=k)
    if k == 1:
        distance, nearest = distance[:, None], nearest[:, None]
    weights = 1.0 / (distance + 1e-3)  # 1 mm floor: a point on top of a source takes its motion
    return np.einsum("lk,lkc->lc", weights, residuals[nearest]) / weights.sum(1)[:, None]
