"""Item 4 of `benchmarks/perf.py`: writing the recordings.

`write_instance_recording` (columns) against a naive writer that logs the same content with
one `rr.set_time` + `rr.log` per entity and frame (`write_naive_recording`); merging: the combined
file (`write_combined_recording`) against `rerun rrd merge` of the per-instance files.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rerun as rr

from common import timed
from permask.record.context import SceneContext, log_scene_context, prepare_scene_context
from permask.record.identity import RecordingIds, class_ids, instance_color
from permask.record.paths import (TIMELINE, frame_values, mask_path, query_path, track_path,
                                  trail_path)
from permask.record.tracks import _resize_nearest, _trails, log_instance_tracks
from permask.record.write import write_combined_recording, write_instance_recording
from permask.data import Queries, Scene, TrackResult

BASE = "perf"


@dataclass
class Writing:
    """Seconds and bytes of writing some files."""

    seconds: float
    bytes: int


@dataclass
class WritingPair:
    """The same content written in columns (permask) and by the naive per-frame writer."""

    columns: Writing
    naive: Writing


@dataclass
class Recording:
    """Item 4. `pairs`: content -> columns vs naive, for the track points alone, the tracks
    (points + trails) and per-instance files with a cameras-only context (+ masks; no video, no
    depth cloud). `default_context`: per-instance files as a run writes them (+ JPEG video and
    depth clouds). `combined` / `cli_merge`: one file of all instances, written by permask or
    merged from the per-instance files by `rerun rrd merge`."""

    instances: int
    point_frames: int
    pairs: dict[str, WritingPair]
    default_context: Writing
    combined: Writing
    cli_merge: Writing | None


def tracked_point_frames(result: TrackResult) -> int:
    """Point-frames a recording shows: visible with a finite position."""
    return int((result.visible & np.isfinite(result.tracks).all(axis=-1)).sum())


def file_bytes(paths: Sequence[Path]) -> int:
    return sum(Path(p).stat().st_size for p in paths)


@contextmanager
def recording_file(path: Path, ids: RecordingIds) -> Iterator[rr.RecordingStream]:
    """A recording stream saved to `path`, flushed and closed (footer written) on exit."""
    rec = rr.RecordingStream(ids.application_id, recording_id=ids.recording_id)
    rec.save(path)
    try:
        yield rec
        rec.flush()
    finally:
        rec.disconnect()


def write_naive_recording(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                          tracker: str, ids: RecordingIds,
                          context: SceneContext | None, masks: bool = True,
                          trails: bool = True, queries_too: bool = True,
                          trail_length: int = 8) -> Path:
    """The baseline writer: what `write_instance_recording` writes for one instance
    (scene context, queries, track points, trails, masks), but the temporal data row by row:
    per frame `rec.set_time` and one `rec.log` per entity (points, trails, each view's mask),
    colours and radii with every row. No blueprint, not atomic. context None: no scene context;
    masks / trails / queries_too False: leave those out."""
    iid = queries.instance_id
    color = instance_color(iid, scene.instance_ids)
    tracks = np.asarray(result.tracks, np.float32)
    show = result.visible & np.isfinite(tracks).all(axis=-1)
    strips, counts = _trails(tracks, show, trail_length)  # the same trails as permask's
    counts = counts if trails else np.zeros_like(counts)
    ends = np.cumsum(counts)
    H, W = scene.image_size
    class_id = np.uint8(class_ids(scene.instance_ids)[iid])
    labels = [_resize_nearest(np.asarray(m) != 0, H, W) for m in scene.masks[iid]] \
        if masks else []
    with recording_file(path, ids) as rec:
        if context is not None:
            log_scene_context(rec, scene, context=context)
        if queries_too:
            rec.log(query_path(iid), rr.Points3D(
                queries.points[:, 1:4], colors=[(*color, 160)], radii=rr.Radius.ui_points(2.0),
                labels=[iid], show_labels=True), static=True)
        for t, frame in enumerate(frame_values(scene)):
            rec.set_time(TIMELINE, sequence=int(frame))
            rec.log(track_path(tracker, iid), rr.Points3D(
                tracks[t, show[t]], colors=[color], radii=rr.Radius.ui_points(2.5)))
            if counts[t]:
                rec.log(trail_path(tracker, iid), rr.LineStrips3D(
                    strips[ends[t] - counts[t]:ends[t]], colors=[color],
                    radii=rr.Radius.ui_points(1.0)))
            for cam, label in zip(scene.camera_ids, labels):
                rec.log(mask_path(cam, iid), rr.SegmentationImage(
                    label[t].astype(np.uint8) * class_id, opacity=0.5, draw_order=0.0))
    return path


def write_tracks_columns(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                         tracker: str, ids: RecordingIds) -> Path:
    """permask's column logging of the tracks alone (queries, points, trails; no context, no
    masks): `log_instance_tracks(masks=False)` into a file."""
    with recording_file(path, ids) as rec:
        log_instance_tracks(rec, scene, queries, result, tracker=tracker, masks=False)
    return path


def write_points_columns(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                         tracker: str, ids: RecordingIds) -> Path:
    """The track points alone in columns: the static colour/radius row and the one
    `send_columns` call that `log_instance_tracks` makes for them (it has no switch to
    leave the trails out)."""
    iid = queries.instance_id
    tracks = np.asarray(result.tracks, np.float32)
    show = result.visible & np.isfinite(tracks).all(axis=-1)
    path_in_file = track_path(tracker, iid)
    with recording_file(path, ids) as rec:
        rec.log(path_in_file, rr.Points3D.from_fields(
            colors=[instance_color(iid, scene.instance_ids)],
            radii=rr.Radius.ui_points(2.5)), static=True)
        rec.send_columns(path_in_file, indexes=[rr.TimeColumn(TIMELINE,
                                                              sequence=frame_values(scene))],
                         columns=rr.Points3D.columns(positions=tracks[show]).partition(
                             show.sum(axis=1)))
    return path


def best_writing(write: Callable[[], list[Path]], repeats: int) -> Writing:
    """Best-of-`repeats` seconds of `write()` and the bytes of the files it returns."""
    seconds, paths = min((timed(write) for _ in range(repeats)), key=lambda r: r[0])
    return Writing(seconds, file_bytes(paths))


def cli_merge(paths: Sequence[Path], out: Path, repeats: int) -> Writing | None:
    """`rerun rrd merge -o out paths...`, when the rerun CLI is installed."""
    exe = shutil.which("rerun")
    if exe is None:
        return None
    cmd = [exe, "rrd", "merge", "-o", str(out), *map(str, paths)]

    def merge() -> list[Path]:
        subprocess.run(cmd, check=True, capture_output=True)
        return [out]

    return best_writing(merge, repeats)


def bench_recording(scene: Scene, queries: dict[str, Queries], results: dict[str, TrackResult],
                    work: Path, repeats: int) -> Recording:
    ids = RecordingIds.for_scene(scene, BASE)
    bare = prepare_scene_context(scene, max_points_per_view=0, log_video=False)
    default = prepare_scene_context(scene)  # the run's: JPEG video + depth clouds
    work.mkdir(parents=True, exist_ok=True)

    def per_instance(write: Callable[..., Path], tag: str, **kwargs) -> Callable[[], list[Path]]:
        """A function writing every instance's file with `write(path, scene, q, result, ...)`."""
        return lambda: [write(work / f"{tag}_{iid}.rrd", scene, q, results[iid], ids=ids,
                              tracker="lk", **kwargs) for iid, q in queries.items()]

    def files(context: SceneContext) -> Callable[[], list[Path]]:
        return per_instance(write_instance_recording, "file", base=BASE, context=context)

    def combined() -> list[Path]:
        return [write_combined_recording(
            work / "combined.rrd", scene, {"lk": {k: (q, results[k]) for k, q in queries.items()}},
            base=BASE, ids=ids, context=default)]

    contents = {  # content -> (permask's columns, the naive writer)
        "track points": (per_instance(write_points_columns, "points"),
                         per_instance(write_naive_recording, "naive_points", context=None,
                                      masks=False, trails=False, queries_too=False)),
        "track points + trails": (per_instance(write_tracks_columns, "tracks"),
                                  per_instance(write_naive_recording, "naive_tracks",
                                               context=None, masks=False)),
        "per-instance file, cameras-only context": (
            files(bare), per_instance(write_naive_recording, "naive_file", context=bare)),
    }
    pairs = {name: WritingPair(best_writing(cols, repeats), best_writing(naive, repeats))
             for name, (cols, naive) in contents.items()}
    default_files = files(default)
    default_writing = best_writing(default_files, repeats)
    return Recording(len(queries), sum(tracked_point_frames(r) for r in results.values()), pairs,
                     default_writing, best_writing(combined, repeats),
                     cli_merge(default_files(), work / "cli_merged.rrd", repeats))


def print_recording(rec: Recording) -> None:
    per = 1e6 / rec.point_frames
    for name, pair in rec.pairs.items():
        cols, naive = pair.columns, pair.naive
        print(f"  {name}, per tracked point-frame: columns {cols.seconds * per:.2f} us "
              f"{cols.bytes / rec.point_frames:.0f} B, naive {naive.seconds * per:.2f} us "
              f"{naive.bytes / rec.point_frames:.0f} B")
    merge = f"{rec.cli_merge.seconds:.2f} s" if rec.cli_merge else "no rerun CLI"
    print(f"  one file of {rec.instances} instances: write_combined_recording "
          f"{rec.combined.seconds:.2f} s, rerun rrd merge {merge}", flush=True)
