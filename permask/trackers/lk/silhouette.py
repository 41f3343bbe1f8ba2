"""Measures of an instance's (dilated) mask in one view, as `lk` uses them: its boxes per frame,
its typical thickness (window sizes and margins), how far a pixel lies inside it, and the
nearest pixel inside it."""

from __future__ import annotations

import cv2
import numpy as np

from permask.trackers.lifting import lookup_mask
from permask.trackers.lk.flow import runs


def boxes_and_areas(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes [V,T,4] (y0, y1, x0, x1; y0 == y1 when empty) and areas [V,T] (pixels) of
    masks [V,T,H,W] bool: the areas from OpenCV's row sums of every frame in one call (a run
    does this per instance over the whole video), the columns from numpy's maximum."""
    V, T, H, W = masks.shape
    pixels = np.ascontiguousarray(masks).view(np.uint8)
    row_counts = cv2.reduce(pixels.reshape(-1, W), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    row_counts = row_counts.reshape(V, T, H)
    rows = row_counts > 0  # [V,T,H]
    cols = pixels.max(axis=2) > 0  # [V,T,W]
    has = rows.any(axis=2)
    y0 = np.where(has, rows.argmax(axis=2), 0)
    y1 = np.where(has, H - rows[..., ::-1].argmax(axis=2), 0)
    x0 = np.where(has, cols.argmax(axis=2), 0)
    x1 = np.where(has, W - cols[..., ::-1].argmax(axis=2), 0)
    return np.stack([y0, y1, x0, x1], axis=-1), row_counts.sum(axis=2)


def thickness(boxes: np.ndarray | None, areas: np.ndarray | None) -> float | None:
    """The instance's median thickness in one view (pixels): mask area [T] / longer side of its
    box [T,4] (y0, y1, x0, x1) over the frames where the mask is not empty (a disc's is 0.79 of
    its diameter, a thin bar's its width); None without masks or with none there."""
    if boxes is None:
        return None
    longer = np.maximum(boxes[:, 1] - boxes[:, 0], boxes[:, 3] - boxes[:, 2])
    if not (longer > 0).any():
        return None
    return float(np.median(areas[longer > 0] / longer[longer > 0]))


def edge_distance(masks: np.ndarray, uv: np.ndarray, view: np.ndarray, reach: np.ndarray
                  ) -> np.ndarray:
    """[M] pixels from uv [M,2] of its view [M] (sorted) to the nearest pixel outside that
    view's mask (masks [V,H,W] bool), exact up to the view's `reach` [V] (pixels; beyond it, at
    least that)."""
    out = np.zeros(len(uv))
    pixel = np.rint(uv).astype(np.int64)
    H, W = masks.shape[1:]
    radius = np.round(reach).astype(np.int64)
    for v, (s, e) in runs(view):
        # the distance transform of a crop around the points, reaching past them by more than
        # the radius: every mask edge within the radius of a point lies inside it
        x0, y0 = np.maximum(pixel[s:e].min(0) - radius[v] - 2, 0)
        x1, y1 = np.minimum(pixel[s:e].max(0) + radius[v] + 3, [W, H])
        inside = cv2.distanceTransform(np.ascontiguousarray(masks[v, y0:y1, x0:x1]).view(np.uint8),
                                       cv2.DIST_L2, 3)
        out[s:e] = inside[pixel[s:e, 1] - y0, pixel[s:e, 0] - x0]
    return out


def nearest_inside(mask: np.ndarray, uv: np.ndarray) -> np.ndarray | None:
    """Pixels uv [M,2] (x, y) with those outside mask [H,W] bool (or outside the image) moved to
    the nearest pixel of the mask (L2, OpenCV's distance transform); NaN pixels (a point at or
    behind the camera) stay NaN. None when no pixel moves (all inside or NaN, or an empty
    mask)."""
    outside = ~lookup_mask(mask, uv) & np.isfinite(uv).all(axis=1)
    if not outside.any() or not mask.any():
        return None
    H, W = mask.shape
    x = np.clip(np.rint(uv[outside, 0]).astype(np.int64), 0, W - 1)
    y = np.clip(np.rint(uv[outside, 1]).astype(np.int64), 0, H - 1)
    # labels: for every pixel, the index (1-based, raster order) of the nearest mask pixel
    _, labels = cv2.distanceTransformWithLabels((~mask).view(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(mask)
    nearest = labels[y, x] - 1
    moved = uv.astype(np.float64)
    moved[outside] = np.stack([xs[nearest], ys[nearest]], axis=1)
    return moved
