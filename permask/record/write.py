"""The recording files of a run: one per instance, one combined file of every instance and tracker,
and a script that opens files together in one viewer."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import rerun as rr

from permask.data import Queries, Scene, TrackResult
from permask.files.atomic import save_text
from permask.ids import natural_key
from permask.record.blueprint import make_blueprint
from permask.record.context import (DEFAULT_MAX_POINTS, SceneContext, log_scene_context,
                                    prepare_scene_context)
from permask.record.identity import RecordingIds
from permask.record.paths import query_path
from permask.record.sink import write_atomic
from permask.record.tracks import log_instance_tracks

InstanceResults = Mapping[str, tuple[Queries, TrackResult]]


def write_instance_recording(path: str | os.PathLike, scene: Scene, queries: Queries,
                             result: TrackResult, *, base: str, tracker: str,
                             instance_id: str | None = None, ids: RecordingIds | None = None,
                             context: SceneContext | None = None,
                             max_points_per_view: int = DEFAULT_MAX_POINTS,
                             log_video: bool = True) -> Path:
    """A standalone file: scene context + one instance's queries, tracks, trails and masks.

    ids default to `RecordingIds.for_scene(scene, base)`; pass one `context` for all files of a
    scene to encode it once (it then overrides max_points_per_view / log_video).
    """
    instance_id = queries.instance_id if instance_id is None else instance_id
    if instance_id != queries.instance_id:
        raise ValueError(f"queries belong to {queries.instance_id!r}, not {instance_id!r}")
    ids = RecordingIds.for_scene(scene, base) if ids is None else ids
    if context is None:
        context = prepare_scene_context(scene, max_points_per_view=max_points_per_view,
                                        log_video=log_video)
    blueprint = make_blueprint(scene, [tracker], context=context)

    def log(rec: rr.RecordingStream) -> None:
        log_scene_context(rec, scene, context=context)
        log_instance_tracks(rec, scene, queries, result, tracker=tracker)

    return write_atomic(path, ids, blueprint, log, name=base, expected_bytes=context.nbytes())


def write_combined_recording(path: str | os.PathLike, scene: Scene,
                             results: Mapping[str, InstanceResults] | InstanceResults, *,
                             base: str, tracker: str | None = None,
                             ids: RecordingIds | None = None, context: SceneContext | None = None,
                             max_points_per_view: int = DEFAULT_MAX_POINTS,
                             log_video: bool = True) -> Path:
    """ONE file: the scene context once and every instance of every tracker (a true data merge).

    results: tracker name -> instance id -> (Queries, TrackResult); or, with `tracker` given,
    that tracker's instance id -> (Queries, TrackResult). Masks are logged once per instance,
    queries once per instance at `world/queries/{instance}`, plus
    `world/queries/{instance}/{tracker}` for a tracker whose queries differ from the first's.
    """
    if tracker is not None:
        results = {tracker: results}
    ids = RecordingIds.for_scene(scene, base) if ids is None else ids
    if context is None:
        context = prepare_scene_context(scene, max_points_per_view=max_points_per_view,
                                        log_video=log_video)
    blueprint = make_blueprint(scene, list(results), context=context)

    def log(rec: rr.RecordingStream) -> None:
        log_scene_context(rec, scene, context=context)
        first: dict[str, Queries] = {}
        for name, per_instance in results.items():
            for iid in sorted(per_instance, key=natural_key):
                queries, result = per_instance[iid]
                if iid not in first:
                    first[iid] = queries
                    log_instance_tracks(rec, scene, queries, result, tracker=name)
                    continue
                same = np.array_equal(first[iid].points, queries.points, equal_nan=True)
                log_instance_tracks(rec, scene, queries, result, tracker=name, masks=False,
                                    log_queries=not same, queries_path=query_path(iid, name))

    return write_atomic(path, ids, blueprint, log, name=base, expected_bytes=context.nbytes())


def write_scene_recording(path: str | os.PathLike, scene: Scene, *, base: str,
                          ids: RecordingIds | None = None,
                          context: SceneContext | None = None) -> Path:
    """The scene file of a run with `record.scene=shared`: the scene context (cameras, RGB frames,
    depth clouds) once, no instance. The run's other files carry the same ids, so opened together
    with it (`rerun {base}_scene.rrd FILE...`) they show over the scene."""
    ids = RecordingIds.for_scene(scene, base) if ids is None else ids
    context = prepare_scene_context(scene) if context is None else context
    blueprint = make_blueprint(scene, [], context=context)
    return write_atomic(path, ids, blueprint, lambda rec: log_scene_context(rec, scene,
                                                                          context=context),
                        name=base, expected_bytes=context.nbytes())


def write_view_script(path: str | os.PathLike, rrd_paths: Iterable[str | os.PathLike]) -> Path:
    """A bash script that opens the given .rrd files together in one viewer (written atomically).

    Paths inside the script's folder are stored relative to it and resolved against the script's
    own location at run time (works from any working directory); others are stored absolute. All
    are shell-quoted. Extra arguments go to `rerun`; `RERUN_BIN` overrides the viewer command.
    """
    path = Path(path)
    folder = path.parent.resolve()
    args = []
    for rrd in rrd_paths:
        rrd = Path(rrd).resolve()
        try:
            args.append('"$here"/' + shlex.quote(str(rrd.relative_to(folder))))
        except ValueError:
            args.append(shlex.quote(str(rrd)))
    text = ("#!/usr/bin/env bash\n"
            "# Opens these recordings together in one Rerun viewer (they share one recording id).\n"
            "set -euo pipefail\n"
            'here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"\n'
            'exec "${RERUN_BIN:-rerun}" \\\n' + "".join(f"  {a} \\\n" for a in args) + '  "$@"\n')
    save_text(path, text, mode=0o777)
    return path
