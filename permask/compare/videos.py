"""Side-by-side videos of a sweep: per scene and camera one MP4, `{base}_comparison_{camera}.mp4`,
with one panel per run (column), labelled with its column name, every instance drawn as in the
run's own videos (`permask.video`: instance colours, trails, hollow rings for occluded points).

Panels sit in rows of at most `MAX_COLUMNS`, in the comparison's column order; a frame wider
than `MAX_WIDTH` pixels is scaled down. Written when the runs wrote videos (`video=true`), or on
request.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from permask.compare.recordings import loaded_groups
from permask.compare.runs import Run
from permask.files.layout import ComparisonLayout
from permask.ids import natural_key
from permask.record.identity import instance_color
from permask.video import draw_frame, drawn_points, project_tracks, write_video

log = logging.getLogger(__name__)

MAX_COLUMNS = 3
MAX_WIDTH = 1920  # pixels of a whole frame


def runs_wrote_videos(runs: Sequence[Run]) -> bool:
    return any(any(run.path.glob("*.mp4")) for run in runs)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    """The column name in the panel's top-left corner, white on a dark band."""
    scale = max(0.4, panel.shape[0] / 600)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(panel, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
    cv2.putText(panel, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    return panel


def tile(panels: list[np.ndarray], columns: int = MAX_COLUMNS,
         max_width: int = MAX_WIDTH) -> np.ndarray:
    """Panels [H,W,3] (all one size) in rows of `columns`, empty places black; scaled down to
    at most `max_width` pixels wide, both sides even (what MP4 encoders want)."""
    h, w = panels[0].shape[:2]
    cols = min(columns, len(panels))
    rows = math.ceil(len(panels) / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, panel in enumerate(panels):
        r, c = divmod(k, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = panel
    scale = min(1.0, max_width / grid.shape[1])
    size = (int(grid.shape[1] * scale) // 2 * 2, int(grid.shape[0] * scale) // 2 * 2)
    if size != (grid.shape[1], grid.shape[0]):
        grid = cv2.resize(grid, size, interpolation=cv2.INTER_AREA)
    return grid


def write_sweep_videos(runs: Sequence[Run], layout: ComparisonLayout) -> dict[str, Path]:
    """Per scene and camera, the side-by-side video of every run (see the module docstring)."""
    written: dict[str, Path] = {}
    for name, _, cfg, scene, results in loaded_groups(runs, "side-by-side video"):
        settings = dict(cfg.get("video_settings", {}) or {})
        h, w = scene.image_size
        radius = int(settings.get("radius", 0)) or max(2, round(min(h, w) / 120))
        trail, max_points = int(settings.get("trail", 5)), int(settings.get("max_points", 64))
        labels = sorted(results, key=natural_key)
        ids = list(scene.masks)
        for v, cam in enumerate(scene.camera_ids):
            layers = {}
            for label in labels:
                layers[label] = []
                for iid, (_, result) in results[label].items():
                    pick = drawn_points(result.tracks.shape[1], max_points)
                    layers[label].append((project_tracks(scene, v, result.tracks[:, pick]),
                                          np.asarray(result.visible, bool)[:, pick],
                                          instance_color(iid, ids)))
            def frame(t: int, v: int = v, layers: dict = layers) -> np.ndarray:
                return tile([_label(draw_frame(scene.rgbs[v, t], layers[label], t, trail,
                                               radius), label) for label in labels])

            first = frame(0)
            frames = itertools.chain([first], (frame(t) for t in range(1, scene.num_frames)))
            written[f"video_{name}_{cam}"] = write_video(
                layout.video(name, cam), frames, (first.shape[1], first.shape[0]),
                float(settings.get("fps", 10.0)))
    return written
