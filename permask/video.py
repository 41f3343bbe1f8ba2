"""MP4 videos of the tracks drawn over each camera's frames (`video=true`).

Per run: one video per camera with every instance (`{base}_{tracker}_{camera}.mp4`) and, with
`video_settings.per_instance=true`, one per instance and camera
(`{base}_{tracker}_{instance}_{camera}.mp4`). Each point is drawn in its instance's colour (the
same as in the viewer, `permask.record.identity.instance_color`) with a short trail of its last
`video_settings.trail` frames; a point the tracker calls visible is a filled dot, one it calls
occluded a hollow ring, a point before its own query frame or outside the image is not drawn.
Encoded with OpenCV's `VideoWriter` (`mp4v`); each file is written to a temporary beside it and
renamed into place when complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from permask.logs import bars_on
from permask.data import Queries, Scene, TrackResult
from permask.errors import OutputError
from permask.geometry import project
from permask.files.atomic import atomic_write
from permask.files.layout import OutputLayout
from permask.record.identity import instance_color

FOURCC = "mp4v"


def project_tracks(scene: Scene, view: int, tracks: np.ndarray) -> np.ndarray:
    """Tracks [T,N,3] world -> pixels [T,N,2] in `view` (NaN: behind the camera or no track)."""
    out = np.full(tracks.shape[:2] + (2,), np.nan, np.float64)
    for t in range(tracks.shape[0]):
        uv, _ = project(np.nan_to_num(tracks[t], nan=0.0), scene.intrs[view, t], scene.extrs[view, t])
        uv[~np.isfinite(tracks[t]).all(axis=1)] = np.nan
        out[t] = uv
    return out


def drawn_points(n: int, max_points: int) -> np.ndarray:
    """Indices of the points drawn: all, or `max_points` evenly spread (deterministic)."""
    if max_points <= 0 or n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def draw_frame(image: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray, tuple]], t: int,
               trail: int, radius: int) -> np.ndarray:
    """One BGR frame: for each (pixels [T,N,2], visible [T,N], rgb colour) layer, trails over
    frames t-trail..t and the points at t (filled: visible, ring: occluded)."""
    frame = np.ascontiguousarray(image[..., ::-1])  # RGB -> BGR for OpenCV
    h, w = frame.shape[:2]
    scale = 16  # sub-pixel positions (shift=4)
    for pixels, visible, rgb in layers:
        bgr = tuple(int(c) for c in rgb[::-1])
        start = max(0, t - trail)
        segment = pixels[start:t + 1]  # [L,N,2]
        if len(segment) > 1:
            ok = np.isfinite(segment).all(axis=2)
            for n in range(segment.shape[1]):
                pts = segment[ok[:, n], n]
                if len(pts) > 1:
                    cv2.polylines(frame, [np.round(pts * scale).astype(np.int32)], False, bgr, 1,
                                  cv2.LINE_AA, shift=4)
        now = pixels[t]
        inside = np.isfinite(now).all(axis=1) & (now[:, 0] >= -radius) & (now[:, 0] < w + radius) \
            & (now[:, 1] >= -radius) & (now[:, 1] < h + radius)
        for n in np.flatnonzero(inside):
            centre = tuple(int(v) for v in np.round(now[n] * scale))
            thickness = -1 if visible[t, n] else 1
            cv2.circle(frame, centre, radius * scale, bgr, thickness, cv2.LINE_AA, shift=4)
    return frame


def write_video(path: Path, frames, size: tuple[int, int], fps: float) -> Path:
    """Encode BGR frames (an iterable of [H,W,3] uint8) to `path` atomically."""
    width, height = size
    with atomic_write(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), float(fps),
                                 (width, height))
        if not writer.isOpened():
            raise OutputError("OpenCV cannot open an MP4 writer (codec mp4v)", file=str(path),
                              fix="install opencv-python-headless with its bundled FFmpeg")
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.release()
        if tmp.stat().st_size == 0:
            raise OutputError("OpenCV wrote an empty video", file=str(path))
    return path


def write_track_videos(scene: Scene, results: Mapping[str, tuple[Queries, TrackResult]],
                       layout: OutputLayout, *, per_instance: bool = False, trail: int = 5,
                       radius: int = 0, max_points: int = 64, fps: float = 10.0,
                       progress: bool = True) -> dict[str, Path]:
    """The run's videos (see the module docstring); returns {name: path}."""
    ids = list(scene.masks)
    h, w = scene.image_size
    radius = radius if radius > 0 else max(2, round(min(h, w) / 120))
    chosen = {iid: drawn_points(result.tracks.shape[1], max_points)
              for iid, (_, result) in results.items()}
    layers_per_view = []
    for v in range(scene.num_views):
        layers_per_view.append({
            iid: (project_tracks(scene, v, result.tracks[:, chosen[iid]]),
                  np.asarray(result.visible, bool)[:, chosen[iid]], instance_color(iid, ids))
            for iid, (_, result) in results.items()})
    views = range(scene.num_views)
    targets = [(v, list(results)) for v in views]  # (view, instances drawn)
    if per_instance:
        targets += [(v, [iid]) for iid in results for v in views]
    # the layout names them in the same order: per camera, then per instance and camera
    named = layout.videos(scene.camera_ids, list(results) if per_instance else ())
    jobs = [(name, path, v, members)
            for (name, path), (v, members) in zip(named.items(), targets, strict=True)]
    written = {}
    for name, path, v, members in tqdm(jobs, desc="videos", unit="video", disable=not bars_on(progress)):
        layers = [layers_per_view[v][iid] for iid in members]
        frames = (draw_frame(scene.rgbs[v, t], layers, t, trail, radius)
                  for t in range(scene.num_frames))
        written[name] = write_video(path, frames, (w, h), fps)
    return written


def read_frame_count(path: str | Path) -> int:
    """Frames OpenCV decodes from a video (counted, not the header's claim)."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    try:
        while cap.isOpened():
            ok, _ = cap.read()
            if not ok:
                break
            count += 1
    finally:
        cap.release()
    return count
