"""`tracker=static`, the zero-motion baseline: each query stays at its query position from its
own frame on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.trackers.base import TrackerBase, TrackerConfig, apply_query_convention


@dataclass
class StaticConfig(TrackerConfig):
    _target_: str = "permask.trackers.static.StaticTracker"
    name: str = "static"


class StaticTracker(TrackerBase):
    Config = StaticConfig

    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        T, N = scene.num_frames, len(queries)
        tracks = np.broadcast_to(queries.points[None, :, 1:], (T, N, 3)).astype(np.float32)
        result = TrackResult(tracks, np.ones((T, N), bool), np.ones((T, N), np.float32))
        return apply_query_convention(result, queries.frame)
