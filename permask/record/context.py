"""The scene context of a recording: cameras, RGB frames (JPEG or raw) and subsampled coloured depth
clouds. Prepared once per scene (`prepare_scene_context`, the expensive part) and logged into every
file of it (`log_scene_context`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import rerun as rr

from permask.data import Scene
from permask.geometry import camera_center, unproject
from permask.record.identity import class_ids, instance_color
from permask.record.paths import camera_path, cloud_path, frame_values, image_path, time_column
from permask.record.sink import flush

# Depth points per view and frame. The cloud dominates the file size (V=4, T=40: ~14 MB at 5000,
# ~40 MB at 20000), and every per-instance file carries its own copy of the scene context.
DEFAULT_MAX_POINTS = 5000
DEFAULT_JPEG_QUALITY = 85


@dataclass
class DepthCloud:
    """Subsampled coloured depth points of one view over all frames.

    positions [P,3] float32 world (m); colors [P,3] uint8; lengths [T] points per frame (sum P);
    radius: point radius (m) that roughly closes the gaps left by the subsampling;
    logged: [T] bool, the frames that get a cloud row (None: every frame). A frame without a row
    keeps showing the last logged cloud in the viewer (a frame with a row of 0 points shows none).
    """

    positions: np.ndarray
    colors: np.ndarray
    lengths: np.ndarray
    radius: float
    logged: np.ndarray | None = None

    def every(self, stride: int) -> DepthCloud:
        """The cloud at frames 0, stride, 2*stride, ... only (stride 1: itself)."""
        if stride <= 1:
            return self
        keep = np.arange(len(self.lengths)) % stride == 0
        point_frame = np.repeat(np.arange(len(self.lengths)), self.lengths)
        mask = keep[point_frame]
        return DepthCloud(self.positions[mask], self.colors[mask],
                          np.where(keep, self.lengths, 0), self.radius, keep)


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

    def clouds_every(self, stride: int) -> SceneContext:
        """The same context with the depth clouds at every `stride`-th frame only (the viewer
        keeps showing a cloud until the next one): about 1/stride of the clouds' bytes."""
        if stride <= 1:
            return self
        return replace(self, clouds=[c.every(stride) for c in self.clouds])

    def cameras_only(self) -> SceneContext:
        """The cameras without RGB frames and clouds: what a file needs so that masks and tracks
        have their camera views, when the scene itself lives in another file of the run."""
        empty = [DepthCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8),
                            np.zeros_like(c.lengths), c.radius) for c in self.clouds]
        return replace(self, images=None, clouds=empty)


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


def _is_constant(values: np.ndarray) -> bool:
    """values [T,...]: every frame equals the first."""
    return bool(np.array_equal(values, np.broadcast_to(values[:1], values.shape)))


def log_scene_context(rec: rr.RecordingStream, scene: Scene, *,
                      max_points_per_view: int = DEFAULT_MAX_POINTS, log_video: bool = True,
                      jpeg_quality: int | None = DEFAULT_JPEG_QUALITY,
                      context: SceneContext | None = None) -> SceneContext:
    """Log the annotation context, cameras, RGB frames and depth clouds of the scene.

    Cameras: `world/cameras/{cam}`; images: `world/cameras/{cam}/rgb`; clouds `world/points/{cam}`
    (the layout: `permask.record`). A `context` from `prepare_scene_context` skips re-encoding and
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
            rec.send_columns(path, indexes=time_column(frames),
                             columns=rr.Pinhole.columns(image_from_camera=intrs))
        if _is_constant(extrs):
            rec.log(path, rr.Transform3D(mat3x3=extrs[0, :, :3], translation=extrs[0, :, 3],
                                         relation=rr.TransformRelation.ChildFromParent),
                    static=True)
        else:
            rec.send_columns(path, indexes=time_column(frames), columns=rr.Transform3D.columns(
                mat3x3=extrs[:, :, :3], translation=extrs[:, :, 3],
                relation=[rr.TransformRelation.ChildFromParent] * T))

        if context.images is not None:
            images = context.images[v]
            if isinstance(images, np.ndarray):
                fmt = rr.components.ImageFormat(width=W, height=H, color_model="RGB",
                                                channel_datatype="U8")
                rec.log(image_path(cam), rr.Image.from_fields(format=fmt, draw_order=-10.0),
                        static=True)
                rec.send_columns(image_path(cam), indexes=time_column(frames),
                                 columns=rr.Image.columns(buffer=images.reshape(T, -1)))
            else:
                rec.log(image_path(cam), rr.EncodedImage.from_fields(
                    media_type="image/jpeg", draw_order=-10.0), static=True)
                rec.send_columns(image_path(cam), indexes=time_column(frames),
                                 columns=rr.EncodedImage.columns(blob=images))

        cloud = context.clouds[v]
        if len(cloud.positions):
            rows = np.ones(T, bool) if cloud.logged is None else cloud.logged
            rec.log(cloud_path(cam), rr.Points3D.from_fields(radii=cloud.radius), static=True)
            rec.send_columns(cloud_path(cam), indexes=time_column(frames[rows]),
                             columns=rr.Points3D.columns(positions=cloud.positions,
                                                         colors=cloud.colors
                                                         ).partition(cloud.lengths[rows]))
    flush(rec)  # the writer drains the context before instance data piles onto it (peak memory)
    return context
