"""Where data lives in a recording: the entity paths (see the layout in `permask.record`) and the
`frame` timeline. Every path part is escaped with `rr.escape_entity_path_part`."""

from __future__ import annotations

import numpy as np
import rerun as rr

from permask.data import Scene

TIMELINE = "frame"


def _part(name: str) -> str:
    return rr.escape_entity_path_part(str(name))


def camera_path(cam: str) -> str:
    return f"world/cameras/{_part(cam)}"


def image_path(cam: str) -> str:
    return f"{camera_path(cam)}/rgb"


def mask_path(cam: str, instance_id: str) -> str:
    return f"{camera_path(cam)}/masks/{_part(instance_id)}"


def cloud_path(cam: str) -> str:
    return f"world/points/{_part(cam)}"


def query_path(instance_id: str, tracker: str | None = None) -> str:
    path = f"world/queries/{_part(instance_id)}"
    return path if tracker is None else f"{path}/{_part(tracker)}"


def tracker_path(tracker: str) -> str:
    return f"world/tracks/{_part(tracker)}"


def track_path(tracker: str, instance_id: str) -> str:
    return f"{tracker_path(tracker)}/{_part(instance_id)}"


def trail_path(tracker: str, instance_id: str) -> str:
    return f"{track_path(tracker, instance_id)}/trails"


def frame_values(scene: Scene) -> np.ndarray:
    """[T] int64: the `frame` timeline value of each scene frame."""
    if scene.frame_indices is not None and len(scene.frame_indices) == scene.num_frames:
        return np.asarray(scene.frame_indices, np.int64)
    return np.arange(scene.num_frames, dtype=np.int64)


def time_column(frames: np.ndarray) -> list[rr.TimeColumn]:
    return [rr.TimeColumn(TIMELINE, sequence=frames)]
