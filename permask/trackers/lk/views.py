"""What `lk` reads of each view in one `track` call: the cameras in float64 (`Cameras`) and the
grey frames as crops around the instance, masked to it (`Frames`), so the LK pyramids cover the
object only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cameras:
    """The scene's cameras in float64, converted once per track call: intrs [V,T,3,3],
    extrs [V,T,3,4] world-to-camera."""

    intrs: np.ndarray
    extrs: np.ndarray

    def project(self, points: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """World points [N,3] (metres; NaN: unknown) seen by every view at frame t:
        (pixels uv [V,N,2], camera z [V,N]); uv NaN at or behind a camera. One call for all
        views: the step's prediction, the re-seeding and the visibility test share it."""
        E, K = self.extrs[:, t], self.intrs[:, t]
        # stacked matmuls: for these shapes ten times faster than the same einsums
        cam = points @ E[:, :, :3].transpose(0, 2, 1) + E[:, None, :, 3]  # [V,N,3]
        z = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uvw = cam @ K.transpose(0, 2, 1)
            uv = uvw[..., :2] / uvw[..., 2:3]
        uv[z <= 1e-9] = np.nan
        return uv, z


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
        frame [y0, y1, x0, x1] (`boxes_and_areas(...).tolist()` of this view: plain ints, cheap to
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
