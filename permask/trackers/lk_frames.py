"""The grey frames `lk` tracks in, per view and instance: crops around the instance's mask
boxes (`mask_boxes`), masked to it (`Frames`, `fill_values`), so the LK pyramids cover the object
only; `runs` / `extents` group sorted points per view for one LK call
each; the instance's typical thickness in a view (`thickness`, for window sizes and margins) and
where each 2D track should start its next LK step (`predicted_shift`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from permask.geometry import project_each
from permask.trackers.lifting import lookup_mask


def runs(sorted_keys: np.ndarray):
    """(key, (start, end)) of each run of equal values in a sorted [M] int array."""
    if len(sorted_keys) == 0:
        return
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(sorted_keys)]
    for k, s, e in zip(sorted_keys[bounds[:-1]].tolist(), bounds[:-1], bounds[1:]):
        yield k, (s, e)


def extents(points: np.ndarray, runs: list) -> list[list[float]]:
    """Per run (see `runs`) of points [M,2] (x, y; finite): [x0, y0, x1, y1], the points'
    minimum and maximum + 1 (a box holding every pixel they touch)."""
    if not runs:
        return []
    starts = [s for _, (s, _) in runs]
    lo = np.minimum.reduceat(points, starts, axis=0)
    hi = np.maximum.reduceat(points, starts, axis=0)
    return np.concatenate([lo, hi + 1], axis=1).tolist()



class Frames:
    """One view's grey frames as LK sees them for one instance.

    With the instance's masks [T,H,W] and mask boxes: crops around the instance's boxes at the
    given frames and points, with everything outside the (dilated) mask set to the mask's mean
    grey of that frame, so the pyramids cover the object only, LK windows at the object's border
    are driven by its own texture and silhouette (not by the static background or an occluder),
    and tracking N instances costs about what tracking their pixels once costs: only the crops
    are masked, never the whole video per instance. Without masks: the whole frames.
    """

    def __init__(self, gray: np.ndarray, masks: np.ndarray | None,
                 boxes: list[list[int]] | None, margin: int):
        """gray [T,H,W] uint8 (the scene's, shared); masks [T,H,W] bool or None; boxes: per
        frame [y0, y1, x0, x1] (`mask_boxes(...).tolist()` of this view: plain ints, cheap to
        compare per step), or None."""
        self.gray, self.masks, self.boxes, self.margin = gray, masks, boxes, margin
        self.fill = None if masks is None else fill_values(gray, masks)

    def crops(self, frames: list[int], extent: list[float] | None
              ) -> tuple[list[np.ndarray], np.ndarray]:
        """The frames' images (cropped to one common box covering the frames' mask boxes and
        the points' `extent` [x0, y0, x1, y1], see `extents`; masked) and the box's offset [2]
        (x, y)."""
        if self.boxes is None:
            return [self.gray[f] for f in frames], np.zeros(2, np.float32)
        H, W = self.gray.shape[1:]
        b = [self.boxes[f] for f in frames]
        b = [box for box in b if box[0] < box[1]]
        if extent is not None:
            b.append([extent[1], extent[3], extent[0], extent[2]])
        if not b:
            y0, y1, x0, x1 = 0, H, 0, W
        else:
            top, bottom, left, right = zip(*b)
            y0 = max(math.floor(min(top)) - self.margin, 0)
            y1 = min(math.ceil(max(bottom)) + self.margin, H)
            x0 = max(math.floor(min(left)) - self.margin, 0)
            x1 = min(math.ceil(max(right)) + self.margin, W)
        images = []
        for f in frames:
            image = np.full((y1 - y0, x1 - x0), self.fill[f], np.uint8)
            np.copyto(image, self.gray[f, y0:y1, x0:x1], where=self.masks[f, y0:y1, x0:x1])
            images.append(image)
        return images, np.array([x0, y0], np.float32)


def fill_values(gray: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """[T] uint8: the mean grey inside the mask [T,H,W] of each frame of gray [T,H,W] (128 where
    the mask is empty), from every 4th pixel: a fill value needs no more, and it is 16x cheaper."""
    g, m = gray[:, ::4, ::4], masks[:, ::4, ::4]
    inside = m.sum(axis=(1, 2))
    totals = g.sum(axis=(1, 2), where=m, dtype=np.int64)
    return np.where(inside > 0, totals / np.maximum(inside, 1), 128.0).round().astype(np.uint8)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """[V,T,4] (y0, y1, x0, x1) bounding boxes of masks [V,T,H,W] (y0 == y1 when empty)."""
    rows = masks.any(axis=3)  # [V,T,H]
    cols = masks.any(axis=2)  # [V,T,W]
    H, W = masks.shape[2:]
    has = rows.any(axis=2)
    y0 = np.where(has, rows.argmax(axis=2), 0)
    y1 = np.where(has, H - rows[..., ::-1].argmax(axis=2), 0)
    x0 = np.where(has, cols.argmax(axis=2), 0)
    x1 = np.where(has, W - cols[..., ::-1].argmax(axis=2), 0)
    return np.stack([y0, y1, x0, x1], axis=-1)


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


def nearest_inside(mask: np.ndarray, uv: np.ndarray) -> np.ndarray | None:
    """Pixels uv [M,2] (x, y; finite) with those outside mask [H,W] bool (or outside the image)
    moved to the nearest pixel of the mask (L2, OpenCV's distance transform); None when no pixel
    moves (all inside, or an empty mask)."""
    outside = ~lookup_mask(mask, uv)
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


def predicted_shift(cameras, tracks: np.ndarray, t: int, view: np.ndarray, idx: np.ndarray
                     ) -> np.ndarray:
    """[M,2] float32 pixels: how far the 2D tracks (view [M], idx [M]) should move from t-1 to t
    if each point keeps its last 3D step (tracks [T,N,3] at t-2 -> t-1, metres), projected with
    the cameras of t-1 and t; 0 where a position is unknown or does not project."""
    last, before = tracks[t - 1, idx], tracks[t - 2, idx]
    step = np.where(np.isnan(before), 0.0, last - before)
    now, _ = project_each(last + step, cameras.intrs[view, t], cameras.extrs[view, t])
    then, _ = project_each(last, cameras.intrs[view, t - 1], cameras.extrs[view, t - 1])
    shift = now - then
    return np.where(np.isfinite(shift), shift, 0.0).astype(np.float32)
