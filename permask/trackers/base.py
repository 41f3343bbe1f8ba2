"""The tracker protocol and the one convention every tracker follows."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from permask.data import Queries, Scene, TrackResult


class Tracker(Protocol):
    """Tracks one instance's queries through the scene.

    `track` returns tracks [T,N,3] world metres, visible [T,N] bool and optional scores [T,N];
    frames before a query's own frame are NaN and invisible. A call sees only one instance's
    queries, so instances never influence each other.
    """

    name: str

    def track(self, scene: Scene, queries: Queries) -> TrackResult: ...


def before_query_mask(num_frames: int, query_frames: np.ndarray) -> np.ndarray:
    """[T,N] bool, True where frame t comes before query n's own frame."""
    return np.arange(num_frames)[:, None] < np.asarray(query_frames)[None, :]


def apply_query_convention(result: TrackResult, query_frames: np.ndarray) -> TrackResult:
    """Enforce NaN / invisible before each query's frame (in place) and return the result."""
    before = before_query_mask(result.tracks.shape[0], query_frames)
    result.tracks[before] = np.nan
    result.visible[before] = False
    if result.scores is not None:
        result.scores[before] = 0.0
    return result
