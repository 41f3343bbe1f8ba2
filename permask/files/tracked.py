"""The tracked file `{base}_{tracker}_{instance}_tracked.npz`: one writer and one reader, used by
the pipeline, resume and the comparison alike. Keys: docs/outputs.md, "Tracked NPZ"."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from permask.data import Queries, TrackResult
from permask.errors import PermaskError
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


def write_tracked(path: Path, arrays: dict[str, np.ndarray], fingerprint: str) -> Path:
    """Write the tracked file atomically, with its format and permask versions; the fingerprint
    marks the instance finished."""
    versions = {k: np.array(v) for k, v in stamp(TRACKED_FORMAT).items()}
    return save_npz(path, fingerprint=np.array(fingerprint), **arrays, **versions)


def read_tracked(path: Path, *, num_frames: int | None = None) -> TrackedFile | None:
    """The tracked file at `path`, read without pickles; None (with a warning) if it is missing,
    unreadable, incomplete or (num_frames given) has another number of frames.
    FormatVersionError (one line) when a newer permask wrote it: never misread, never replaced."""
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
