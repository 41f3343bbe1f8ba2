"""The tracker protocol, its settings base and the one convention every tracker follows.

A tracker is one module plus one YAML file (see `permask.schemas`): the module defines
`XConfig(TrackerConfig)` (typed settings, `name` = the config option) and `XTracker(TrackerBase)`
with `Config = XConfig` and a `track` method; `conf/tracker/<name>.yaml` extends
`/schema/tracker/<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from omegaconf import MISSING

from permask.data import Queries, Scene, TrackResult
from permask.schemas import settings


@dataclass
class TrackerConfig:
    """Settings every tracker has; a tracker's own schema derives from it."""

    _target_: str = MISSING  # the tracker class
    name: str = MISSING  # the config option (conf/tracker/<name>.yaml), folder and file names


class Tracker(Protocol):
    """Everything the pipeline calls: built once per process, `load()` once before any work (a
    missing model fails there, before the scene is read), `progress` set from the run's config,
    then `track` once per instance.

    `track` returns tracks [T,N,3] world metres, visible [T,N] bool and optional scores [T,N];
    frames before a query's own frame are NaN and invisible. A call sees only one instance's
    queries and keeps its state in the call, so instances never influence each other.

    With `tracking=joint` the runner makes one call for every instance instead
    (`permask.trackers.joint.track_jointly`): a tracker's optional `track_joint(scene,
    {instance: queries}) -> {instance: result}` says what a joint call means for it; without
    one, `track` gets every instance's queries as one instance whose mask is the union.
    """

    name: str
    progress: bool

    def load(self) -> Any: ...

    def track(self, scene: Scene, queries: Queries) -> TrackResult: ...


class TrackerBase:
    """The common part of every tracker: its settings (`self.config`, an instance of `Config`),
    its name, the progress switch and a `load` that has nothing to load."""

    Config: ClassVar[type[TrackerConfig]] = TrackerConfig

    def __init__(self, config: TrackerConfig | None = None, **overrides: Any):
        self.config = settings(self.Config, config, overrides)
        self.name = self.config.name
        self.progress = False  # per-frame progress bars (the runner sets it from `progress`)

    def load(self) -> Any:
        """Nothing to load: classical trackers are ready when built."""
        return None

    def track(self, scene: Scene, queries: Queries) -> TrackResult:  # pragma: no cover
        raise NotImplementedError


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
