"""Queries just outside their instance's mask, tracked from the nearest point inside it.

A hand-labelled point often sits a pixel or two off the mask (a paw, an ear or a tail tip on the
silhouette; a mask drawn a little tight). `lk` measures a point only inside the (dilated) mask,
so such a query would never be tracked, only carried by the instance's motion. `snap_to_mask`
moves each of them to the nearest pixel at least `inside_px` inside the mask in its source view
and frame (OpenCV's distance transform with labels finds it), lifted with the depth measured
there, and returns the offset from that point to the query: `lk` tracks the moved point and adds
the offset back, so the track starts at the query and follows the object next to it.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from permask.data import Queries, Scene
from permask.geometry import project, unproject


def snap_to_mask(scene: Scene, queries: Queries, masks: np.ndarray, inside_px: float,
                 max_px: float) -> tuple[Queries, np.ndarray]:
    """(queries to track, offsets [N,3] metres to add to their tracks). A query whose pixel in
    its source view at its frame lies outside masks [V,T,H,W] (bool, dilated), within `max_px`
    of it, moves to the nearest pixel at least `inside_px` inside; its 3D point is that pixel
    lifted with the depth there (the query's own camera z where the depth has a hole). Other
    queries, and all when `max_px` <= 0, stay (offset 0)."""
    offsets = np.zeros((len(queries), 3))
    if max_px <= 0 or len(queries) == 0:
        return queries, offsets
    points, pixels = queries.points.copy(), queries.pixel.copy()
    H, W = masks.shape[2:]
    frames = queries.frame
    for v, t in {(int(v), int(t)) for v, t in zip(queries.view, frames)}:
        idx = np.flatnonzero((queries.view == v) & (frames == t))
        mask = masks[v, t]
        u = np.clip(np.rint(pixels[idx, 0]).astype(np.int64), 0, W - 1)
        r = np.clip(np.rint(pixels[idx, 1]).astype(np.int64), 0, H - 1)
        idx, u, r = idx[~mask[r, u]], u[~mask[r, u]], r[~mask[r, u]]
        if len(idx) == 0:
            continue
        mask8 = np.ascontiguousarray(mask, np.uint8)
        deep = cv2.distanceTransform(mask8, cv2.DIST_L2, 5) >= inside_px  # far enough inside
        if not deep.any():
            deep = mask.astype(bool)
        if not deep.any():
            continue
        # distance to, and label of, the nearest `deep` pixel, for every pixel
        _, labels = cv2.distanceTransformWithLabels(
            np.ascontiguousarray(~deep, np.uint8), cv2.DIST_L2, 5,
            labelType=cv2.DIST_LABEL_PIXEL)
        ys, xs = np.nonzero(deep)
        where = np.zeros(int(labels.max()) + 1, np.int64)
        where[labels[ys, xs]] = np.arange(len(ys))
        outside = cv2.distanceTransform(np.ascontiguousarray(1 - mask8), cv2.DIST_L2, 5)
        close = outside[r, u] <= max_px
        idx, u, r = idx[close], u[close], r[close]
        if len(idx) == 0:
            continue
        nearest = where[labels[r, u]]
        target = np.stack([xs[nearest], ys[nearest]], axis=1).astype(np.float64)
        _, z_query = project(points[idx, 1:].astype(np.float64), scene.intrs[v, t],
                             scene.extrs[v, t])
        z = scene.depths[v, t][ys[nearest], xs[nearest]].astype(np.float64)
        z = np.where(np.isfinite(z) & (z > 0), z, z_query)
        moved = unproject(target, z, scene.intrs[v, t], scene.extrs[v, t])
        offsets[idx] = points[idx, 1:] - moved
        points[idx, 1:] = moved
        pixels[idx] = target
    return dataclasses.replace(queries, points=points, pixel=pixels), offsets
