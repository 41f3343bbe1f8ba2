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
