"""Bringing a learned model's depth into the file's metric frame.

Every model predicts z-depth per pixel in its own camera, which is the file's camera for that
view and frame, so the file's intrinsics/extrinsics lift it into the file's world frame once the
SCALE is right (and, for affine-invariant outputs, the shift). Sources of scale, in the order
`align=auto` tries them:

- `cameras` (models that also predict cameras, VGGT): one forward pass shares one unknown scale;
  it is the median over camera pairs of (file baseline / predicted baseline), pairs whose file
  baseline exceeds `min_baseline`. Rotation-free, robust to a bad camera, needs >= 2 distinct
  camera positions in the pass (several views, or a moving camera).
- `scale`: median of (file depth / predicted depth) over pixels where the file measured depth;
  per view and frame, falling back to the view's pooled pixels, then the whole scene's, where a
  frame has fewer than `min_pixels` measurements. Median ratios ignore the few pixels where the
  prediction smears across an edge.
- `scale_shift`: file = s * pred + b on the same pixels: a Theil-Sen start, then least squares
  on the pixels within 3 robust sigmas (for affine-invariant outputs).
- `none`: the prediction as is (metric models only; otherwise the output is not metric).
"""

from __future__ import annotations

import numpy as np

from permask.choices import Choice

from permask.errors import DepthError

class Align(Choice):
    auto = "auto"
    none = "none"
    scale = "scale"
    scale_shift = "scale_shift"
    cameras = "cameras"  # vggt


class AlignPer(Choice):
    frame = "frame"
    view = "view"
    scene = "scene"


MODES = ("auto", "none", "scale", "scale_shift", "cameras")
LEVELS = ("frame", "view", "scene")


def fit_scale(pred: np.ndarray, ref: np.ndarray) -> float:
    """Median of ref / pred over paired samples (both > 0)."""
    return float(np.median(ref / pred))


def fit_scale_shift(pred: np.ndarray, ref: np.ndarray, rounds: int = 4) -> tuple[float, float]:
    """Robust ref ~ s * pred + b: a Theil-Sen start (median slope of random sample pairs,
    median intercept), then least squares on the samples within 3 robust sigma of the fit."""
    pred = pred.astype(np.float64)
    ref = ref.astype(np.float64)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(pred), (2, min(20000, 4 * len(pred))))
    dp = pred[i] - pred[j]
    ok = np.abs(dp) > 1e-9
    s = float(np.median((ref[i] - ref[j])[ok] / dp[ok])) if ok.any() else 1.0
    b = float(np.median(ref - s * pred))
    for _ in range(rounds):
        res = np.abs(ref - (s * pred + b))
        keep = res <= 3 * 1.4826 * np.median(res) + 1e-9
        if keep.sum() < 3:
            break
        A = np.stack([pred[keep], np.ones(keep.sum())], axis=1)
        (s, b), *_ = np.linalg.lstsq(A, ref[keep], rcond=None)
    return float(s), float(b)


def align_to_depth(pred: np.ndarray, ref: np.ndarray, ref_valid: np.ndarray, mode: str = "scale",
                   per: str = "frame", min_pixels: int = 100
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale (and shift) predicted depth [V,T,H,W] onto the file's depth `ref` where `ref_valid`.

    Fits per view and frame (`per="frame"`), per view, or once (`per="scene"`); a group with
    fewer than `min_pixels` paired pixels uses the next coarser fit. Returns (aligned depth
    float32, 0 where the prediction is invalid; scales [V,T]; shifts [V,T]). Raises DepthError
    when the whole scene has fewer than `min_pixels` paired pixels.
    """
    if mode not in ("scale", "scale_shift"):
        raise ValueError(f"align_to_depth: mode must be scale or scale_shift, got {mode}")
    if per not in LEVELS:
        raise DepthError(f"unknown alignment level '{per}'", key="depth.align_per",
                         fix="use frame, view or scene")
    V, T = pred.shape[:2]
    pred_ok = np.isfinite(pred) & (pred > 0)
    pair = pred_ok & ref_valid & (ref > 0)

    def fit(p: np.ndarray, r: np.ndarray, sel: np.ndarray) -> tuple[float, float] | None:
        if sel.sum() < min_pixels:
            return None
        if mode == "scale":
            return fit_scale(p[sel], r[sel]), 0.0
        return fit_scale_shift(p[sel], r[sel])

    scene_fit = fit(pred, ref, pair)
    if scene_fit is None:
        raise DepthError(f"only {int(pair.sum())} pixel(s) with both file depth and predicted "
                         f"depth, need {min_pixels} to fit the scale", key="depth.align",
                         fix="use depth.align=none (metric models), depth.align=cameras (VGGT "
                             "with several camera positions) or lower depth.min_align_pixels")
    scales = np.full((V, T), scene_fit[0])
    shifts = np.full((V, T), scene_fit[1])
    if per != "scene":
        for v in range(V):
            view_fit = fit(pred[v], ref[v], pair[v]) or scene_fit
            scales[v], shifts[v] = view_fit
            if per == "frame":
                for t in range(T):
                    frame_fit = fit(pred[v, t], ref[v, t], pair[v, t])
                    if frame_fit is not None:
                        scales[v, t], shifts[v, t] = frame_fit
    aligned = pred.astype(np.float64) * scales[:, :, None, None] + shifts[:, :, None, None]
    aligned = np.where(pred_ok & (aligned > 0), aligned, 0.0).astype(np.float32)
    return aligned, scales, shifts


def scale_from_cameras(pred_centres: np.ndarray, file_centres: np.ndarray,
                       min_baseline: float = 0.01) -> float | None:
    """Scale mapping predicted camera centres [M,3] onto the file's [M,3]: median over pairs of
    file distance / predicted distance, over pairs at least `min_baseline` metres apart in the
    file. None when no such pair exists (one static camera)."""
    p = np.asarray(pred_centres, np.float64)
    f = np.asarray(file_centres, np.float64)
    i, j = np.triu_indices(len(p), k=1)
    d_file = np.linalg.norm(f[i] - f[j], axis=1)
    d_pred = np.linalg.norm(p[i] - p[j], axis=1)
    ok = (d_file >= min_baseline) & (d_pred > 1e-12) & np.isfinite(d_pred)
    if not ok.any():
        return None
    return float(np.median(d_file[ok] / d_pred[ok]))
