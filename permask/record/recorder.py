"""The recordings of one run, as `record.*` asks: which scene context goes into which file, and
the live stream beside them.

`record.scene=per_file` (default): every file opens alone. The combined file carries the whole
scene context; each per-instance file carries the cameras, every RGB frame and the depth clouds
at every `record.instance_cloud_stride`-th frame (the viewer keeps a cloud on screen until the
next one), so the clouds, the bulk of a file, cost 1/stride there.

`record.scene=shared`: the scene context goes once into `{base}_scene.rrd`; the per-instance and
combined files hold the cameras (poses, intrinsics: bytes) and their own masks, queries and
tracks. Opened together with the scene file (the view script does) they show exactly what
per_file shows; alone, they show masks and tracks without images or clouds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from permask.data import Queries, Scene, TrackResult
from permask.files.layout import OutputLayout
from permask.record.context import prepare_scene_context
from permask.record.identity import RecordingIds
from permask.record.live import LiveView
from permask.record.write import (write_combined_recording, write_instance_recording,
                                  write_scene_recording, write_view_script)

SHARED = "shared"


def is_shared(record_cfg: Any) -> bool:
    """`record.scene=shared` (record_cfg: the `record` config node)."""
    return str(getattr(record_cfg, "scene", "per_file")) == SHARED


def open_live_view(record_cfg: Any, ids: RecordingIds) -> LiveView | None:
    """The live stream `record.spawn` / `record.connect` ask for, else None. Raises ConfigError
    (one line) when the viewer to connect to is not there."""
    connect = getattr(record_cfg, "connect", None)
    spawn = bool(getattr(record_cfg, "spawn", False))
    if not (connect or spawn):
        return None
    return LiveView(ids, spawn=spawn, connect=connect)


class RunRecorder:
    """Writes a run's recordings (record_cfg: the `record` config node; layout: the run's files).
    `start()` before the instances, `instance(...)` per tracked instance, `finish(...)` at the
    end; `close()` always (ends the live stream)."""

    def __init__(self, record_cfg: Any, scene: Scene, layout: OutputLayout, tracker: str,
                 live: LiveView | None = None):
        self.scene, self.layout, self.tracker, self.live = scene, layout, tracker, live
        self.base = layout.base
        self.ids = RecordingIds.for_scene(scene, self.base)
        self.shared = is_shared(record_cfg)
        self.context = prepare_scene_context(scene,
                                             max_points_per_view=record_cfg.max_points_per_view,
                                             log_video=record_cfg.log_video)
        if self.shared:
            self.instance_context = self.combined_context = self.context.cameras_only()
        else:
            stride = int(getattr(record_cfg, "instance_cloud_stride", 1))
            self.instance_context = self.context.clouds_every(stride)
            self.combined_context = self.context

    def start(self) -> dict[str, Path]:
        files = {}
        if self.shared:
            files["scene_rrd"] = write_scene_recording(
                self.layout.scene_recording(), self.scene, base=self.base, ids=self.ids,
                context=self.context)
        if self.live is not None:
            self.live.scene(self.scene, self.context, [self.tracker], self.base)
        return files

    def instance(self, path: str | os.PathLike | None, queries: Queries,
                 result: TrackResult) -> None:
        """Write one instance's file (path None: it exists from an earlier run) and stream it."""
        if path is not None:
            write_instance_recording(path, self.scene, queries, result, base=self.base,
                                     tracker=self.tracker, ids=self.ids,
                                     context=self.instance_context)
        if self.live is not None:
            self.live.instance(self.scene, queries, result, self.tracker)

    def finish(self, results: Mapping[str, tuple[Queries, TrackResult]],
               rrd_paths: list[Path]) -> dict[str, Path]:
        """The combined file and the view script (which opens the scene file first, if any)."""
        files = {"combined_rrd": write_combined_recording(
            self.layout.combined_recording(), self.scene, {self.tracker: dict(results)},
            base=self.base, ids=self.ids, context=self.combined_context)}
        scene_file = [self.layout.scene_recording()] if self.shared else []
        files["view_script"] = write_view_script(self.layout.view_script(),
                                                 [*scene_file, *rrd_paths])
        return files

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
