"""Everything Rerun: per-instance and combined recordings, blueprint, viewing script, read-back.

Entity layout (each path part escaped with `rr.escape_entity_path_part`, e.g. "cam 1" -> `cam\\ 1`):

    world                                     AnnotationContext (static): 0 clear, k = instance
    world/cameras/{cam}                       Transform3D: world-to-camera extrinsics, relation
                                              ChildFromParent; Pinhole: K, (W,H), RDF. Static when
                                              constant over time, else one row per frame
    world/cameras/{cam}/rgb                   EncodedImage (JPEG) or Image, per frame
    world/cameras/{cam}/masks/{instance}      SegmentationImage per frame at depth resolution
    world/points/{cam}                        coloured, subsampled depth cloud, per frame
    world/queries/{instance}                  static Points3D: query positions, one label
    world/queries/{instance}/{tracker}        only where a tracker's queries differ from the first's
    world/tracks/{tracker}/{instance}         Points3D per frame: the visible track points
    world/tracks/{tracker}/{instance}/trails  LineStrips3D per frame: the last `trail_length` frames

Masks live under the pinhole entity, so they overlay the RGB image in the camera's 2D view and
inside the frustum of the 3D view. The timeline is `frame`, an integer sequence holding
`scene.frame_indices` (or 0..T-1). Temporal data is sent in columns (`send_columns`); per-entity
constants (colours, radii, image formats) are logged once as static components beside them.

Every file of one scene shares application id and recording id (`RecordingIds.for_scene`), so files
opened together merge into one recording; paths never collide across instances or trackers. Files
are written atomically: temporary name in the same folder, finalized (footer), then `os.replace`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shlex
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rerun as rr
import rerun.blueprint as rrb

from permask.data import Queries, Scene, TrackResult
from permask.errors import OutputError
from permask.ids import natural_key
from permask.files.atomic import atomic_write, save_text
from permask.geometry import camera_center, unproject

APPLICATION_ID = "permask"
TIMELINE = "frame"
# Depth points per view and frame. The cloud dominates the file size (V=4, T=40: ~14 MB at 5000,
# ~40 MB at 20000), and every per-instance file carries its own copy of the scene context.
DEFAULT_MAX_POINTS = 5000
DEFAULT_JPEG_QUALITY = 85
_RECORDING_NAMESPACE = uuid.UUID("5b0b7f4e-8d7e-4c55-9a55-7d1f4f0e6a21")

# matplotlib's tab10, then the light halves of tab20.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)

Color = tuple[int, int, int]
InstanceResults = Mapping[str, tuple[Queries, TrackResult]]


# -------------------------------------------------------------------------------------------------
# ids, colours, entity paths


@dataclass(frozen=True)
class RecordingIds:
    """Application id and recording id shared by every file of one scene."""

    application_id: str
    recording_id: str

    @classmethod
    def for_scene(cls, scene: Scene, base: str,
                  application_id: str = APPLICATION_ID) -> RecordingIds:
        """Deterministic ids: recording id = uuid5(base name + content fingerprint of the scene)."""
        key = f"{base}\n{scene_fingerprint(scene)}"
        return cls(application_id, str(uuid.uuid5(_RECORDING_NAMESPACE, key)))


def scene_fingerprint(scene: Scene) -> str:
    """`scene.fingerprint`, or when unknown a hash of the cameras and a strided data sample."""
    if scene.fingerprint:
        return scene.fingerprint
    h = hashlib.sha1()
    h.update(repr((scene.rgbs.shape, list(scene.camera_ids), scene.source)).encode())
    for arr in (scene.intrs, scene.extrs, scene.rgbs[:, :, ::7, ::7], scene.depths[:, :, ::7, ::7]):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def class_ids(instance_ids: Iterable[str]) -> dict[str, int]:
    """Instance id -> class id (1-based) in natural order (instance_2 before instance_10)."""
    return {iid: k + 1 for k, iid in enumerate(sorted(set(instance_ids), key=natural_key))}


def instance_color(instance_id: str, all_instance_ids: Iterable[str] = ()) -> Color:
    """Stable RGB colour: the palette entry at the instance's natural index in `all_instance_ids`.

    An id outside `all_instance_ids` gets a colour from a hash of the id (stable across runs).
    """
    ids = class_ids(all_instance_ids)
    if instance_id in ids:
        index = ids[instance_id] - 1
    else:
        index = int(hashlib.sha1(instance_id.encode()).hexdigest(), 16)
    return PALETTE[index % len(PALETTE)]


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


# -------------------------------------------------------------------------------------------------
# scene context


@dataclass
class DepthCloud:
    """Subsampled coloured depth points of one view over all frames.

    positions [P,3] float32 world (m); colors [P,3] uint8; lengths [T] points per frame (sum P);
    radius: point radius (m) that roughly closes the gaps left by the subsampling.
    """

    positions: np.ndarray
    colors: np.ndarray
    lengths: np.ndarray
    radius: float


@dataclass
class SceneContext:
    """Scene data prepared once for logging; reuse it for every file of the scene.

    frames: [T] int64 values on the `frame` timeline.
    images: per view, T JPEG blobs, or raw [T,H,W,3] uint8 (jpeg_quality None); None: no video.
    clouds: per view, a DepthCloud.
    eye: (position [3], look_target [3], eye_up [3]) world, for the 3D view.
    image_plane_distance: frustum depth (m) in the 3D view.
    """

    frames: np.ndarray
    images: list[list[bytes] | np.ndarray] | None
    clouds: list[DepthCloud]
    eye: tuple[np.ndarray, np.ndarray, np.ndarray]
    image_plane_distance: float

    def nbytes(self) -> int:
        """About what the context takes in a file (bytes)."""
        images = sum(sum(len(b) for b in v) if isinstance(v, list) else v.nbytes
                     for v in self.images or [])
        return images + sum(c.positions.nbytes + c.colors.nbytes for c in self.clouds)


def frame_values(scene: Scene) -> np.ndarray:
    """[T] int64: the `frame` timeline value of each scene frame."""
    if scene.frame_indices is not None and len(scene.frame_indices) == scene.num_frames:
        return np.asarray(scene.frame_indices, np.int64)
    return np.arange(scene.num_frames, dtype=np.int64)


def _encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    from PIL import Image as PILImage  # a dependency of rerun-sdk

    buf = io.BytesIO()
    PILImage.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def _depth_cloud(scene: Scene, v: int, max_points: int) -> DepthCloud:
    """At most `max_points` valid depth pixels per frame of view v (seeded random subsample),
    unprojected to world and coloured from the RGB frame."""
    T = scene.num_frames
    H, W = scene.image_size
    rng = np.random.default_rng(v)  # deterministic, a different pattern per view
    rows, cols = np.mgrid[0:H, 0:W]
    pixels = np.stack([cols.ravel(), rows.ravel()], axis=-1).astype(np.float64)
    positions, colors, radii = [], [], []
    lengths = np.zeros(T, np.int64)
    for t in range(T if max_points > 0 else 0):
        depth = scene.depths[v, t].ravel()
        idx = np.flatnonzero(np.isfinite(depth) & (depth > 0))
        if len(idx) > max_points:
            idx = np.sort(rng.choice(idx, max_points, replace=False))
        if len(idx) == 0:
            continue
        K, E = scene.intrs[v, t], scene.extrs[v, t]
        positions.append(unproject(pixels[idx], depth[idx], K, E).astype(np.float32))
        colors.append(scene.rgbs[v, t].reshape(-1, 3)[idx])
        lengths[t] = len(idx)
        spacing = np.sqrt(H * W / len(idx))  # pixels between kept samples
        radii.append(float(np.median(depth[idx])) / float(K[0, 0]) * spacing * 0.5)
    if not positions:
        return DepthCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), lengths, 0.005)
    return DepthCloud(np.concatenate(positions), np.concatenate(colors), lengths,
                      float(np.median(radii)))


def _default_eye(scene: Scene, clouds: Sequence[DepthCloud]
                 ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """A 3D eye behind and above the cameras, looking at the median depth point of frame 0.

    Up = minus the mean camera y axis (OpenCV y points down). Returns ((position, look_target,
    eye_up), frustum depth in m).
    """
    centers = np.stack([camera_center(scene.extrs[v, 0]) for v in range(scene.num_views)])
    rot = scene.extrs[:, 0, :3, :3].astype(np.float64)  # [V,3,3] world-to-camera
    up = -rot[:, 1, :].mean(axis=0)
    up = up / np.linalg.norm(up) if np.linalg.norm(up) > 1e-6 else np.array([0.0, 0.0, 1.0])
    first = [c.positions[: c.lengths[0]] for c in clouds if c.lengths[0] > 0]
    if first:
        target = np.median(np.concatenate(first), axis=0).astype(np.float64)
    else:  # no depth: a metre in front of the cameras
        target = (centers + rot[:, 2, :]).mean(axis=0)
    scale = float(np.median(np.linalg.norm(centers - target, axis=1)))
    scale = scale if scale > 1e-6 else 1.0
    offset = centers.mean(axis=0) - target
    if np.linalg.norm(offset) < 0.3 * scale:  # cameras all around the scene: stand behind the first
        offset = centers[0] - target
    offset = offset / max(np.linalg.norm(offset), 1e-9)
    offset = offset - 0.5 * np.dot(offset, up) * up  # halfway towards the horizon
    offset = offset / max(np.linalg.norm(offset), 1e-9)
    position = target + (offset + 0.45 * up) * scale * 1.4
    return (position, target, up), 0.12 * scale


def prepare_scene_context(scene: Scene, *, max_points_per_view: int = DEFAULT_MAX_POINTS,
                          log_video: bool = True,
                          jpeg_quality: int | None = DEFAULT_JPEG_QUALITY) -> SceneContext:
    """Encode the frames and build the depth clouds once, for every file of the scene.

    max_points_per_view: cap on depth points per view and frame (0: no clouds).
    log_video: include the RGB frames; jpeg_quality: 1-100, or None for raw (lossless) RGB.
    """
    images = None
    if log_video:
        if jpeg_quality is None:
            images = [scene.rgbs[v] for v in range(scene.num_views)]
        else:
            images = [[_encode_jpeg(frame, jpeg_quality) for frame in scene.rgbs[v]]
                      for v in range(scene.num_views)]
    clouds = [_depth_cloud(scene, v, max_points_per_view) for v in range(scene.num_views)]
    eye, plane = _default_eye(scene, clouds)
    return SceneContext(frame_values(scene), images, clouds, eye, plane)


def _time(frames: np.ndarray) -> list[rr.TimeColumn]:
    return [rr.TimeColumn(TIMELINE, sequence=frames)]


def _is_constant(values: np.ndarray) -> bool:
    """values [T,...]: every frame equals the first."""
    return bool(np.array_equal(values, np.broadcast_to(values[:1], values.shape)))


def log_scene_context(rec: rr.RecordingStream, scene: Scene, *,
                      max_points_per_view: int = DEFAULT_MAX_POINTS, log_video: bool = True,
                      jpeg_quality: int | None = DEFAULT_JPEG_QUALITY,
                      context: SceneContext | None = None) -> SceneContext:
    """Log the annotation context, cameras, RGB frames and depth clouds of the scene.

    Cameras: `world/cameras/{cam}`; images: `world/cameras/{cam}/rgb`; clouds `world/points/{cam}`
    (see the module docstring). A `context` from `prepare_scene_context` skips re-encoding and
    replaces the three settings. Returns the context used.
    """
    if context is None:
        context = prepare_scene_context(scene, max_points_per_view=max_points_per_view,
                                        log_video=log_video, jpeg_quality=jpeg_quality)
    frames = context.frames
    T = scene.num_frames
    H, W = scene.image_size
    labels = [rr.AnnotationInfo(id=0, label="background", color=(0, 0, 0, 0))]
    labels += [rr.AnnotationInfo(id=k, label=iid, color=instance_color(iid, scene.instance_ids))
               for iid, k in class_ids(scene.instance_ids).items()]
    rec.log("world", rr.AnnotationContext(labels), static=True)

    for v, cam in enumerate(scene.camera_ids):
        path = camera_path(cam)
        extrs = scene.extrs[v].astype(np.float32)  # [T,3,4]
        intrs = scene.intrs[v].astype(np.float32)  # [T,3,3]
        constant_k = _is_constant(intrs)
        rec.log(path, rr.Pinhole.from_fields(
            camera_xyz=rr.ViewCoordinates.RDF, resolution=[W, H],
            image_from_camera=intrs[0] if constant_k else None,
            image_plane_distance=context.image_plane_distance), static=True)
        if not constant_k:
            rec.send_columns(path, indexes=_time(frames),
                             columns=rr.Pinhole.columns(image_from_camera=intrs))
        if _is_constant(extrs):
            rec.log(path, rr.Transform3D(mat3x3=extrs[0, :, :3], translation=extrs[0, :, 3],
                                         relation=rr.TransformRelation.ChildFromParent),
                    static=True)
        else:
            rec.send_columns(path, indexes=_time(frames), columns=rr.Transform3D.columns(
                mat3x3=extrs[:, :, :3], translation=extrs[:, :, 3],
                relation=[rr.TransformRelation.ChildFromParent] * T))

        if context.images is not None:
            images = context.images[v]
            if isinstance(images, np.ndarray):
                fmt = rr.components.ImageFormat(width=W, height=H, color_model="RGB",
                                                channel_datatype="U8")
                rec.log(image_path(cam), rr.Image.from_fields(format=fmt, draw_order=-10.0),
                        static=True)
                rec.send_columns(image_path(cam), indexes=_time(frames),
                                 columns=rr.Image.columns(buffer=images.reshape(T, -1)))
            else:
                rec.log(image_path(cam), rr.EncodedImage.from_fields(
                    media_type="image/jpeg", draw_order=-10.0), static=True)
                rec.send_columns(image_path(cam), indexes=_time(frames),
                                 columns=rr.EncodedImage.columns(blob=images))

        cloud = context.clouds[v]
        if len(cloud.positions):
            rec.log(cloud_path(cam), rr.Points3D.from_fields(radii=cloud.radius), static=True)
            rec.send_columns(cloud_path(cam), indexes=_time(frames), columns=rr.Points3D.columns(
                positions=cloud.positions, colors=cloud.colors).partition(cloud.lengths))
    flush(rec)  # the writer drains the context before instance data piles onto it (peak memory)
    return context


# -------------------------------------------------------------------------------------------------
# instances


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
        rec.send_columns(path, indexes=_time(frames),
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
    rec.send_columns(path, indexes=_time(frames), columns=rr.Points3D.columns(
        positions=tracks[show].reshape(-1, 3)).partition(show.sum(axis=1)))

    strips, counts = _trails(tracks, show, trail_length)
    if len(strips):
        path = trail_path(tracker, iid)
        rec.log(path, rr.LineStrips3D.from_fields(colors=[color], radii=rr.Radius.ui_points(1.0)),
                static=True)
        rec.send_columns(path, indexes=_time(frames),
                         columns=rr.LineStrips3D.columns(strips=strips).partition(counts))
    if masks:
        log_instance_masks(rec, scene, iid)


# -------------------------------------------------------------------------------------------------
# blueprint


def make_blueprint(scene: Scene, instance_ids: Sequence[str] = (), trackers: Sequence[str] = (),
                   *, context: SceneContext | None = None) -> rrb.Blueprint:
    """A 3D view of `world` (one per tracker, side by side, when several) and a grid of 2D views,
    one per camera, with a compact time bar.

    The 3D eye sits behind and above the cameras, looking at the depth points of frame 0. A 2D view
    shows the camera's image, the masks over it and, for a single tracker (else the colours are
    ambiguous), the 3D tracks projected through the pinhole. Contents use wildcards, not instance
    ids, so one blueprint serves a per-instance file, the combined file and several per-instance
    files opened together (the viewer keeps one blueprint per application id: the last file's).
    `instance_ids` is accepted for symmetry and not used, for that reason: nothing in the layout
    may depend on which instances one file holds.
    """
    if context is None:
        context = prepare_scene_context(scene, max_points_per_view=500, log_video=False)
    position, target, up = context.eye
    controls = rrb.EyeControls3D(kind=rrb.Eye3DKind.Orbital, position=position,
                                 look_target=target, eye_up=up)
    trackers = list(trackers)
    views3d = []
    for tracker in trackers or [None]:
        contents = ["+ $origin/**"]
        if tracker is not None and len(trackers) > 1:
            contents += ["- /world/tracks/**", f"+ /{tracker_path(tracker)}/**"]
        name = "3D" if tracker is None else f"3D: {tracker}"
        views3d.append(rrb.Spatial3DView(origin="world", contents=contents, name=name,
                                         eye_controls=controls, background=[24, 24, 28]))
    contents2d = ["+ $origin/**"] + (["+ /world/tracks/**"] if len(trackers) <= 1 else [])
    views2d = [rrb.Spatial2DView(origin=camera_path(cam), name=str(cam), contents=contents2d)
               for cam in scene.camera_ids]
    main = views3d[0] if len(views3d) == 1 else rrb.Horizontal(*views3d)
    return rrb.Blueprint(rrb.Horizontal(main, rrb.Grid(*views2d), column_shares=[3, 2]),
                         rrb.BlueprintPanel(state="collapsed"),
                         rrb.SelectionPanel(state="collapsed"),
                         rrb.TimePanel(state="collapsed", timeline=TIMELINE))


# -------------------------------------------------------------------------------------------------
# files


def _has_footer(path: Path) -> bool:
    """The file exists and ends with a complete RRD footer (existence only on other SDKs)."""
    if not path.exists():
        return False
    try:
        from rerun_bindings import check_for_rrd_footer
    except ImportError:  # pragma: no cover - not in every rerun-sdk version
        return True
    return bool(check_for_rrd_footer(str(path)))


_FILES: dict[int, Path] = {}  # id(recording stream) -> the file it writes, while it does
_STUCK: list[Path] = []  # files whose Rerun sink can no longer finish (see `sink_stuck`)


def sink_stuck() -> bool:
    """True once a Rerun file sink failed in a way Rerun cannot recover from (its writer waits
    forever on a full disk): the process must then end with `os._exit`, as Rerun's exit hooks
    would wait forever too."""
    return bool(_STUCK)
FLUSH_POLL_S = 2.0
FLUSH_STALL_S = 120.0  # no byte written for this long: the sink is stuck (disk full, dead mount)


def flush(rec: rr.RecordingStream, path: Path | None = None) -> None:
    """`rec.flush()` that cannot hang: Rerun's file sink waits forever when its disk is full.
    Polls; raises OSError(ENOSPC) when the file stopped growing on a full disk, or OSError after
    FLUSH_STALL_S without progress."""
    path = path or _FILES.get(id(rec))
    last_size, last_progress = -1, time.monotonic()
    while True:
        try:
            rec.flush(timeout_sec=FLUSH_POLL_S)
            return
        except RuntimeError as err:  # Rerun's timeout; any other error is the sink's own
            if path is None or "timed out" not in str(err):
                raise
        size = path.stat().st_size if path.exists() else 0
        if size != last_size:
            last_size, last_progress = size, time.monotonic()
            continue
        if shutil.disk_usage(path.parent).free < 2**20:
            _STUCK.append(path)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        if time.monotonic() - last_progress > FLUSH_STALL_S:
            _STUCK.append(path)
            raise OSError(errno.EIO, f"writing stalled for {FLUSH_STALL_S:.0f} s", str(path))


def _check_space(path: Path, needed: int) -> None:
    """Refuse before writing when the disk cannot take about `needed` bytes (Rerun's sink
    cannot report a full disk, see `flush`)."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < needed + 2**20:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _write_atomic(path: str | os.PathLike, ids: RecordingIds, blueprint: rrb.Blueprint | None,
                  log: Callable[[rr.RecordingStream], None], *, name: str | None = None,
                  expected_bytes: int = 0) -> Path:
    """Log with `log(rec)` into a temporary file beside `path`, finalize it, rename it to `path`
    (`permask.files.atomic.atomic_write`: on any failure nothing is left and an existing `path`
    is untouched; Rerun's sink errors become one OutputError naming the file)."""
    path = Path(path)
    rec = rr.RecordingStream(ids.application_id, recording_id=ids.recording_id)
    if not rr.is_enabled(recording=rec):
        raise OutputError("rerun logging is disabled, cannot write the recording", file=str(path),
                          fix="unset the environment variable RERUN (it is 'off')")
    with atomic_write(path) as tmp:
        _check_space(path, expected_bytes)
        try:
            rec.save(tmp)
            _FILES[id(rec)] = tmp  # for flush() inside log()
            if name:
                rec.send_recording_name(name)
            if blueprint is not None:
                rec.send_blueprint(blueprint, make_active=True, make_default=True)
            log(rec)
            flush(rec, tmp)  # until the batcher has handed everything to the file sink
            rec.disconnect()  # drops the file sink: writes the footer and closes the file
        finally:
            _FILES.pop(id(rec), None)
            if not sink_stuck():  # a stuck sink would make disconnect wait forever
                rec.disconnect()
        if not _has_footer(tmp):
            raise OSError("the recording was not finalized (no RRD footer; disk full?)")
    return path


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
    blueprint = make_blueprint(scene, [instance_id], [tracker], context=context)

    def log(rec: rr.RecordingStream) -> None:
        log_scene_context(rec, scene, context=context)
        log_instance_tracks(rec, scene, queries, result, tracker=tracker)

    return _write_atomic(path, ids, blueprint, log, name=base, expected_bytes=context.nbytes())


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
    instance_ids = sorted({iid for per in results.values() for iid in per}, key=natural_key)
    blueprint = make_blueprint(scene, instance_ids, list(results), context=context)

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

    return _write_atomic(path, ids, blueprint, log, name=base, expected_bytes=context.nbytes())


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


# -------------------------------------------------------------------------------------------------
# reading back


@dataclass
class RrdSummary:
    """What a recording file holds.

    application_id, recording_id: of its (first) recording store.
    rows: entity path (no leading slash, spelled as the path helpers spell it) -> temporal rows.
    static: entity path -> static rows, for entities with static data.
    has_blueprint: the file carries a blueprint store.
    """

    application_id: str
    recording_id: str
    rows: dict[str, int]
    static: dict[str, int]
    has_blueprint: bool


def summarize(path: str | os.PathLike) -> RrdSummary:
    """Read a .rrd back with `rerun.chunk.RrdReader`; count rows per entity path."""
    from rerun.chunk import RrdReader

    reader = RrdReader(path)
    recordings = reader.recordings()
    if not recordings:
        raise OutputError("no recording in the file", file=str(path))
    rows: dict[str, int] = {}
    static: dict[str, int] = {}
    for chunk in reader.stream(store=recordings[0]):
        counts = static if chunk.is_static else rows
        key = chunk.entity_path.lstrip("/")
        counts[key] = counts.get(key, 0) + chunk.num_rows
    return RrdSummary(recordings[0].application_id, recordings[0].recording_id, rows, static,
                      bool(reader.blueprints()))


def read_back(path: str | os.PathLike) -> dict[str, int]:
    """Entity path -> number of temporal rows (frames logged) in the file's recording."""
    return summarize(path).rows
