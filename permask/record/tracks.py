"""One instance in a recording: its masks over the camera images, its queries, and one tracker's
tracks and trails of it."""

from __future__ import annotations

import numpy as np
import rerun as rr

from permask.data import Queries, Scene, TrackResult
from permask.record.identity import Color, class_ids, instance_color
from permask.record.paths import (frame_values, mask_path, query_path, time_column, track_path,
                                  trail_path)


def _resize_nearest(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """[T,Hm,Wm] -> [T,height,width], nearest pixel centre."""
    Hm, Wm = masks.shape[-2:]
    if (Hm, Wm) == (height, width):
        return masks
    rows = np.minimum(((np.arange(height) + 0.5) * Hm / height).astype(np.int64), Hm - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * Wm / width).astype(np.int64), Wm - 1)
    return masks[:, rows][:, :, cols]


def log_instance_masks(rec: rr.RecordingStream, scene: Scene, instance_id: str, *,
                       opacity: float = 0.5) -> None:
    """One instance's masks as SegmentationImages at `world/cameras/{cam}/masks/{instance}`.

    The mask [V,T,Hm,Wm] is resized (nearest) to the depth resolution so it lies exactly over that
    camera's image; value = the instance's class id (colour and label from the AnnotationContext at
    `world`), 0 = transparent. Nothing is logged for an instance without masks.
    """
    if instance_id not in scene.masks:
        return
    frames = frame_values(scene)
    H, W = scene.image_size
    T = scene.num_frames
    class_id = np.uint8(class_ids(scene.instance_ids)[instance_id])
    masks = np.asarray(scene.masks[instance_id])
    fmt = rr.components.ImageFormat(width=W, height=H, channel_datatype="U8")
    for v, cam in enumerate(scene.camera_ids):
        inside = _resize_nearest(masks[v].astype(bool, copy=False), H, W)
        label = np.multiply(inside, class_id, dtype=np.uint8)  # [T,H,W], one temporary
        path = mask_path(cam, instance_id)
        rec.log(path, rr.SegmentationImage.from_fields(format=fmt, opacity=opacity,
                                                       draw_order=0.0), static=True)
        rec.send_columns(path, indexes=time_column(frames),
                         columns=rr.SegmentationImage.columns(buffer=label.reshape(T, -1)))


def _trails(tracks: np.ndarray, show: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Trail polylines of every shown point at every frame, as one array.

    tracks [T,N,3] m, show [T,N] bool -> (strips [S,length,3] float32, frame-major; counts [T]:
    strips per frame). A strip holds the point's positions over frames [t-length+1, t]; frames
    before the clip or before the point's query repeat its oldest position (zero-length segments,
    invisible), so every strip has the same length and rerun converts them in one batch.
    """
    T = tracks.shape[0]
    strips: list[np.ndarray] = []
    counts = np.zeros(T, np.int64)
    rows = np.arange(length)[:, None]
    for t in range(1, T):
        idx = np.flatnonzero(show[t])
        frames = np.clip(np.arange(t - length + 1, t + 1), 0, None)
        window = tracks[frames][:, idx]  # [L,n,3]
        finite = np.isfinite(window).all(axis=-1)  # [L,n]
        keep = finite[-1] & (finite.sum(axis=0) >= 2)
        if not keep.any():
            continue
        window, finite = window[:, keep], finite[:, keep]
        # each row takes the nearest finite row at or after it (the oldest known position)
        nearest = np.minimum.accumulate(np.where(finite, rows, length - 1)[::-1], axis=0)[::-1]
        window = np.take_along_axis(window, nearest[..., None], axis=0)
        strips.append(window.transpose(1, 0, 2))
        counts[t] = keep.sum()
    if not strips:
        return np.zeros((0, length, 3), np.float32), counts
    return np.concatenate(strips).astype(np.float32), counts


def log_instance_tracks(rec: rr.RecordingStream, scene: Scene, queries: Queries,
                        result: TrackResult, *, tracker: str, color: Color | None = None,
                        masks: bool = True, log_queries: bool = True,
                        queries_path: str | None = None, trail_length: int = 8,
                        point_radius_ui: float = 2.5) -> None:
    """Log one instance as tracked by one tracker.

    - queries at `queries_path` (default `world/queries/{instance}`): static Points3D of the N query
      world positions (each lifted at its own frame), one label = the instance id;
    - `world/tracks/{tracker}/{instance}`: per frame the points with result.visible [T,N] and finite
      result.tracks [T,N,3] (m); `point_radius_ui` in screen points;
    - `world/tracks/{tracker}/{instance}/trails`: per frame each such point's last `trail_length`
      positions;
    - masks (when `masks`): `log_instance_masks`. Their colour comes from the scene's annotation
      context (the same palette as `instance_color`), not from `color`.
    `color` defaults to `instance_color(instance, scene.instance_ids)`.
    """
    iid = queries.instance_id
    T = scene.num_frames
    tracks = np.asarray(result.tracks, np.float32)
    visible = np.asarray(result.visible, bool)
    if tracks.shape[0] != T or visible.shape != tracks.shape[:2]:
        raise ValueError(f"{iid}: tracks {tracks.shape} / visible {visible.shape} do not match the "
                         f"scene's {T} frames")
    color = instance_color(iid, scene.instance_ids) if color is None else tuple(color)
    frames = frame_values(scene)

    if log_queries and len(queries):
        rec.log(query_path(iid) if queries_path is None else queries_path,
                rr.Points3D(np.asarray(queries.points[:, 1:4], np.float32),
                            colors=[(*color, 160)], radii=rr.Radius.ui_points(2.0),
                            labels=[iid], show_labels=True), static=True)

    show = visible & np.isfinite(tracks).all(axis=-1)  # [T,N]
    path = track_path(tracker, iid)
    rec.log(path, rr.Points3D.from_fields(colors=[color],
                                          radii=rr.Radius.ui_points(point_radius_ui)), static=True)
    rec.send_columns(path, indexes=time_column(frames), columns=rr.Points3D.columns(
        positions=tracks[show].reshape(-1, 3)).partition(show.sum(axis=1)))

    strips, counts = _trails(tracks, show, trail_length)
    if len(strips):
        path = trail_path(tracker, iid)
        rec.log(path, rr.LineStrips3D.from_fields(colors=[color], radii=rr.Radius.ui_points(1.0)),
                static=True)
        rec.send_columns(path, indexes=time_column(frames),
                         columns=rr.LineStrips3D.columns(strips=strips).partition(counts))
    if masks:
        log_instance_masks(rec, scene, iid)
