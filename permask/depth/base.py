"""What every depth estimator shares: the protocol and how a new depth map enters the Scene."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from omegaconf import MISSING

from permask.data import Scene


@dataclass
class DepthConfig:
    """Settings every depth estimator has; each estimator's schema derives from it and lives in
    its module (found by `permask.schemas`)."""

    _target_: str = MISSING
    name: str = MISSING


class DepthEstimator(Protocol):
    """Turns the loaded Scene into the Scene every later stage sees.

    name: the config name. metric: True when the output depth is in metres (the pipeline writes
    it into metrics.json and the tracked NPZ; `depth=constant` is not metric). needs_file_depth:
    False when the estimator works on a recording without any depth (`constant`, metric models).
    """

    name: str
    metric: bool
    needs_file_depth: bool

    def apply(self, scene: Scene) -> Scene: ...


def measured_map(scene: Scene) -> np.ndarray:
    """[V,T,H,W] bool: where the scene's current depth is a measurement from the file."""
    valid = scene.depths > 0
    return valid if scene.depth_measured is None else (valid & scene.depth_measured)


def with_depth(scene: Scene, depths: np.ndarray, measured: np.ndarray) -> Scene:
    """A copy of `scene` with new depths [V,T,H,W] (float32 metres, 0 = invalid) and the map of
    which of them are measurements; every other field is shared, not copied."""
    depths = np.asarray(depths, np.float32)
    if depths.shape != scene.depths.shape:
        raise ValueError(f"depth shape {depths.shape} != scene depth shape {scene.depths.shape}")
    depths = np.where(np.isfinite(depths) & (depths > 0), depths, np.float32(0))
    return dataclasses.replace(scene, depths=depths,
                               depth_measured=np.asarray(measured, bool) & (depths > 0))
