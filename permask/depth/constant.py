"""`depth=constant`: a plane at a fixed distance in front of every camera, for videos without depth.

A single-view video without depth can still be tracked in 2D: every pixel is lifted to z =
`distance` (metres) in its own camera, trackers run as usual, and the tracks projected back into
each point's source view (`tracks_2d`) are exact pixel tracks. The 3D positions are NOT metric
(`metric = False`): the pipeline writes that into metrics.json and the tracked NPZ, next to
`tracks_2d`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from permask.data import Scene
from permask.depth.base import DepthConfig, with_depth
from permask.errors import ConfigError

log = logging.getLogger(__name__)



@dataclass
class ConstantDepthConfig(DepthConfig):
    """`depth=constant`: a plane at `distance` metres in every camera (not metric)."""

    _target_: str = "permask.depth.constant.ConstantDepth"
    name: str = "constant"
    distance: float = 1.0  # metres


class ConstantDepth:
    """Every pixel of every view and frame at z = `distance` metres; nothing is measured."""

    metric = False
    needs_file_depth = False

    def __init__(self, name: str = "constant", distance: float = 1.0):
        if not np.isfinite(distance) or distance <= 0:
            raise ConfigError(f"distance must be a positive number of metres, got {distance}",
                              key="depth.distance")
        self.name = name
        self.distance = float(distance)

    def apply(self, scene: Scene) -> Scene:
        if scene.num_views > 1:
            log.warning("depth=constant with %d views: each view's plane is its own, so the "
                        "views do not agree in 3D; meant for a single view", scene.num_views)
        depths = np.full(scene.depths.shape, self.distance, np.float32)
        return with_depth(scene, depths, np.zeros(depths.shape, bool))


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
