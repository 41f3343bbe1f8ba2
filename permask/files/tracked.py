"""The tracked file `{base}_{tracker}_{instance}_tracked.npz`: its keys, its writer and its reader,
used by the pipeline, resume and the comparison alike (keys: docs/outputs.md, "Tracked NPZ"); and
the keys of an instance's query file beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.errors import PermaskError
from permask.geometry import tracks_2d
from permask.files.atomic import save_npz
from permask.versions import TRACKED_FORMAT, check_readable, stamp

log = logging.getLogger(__name__)

_REQUIRED = ("tracks_3d", "visibility", "query_points", "query_view", "query_pixel",
             "instance_id")


@dataclass
class TrackedFile:
    """What a tracked file holds that a later stage needs.

    queries: the instance's queries; result: tracks [T,N,3] world metres, visible [T,N],
    scores [T,N] or None; fingerprint: the instance fingerprint ("" when absent).
    """

    queries: Queries
    result: TrackResult
    fingerprint: str


def tracked_arrays(scene: Scene, queries: Queries, result: TrackResult, tracker: str,
                   config_text: str, gt_track_index: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """The tracked file's arrays: tracks [T,N,3] world metres, visibility [T,N], the queries,
    2D tracks [T,N,2] in each query's own view (pixels), scores [T,N] where the tracker gives
    them, the run's config text and, with ground truth, each query's track index [N]."""
    arrays = {"tracks_3d": result.tracks.astype(np.float32), "visibility": result.visible,
              "query_points": queries.points.astype(np.float32), "query_view": queries.view,
              "query_pixel": queries.pixel, "instance_id": np.array(queries.instance_id),
              "tracker": np.array(tracker), "frame_indices": scene.frame_indices,
              "camera_ids": np.array(scene.camera_ids), "config": np.array(config_text),
              "depth_metric": np.array(scene.depth_metric),
              "tracks_2d": tracks_2d(scene, result.tracks, queries.view).astype(np.float32)}
    if result.scores is not None:
        arrays["scores"] = result.scores.astype(np.float32)
    if gt_track_index is not None:
        arrays["gt_track_index"] = gt_track_index
    return arrays


def query_arrays(queries: Queries, config_text: str) -> dict[str, np.ndarray]:
    """An instance's query file (`instances/{base}_{instance}_query.npz`): points [N,4] (t, x, y,
    z world metres), each query's view, pixel and frame, the instance and the run's config."""
    return {"query_points": queries.points.astype(np.float32), "query_view": queries.view,
            "query_pixel": queries.pixel, "query_frame": queries.frame,
            "instance_id": np.array(queries.instance_id), "config": np.array(config_text)}


def write_tracked(path: Path, arrays: dict[str, np.ndarray], fingerprint: str) -> Path:
    """Write the tracked file atomically, with its format and permask versions.

    Args:
      path: `{base}_{tracker}_{instance}_tracked.npz` inside the run's folder.
      arrays: its members (`tracked_arrays`: tracks_3d [T,N,3] metres, visibility [T,N], ...).
      fingerprint: the instance's fingerprint; written with it, the instance counts as finished.

    Returns:
      The path written.
    """
    versions = {k: np.array(v) for k, v in stamp(TRACKED_FORMAT).items()}
    return save_npz(path, fingerprint=np.array(fingerprint), **arrays, **versions)


def read_tracked(path: Path, *, num_frames: int | None = None) -> TrackedFile | None:
    """Read a tracked file without executing pickles.

    Args:
      path: a `*_tracked.npz`.
      num_frames: the number of frames it must have (None: any).

    Returns:
      The TrackedFile, or None (with a warning) when it is missing, unreadable, incomplete or has
      another number of frames.

    Raises:
      FormatVersionError (one line) when a newer permask wrote it: never misread, never replaced.
    """
    from permask.inputs.npz import load_npz_safely

    if not Path(path).is_file():
        return None
    try:
        f = load_npz_safely(path, keys=[*_REQUIRED, "scores", "fingerprint", "format_version"])
    except PermaskError as err:
        log.warning("cannot read %s (%s)", path, err)
        return None
    check_readable(path, f.get("format_version"), TRACKED_FORMAT)
    missing = [k for k in _REQUIRED if k not in f]
    if missing:
        log.warning("%s lacks %s; not used", path, ", ".join(missing))
        return None
    tracks = np.asarray(f["tracks_3d"])
    if num_frames is not None and (tracks.ndim != 3 or tracks.shape[0] != num_frames):
        log.warning("%s has %s frames, the scene %d; not used", path,
                    tracks.shape[0] if tracks.ndim else "no", num_frames)
        return None
    queries = Queries(str(f["instance_id"]), f["query_points"], f["query_view"], f["query_pixel"])
    result = TrackResult(tracks, f["visibility"], f.get("scores"))
    return TrackedFile(queries, result, str(f.get("fingerprint", "")))
