"""Built-in demo scene: a small multi-view RGB-D recording of rigid objects with ground truth.

World frame: metres, **z up**. The floor is the plane z = 0; two textured back walls stand at
x = -WALL_OFFSET and y = -WALL_OFFSET. Static cameras look at the workspace around the origin from
azimuths between -15 and 110 degrees (so they all face the walls), 1.6-2.3 m away, 60 degree
horizontal field of view. Cameras follow `permask.geometry`: world-to-camera `[R|t]`, OpenCV axes,
pixel centres at integer coordinates, depth = camera z in metres.

K rigid objects (boxes and ellipsoids) carry a procedural texture defined in their local frame, so
the texture moves with them. Default choreography (normalised clip time s in [0, 1]):
- instance_0, a box, is picked up, carried over instance_1 along an arc and put down, turning;
- instance_1, an ellipsoid, slides slowly near the centre while turning and tilting;
- instance_2, a box, slides towards camera 1 until it partly leaves that camera's view at the
  bottom edge;
- further instances slide along an arc behind them, towards the walls.
Objects rest on the floor: their height follows from their orientation (lowest point at z = 0)
plus any carrying lift.

Everything is ray-cast analytically with numpy: the static background (floor, walls, sky) once
per view, the objects per frame inside the pixel box their bounding sphere projects to.
The output is the array dict of an NPZ in the *old pipeline format* (see `make_demo_scene`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from . import geometry
from .files.atomic import atomic_write

GENERATOR_VERSION = 2
"""Bump whenever the generated content changes, so cached files are regenerated."""

WALL_OFFSET = 1.3
"""Distance (m) of the two back walls from the origin."""
FLOOR_EXTENT = 3.0
"""Floor hits with |x| or |y| beyond this (m) count as sky (no depth)."""
SENSOR_MAX_DEPTH = 3.5
"""Range (m) of the simulated sparse sensor (only when `depth_density < 1`)."""
FOV_DEG = 60.0
"""Horizontal field of view of every camera."""
LIGHT_DIR = np.array([0.4, 0.3, 1.0]) / np.linalg.norm([0.4, 0.3, 1.0])
"""Direction towards the (directional) light, world frame."""

_CAM_RADII = (1.5, 1.25, 1.7, 1.4)
_CAM_HEIGHTS = (1.0, 0.85, 1.15, 0.95)
_CAM_TARGET = np.array([0.0, 0.0, 0.1])
_PALETTE = np.array([
    [0.90, 0.20, 0.15], [0.15, 0.75, 0.25], [0.20, 0.35, 0.95],
    [0.95, 0.80, 0.10], [0.85, 0.20, 0.85], [0.10, 0.80, 0.85],
])


@dataclass
class DemoParams:
    """Parameters of the demo scene.

    num_views, num_frames: V (>= 1) and T (>= 2).
    height, width: image size of rgb and depth, pixels.
    num_objects: K rigid objects (>= 1).
    seed: textures, small placement jitter, depth dropout, contact-frame jitter.
    depth_density: share of pixels that keep their depth; below 1 a sparse sensor is simulated:
        a random subset (new each frame) is zeroed and so is depth beyond SENSOR_MAX_DEPTH.
    mask_scale: masks are rendered at mask_scale x (height, width) (like SAM2 on high-res RGB).
    fps: frame rate for `timestamps`.
    """

    num_views: int = 4
    num_frames: int = 40
    height: int = 192
    width: int = 256
    num_objects: int = 3
    seed: int = 0
    depth_density: float = 1.0
    mask_scale: int = 1
    fps: float = 15.0

    def __post_init__(self) -> None:
        if self.num_views < 1 or self.num_frames < 2 or self.num_objects < 1:
            raise ValueError("DemoParams needs num_views >= 1, num_frames >= 2, num_objects >= 1")
        if self.height < 8 or self.width < 8:
            raise ValueError("DemoParams needs height, width >= 8")
        if not 0.0 < self.depth_density <= 1.0:
            raise ValueError("DemoParams.depth_density must be in (0, 1]")
        if int(self.mask_scale) != self.mask_scale or self.mask_scale < 1:
            raise ValueError("DemoParams.mask_scale must be a positive integer")
        if self.fps <= 0:
            raise ValueError("DemoParams.fps must be positive")


# ----------------------------------------------------------------------------- small math

def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation vector [3] (axis * angle, radians) -> rotation matrix [3,3]."""
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    k = np.asarray(rotvec, np.float64) / angle
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """C1 ease from 0 to 1 on [0, 1], clamped outside."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _rotation_angle_deg(R: np.ndarray) -> float:
    """Angle (degrees) of rotation matrix R [3,3]."""
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))


# ----------------------------------------------------------------------------- textures

@dataclass
class _Texture:
    """Procedural texture over 3D points in a local frame: a checker plus a few random sines.

    dark, light: [3] colours in [0,1]; checker: cell size (m); freqs: [M,3] rad/m; phases: [M].
    """

    dark: np.ndarray
    light: np.ndarray
    checker: float
    freqs: np.ndarray
    phases: np.ndarray

    def colour(self, points: np.ndarray) -> np.ndarray:
        """Local points [N,3] (m) -> colours [N,3] in [0,1]."""
        cells = np.floor(points / self.checker).astype(np.int64).sum(axis=1) & 1
        waves = np.sin(points @ self.freqs.T + self.phases).mean(axis=1)  # [-1, 1]
        value = np.clip(0.3 * cells + 0.7 * (0.5 + 1.2 * waves), 0.0, 1.0)
        return self.dark + value[:, None] * (self.light - self.dark)


def _random_texture(rng: np.random.Generator, base: np.ndarray, checker: float,
                    wavelengths: tuple[float, float], num_waves: int = 4) -> _Texture:
    """High-contrast texture around colour `base` [3], wavelengths (min, max) in metres."""
    directions = rng.normal(size=(num_waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lengths = rng.uniform(*wavelengths, size=num_waves)
    return _Texture(dark=0.15 * base, light=np.clip(0.35 + 0.75 * base, 0, 1), checker=checker,
                    freqs=directions * (2 * np.pi / lengths)[:, None],
                    phases=rng.uniform(0, 2 * np.pi, size=num_waves))


def _shade(albedo: np.ndarray, normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Lambertian term kept mild so the texture dominates. albedo [N,3], normals [N,3] unit."""
    lambert = np.clip(np.abs(normals @ light), 0.0, 1.0)
    return albedo * (0.65 + 0.35 * lambert)[:, None]


# ----------------------------------------------------------------------------- cameras

def _camera_azimuths(num_views: int) -> np.ndarray:
    """Azimuths (radians) of the cameras, spread from -15 to 110 degrees."""
    if num_views == 1:
        return np.radians([45.0])
    return np.radians(np.linspace(-15.0, 110.0, num_views))


def _make_cameras(params: DemoParams) -> tuple[np.ndarray, np.ndarray]:
    """-> intrinsics [V,3,3], world-to-camera extrinsics [V,3,4] (float64)."""
    focal = 0.5 * params.width / np.tan(np.radians(FOV_DEG) / 2)
    K = np.array([[focal, 0.0, (params.width - 1) / 2],
                  [0.0, focal, (params.height - 1) / 2],
                  [0.0, 0.0, 1.0]])
    extrs = []
    for i, az in enumerate(_camera_azimuths(params.num_views)):
        r, h = _CAM_RADII[i % len(_CAM_RADII)], _CAM_HEIGHTS[i % len(_CAM_HEIGHTS)]
        extrs.append(geometry.look_at([r * np.cos(az), r * np.sin(az), h], _CAM_TARGET))
    return np.repeat(K[None], params.num_views, axis=0), np.stack(extrs)


def _scale_intrinsics(K: np.ndarray, scale: int) -> np.ndarray:
    """Intrinsics [3,3] of the same camera at `scale` x the resolution (pixel centres kept)."""
    Ks = K.copy()
    Ks[:2, :2] *= scale
    Ks[:2, 2] = scale * (K[:2, 2] + 0.5) - 0.5
    return Ks


# ----------------------------------------------------------------------------- objects

@dataclass
class _Object:
    """A rigid primitive. kind: "box" (half extents) or "ellipsoid" (semi-axes); size [3] m."""

    kind: str
    size: np.ndarray
    texture: _Texture

    @property
    def radius(self) -> float:
        """Radius (m) of a bounding sphere about the local origin."""
        return float(np.linalg.norm(self.size) if self.kind == "box" else self.size.max())

    def support_height(self, R: np.ndarray) -> float:
        """Height of the centre above its lowest point when oriented by R [3,3]."""
        row = R[2] * self.size
        return float(np.abs(row).sum() if self.kind == "box" else np.linalg.norm(row))

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rays in the local frame: origin [3], dirs [N,3] -> (t [N] (inf: miss), normals [N,3])."""
        if self.kind == "box":
            return _intersect_box(origin, dirs, self.size)
        return _intersect_ellipsoid(origin, dirs, self.size)


@dataclass
class _Motion:
    """Keyframed rigid motion in normalised clip time s: ease from start to end over [s0, s1].

    start, end: [2] floor positions (m); lift: peak height (m) of an arc; rot0: rotation vector
    of the initial orientation; spin: rotation vector applied progressively (world frame).
    """

    start: np.ndarray
    end: np.ndarray
    window: tuple[float, float]
    rot0: np.ndarray
    spin: np.ndarray
    lift: float = 0.0

    def pose(self, s: float, obj: _Object) -> np.ndarray:
        """Object-to-world [4,4] at clip time s in [0, 1]."""
        s0, s1 = self.window
        x = (s - s0) / (s1 - s0)
        e = float(_smoothstep(x))
        R = _rotvec_to_matrix(e * self.spin) @ _rotvec_to_matrix(self.rot0)
        xy = self.start + e * (self.end - self.start)
        lift = self.lift * np.sin(np.pi * np.clip(x, 0.0, 1.0)) ** 2
        pose = np.eye(4)
        pose[:3, :3] = R
        pose[:3, 3] = [xy[0], xy[1], obj.support_height(R) + lift]
        return pose


def _make_objects(params: DemoParams, rng: np.random.Generator) -> list[_Object]:
    """K primitives, alternating box / ellipsoid / box, each with its own colour and texture."""
    sizes = [("box", (0.15, 0.11, 0.09)), ("ellipsoid", (0.12, 0.16, 0.14)),
             ("box", (0.11, 0.09, 0.12))]
    objects = []
    for k in range(params.num_objects):
        kind, size = sizes[k] if k < len(sizes) else (
            ("box", "ellipsoid")[k % 2], tuple(rng.uniform(0.06, 0.11, size=3)))
        texture = _random_texture(rng, _PALETTE[k % len(_PALETTE)], checker=0.045,
                                  wavelengths=(0.05, 0.16))
        objects.append(_Object(kind, np.array(size, np.float64), texture))
    return objects


def _make_motions(params: DemoParams, rng: np.random.Generator) -> list[_Motion]:
    """The choreography described in the module docstring, with small seeded jitter."""

    def jitter() -> np.ndarray:
        return rng.uniform(-0.02, 0.02, size=2)

    cam1 = _camera_azimuths(params.num_views)[min(1, params.num_views - 1)]
    toward_cam1 = np.array([np.cos(cam1), np.sin(cam1)])
    motions = [
        _Motion(start=np.array([0.32, -0.28]) + jitter(), end=np.array([-0.22, 0.28]) + jitter(),
                window=(0.05, 0.95), rot0=np.array([0.0, 0.0, 0.3]),
                spin=np.radians(110.0) * np.array([0.2, 0.3, 1.0]) / np.linalg.norm([0.2, 0.3, 1]),
                lift=0.36),
        _Motion(start=np.array([-0.05, 0.02]) + jitter(), end=np.array([0.08, -0.12]) + jitter(),
                window=(0.0, 1.0), rot0=np.zeros(3),
                spin=np.radians(80.0) * np.array([0.4, 0.0, 1.0]) / np.linalg.norm([0.4, 0, 1])),
        _Motion(start=0.50 * toward_cam1 + jitter(), end=1.0 * toward_cam1,
                window=(0.3, 1.0), rot0=np.array([0.0, 0.0, -0.4]),
                spin=np.radians(60.0) * np.array([0.0, 0.0, 1.0])),
    ]
    extras = params.num_objects - len(motions)
    for j in range(extras):  # on an arc behind the main three, towards the walls
        angle = np.radians(160.0 + 130.0 * (j + 0.5) / extras)
        start = 0.75 * np.array([np.cos(angle), np.sin(angle)])
        end = 0.75 * np.array([np.cos(angle + 0.25), np.sin(angle + 0.25)])
        s0 = rng.uniform(0.0, 0.4)
        motions.append(_Motion(start=start, end=end, window=(s0, s0 + rng.uniform(0.5, 0.6)),
                               rot0=rng.normal(size=3) * 0.3,
                               spin=np.radians(rng.uniform(30, 90)) * np.array([0, 0, 1.0])))
    return motions[:params.num_objects]


def _object_poses(objects: list[_Object], motions: list[_Motion], num_frames: int) -> np.ndarray:
    """-> [K,T,4,4] object-to-world poses (float64)."""
    clip = np.linspace(0.0, 1.0, num_frames)
    return np.stack([np.stack([m.pose(s, o) for s in clip]) for o, m in zip(objects, motions)])


def _contact_frames(poses: np.ndarray, objects: list[_Object], camera_ids: list[str],
                    rng: np.random.Generator) -> dict[str, dict[str, int]]:
    """Per instance, per camera: the frame where the object starts moving (speed of its
    fastest surface point first exceeds a third of its peak), jittered by up to one frame per
    camera like an estimate made independently in each view."""
    num_frames = poses.shape[1]
    result = {}
    for k, (track, obj) in enumerate(zip(poses, objects)):
        lin = np.linalg.norm(np.diff(track[:, :3, 3], axis=0), axis=1)
        rel = np.einsum("tij,tkj->tik", track[1:, :3, :3], track[:-1, :3, :3])
        ang = np.radians([_rotation_angle_deg(r) for r in rel])
        speed = lin + ang * obj.radius
        onset = int(np.argmax(speed > speed.max() / 3.0)) if speed.max() > 0 else 0
        result[f"instance_{k}"] = {
            cam: int(np.clip(onset + rng.integers(-1, 2), 0, num_frames - 1)) for cam in camera_ids}
    return result


# ----------------------------------------------------------------------------- ray casting

def _intersect_box(origin: np.ndarray, dirs: np.ndarray, half: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Slab test against the box [-half, half]. origin [3], dirs [N,3] -> (t [N], normals [N,3])."""
    safe = np.where(np.abs(dirs) < 1e-12, 1e-12, dirs)
    t1, t2 = (-half - origin) / safe, (half - origin) / safe
    t_min, t_max = np.minimum(t1, t2), np.maximum(t1, t2)
    axis = np.argmax(t_min, axis=1)
    rows = np.arange(len(dirs))
    t_near, t_far = t_min[rows, axis], t_max.min(axis=1)
    t = np.where((t_near <= t_far) & (t_near > 1e-6), t_near, np.inf)
    normals = np.zeros_like(dirs)
    normals[rows, axis] = -np.sign(dirs[rows, axis])
    return t, normals


def _intersect_ellipsoid(origin: np.ndarray, dirs: np.ndarray, semi: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Ray vs ellipsoid with semi-axes `semi` [3]. origin [3], dirs [N,3] -> (t [N], normals)."""
    o, d = origin / semi, dirs / semi
    a = np.einsum("ij,ij->i", d, d)
    b = 2.0 * d @ o
    c = o @ o - 1.0
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    t = np.where((disc >= 0) & (t > 1e-6), t, np.inf)
    points = origin + np.where(np.isfinite(t), t, 0.0)[:, None] * dirs
    normals = points / semi**2
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return t, normals


@dataclass
class _Background:
    """Floor and walls as seen by one ray set: depth [H,W] (inf: sky), rgb [H,W,3] or None."""

    depth: np.ndarray
    rgb: np.ndarray | None


@dataclass
class _RaySet:
    """All pixel rays of one camera at one resolution.

    origin [3] camera centre (world); dirs [H,W,3] world directions scaled so the ray parameter
    equals camera z-depth in metres; K [3,3], E [3,4] world-to-camera.
    """

    origin: np.ndarray
    dirs: np.ndarray
    K: np.ndarray
    E: np.ndarray

    @classmethod
    def of_camera(cls, K: np.ndarray, E: np.ndarray, height: int, width: int) -> "_RaySet":
        v, u = np.mgrid[0:height, 0:width].astype(np.float64)
        pix = np.stack([u, v, np.ones_like(u)], axis=-1)
        dirs_cam = pix @ np.linalg.inv(K).T  # camera z component is 1
        return cls(geometry.camera_center(E), dirs_cam @ E[:3, :3], K, E)

    @property
    def shape(self) -> tuple[int, int]:
        return self.dirs.shape[:2]


@dataclass
class _Planes:
    """The static background: floor z=0 and walls x=-WALL_OFFSET, y=-WALL_OFFSET, with textures."""

    floor: _Texture
    walls: tuple[_Texture, _Texture]

    def render(self, rays: _RaySet, with_rgb: bool) -> _Background:
        """Ray-cast the planes (nearest hit) for one ray set."""
        dirs = rays.dirs.reshape(-1, 3)
        depth = np.full(len(dirs), np.inf)
        rgb = np.zeros((len(dirs), 3)) if with_rgb else None
        # (axis, offset, texture, in-plane coordinates) of floor and the two walls
        planes = [(2, 0.0, self.floor, (0, 1)), (0, -WALL_OFFSET, self.walls[0], (1, 2)),
                  (1, -WALL_OFFSET, self.walls[1], (0, 2))]
        for axis, offset, texture, coords in planes:
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (offset - rays.origin[axis]) / dirs[:, axis]
            t = np.where(t > 1e-6, t, np.inf)
            points = rays.origin + np.where(np.isfinite(t), t, 0.0)[:, None] * dirs
            inside = np.all(np.abs(points) <= FLOOR_EXTENT + 1e-9, axis=1) & (points[:, 2] >= -1e-9)
            t = np.where(inside, t, np.inf)
            nearer = t < depth
            depth[nearer] = t[nearer]
            if with_rgb and nearer.any():
                normal = np.zeros(3)
                normal[axis] = 1.0
                local = points[nearer][:, coords]
                local = np.concatenate([local, np.zeros((len(local), 1))], axis=1)
                albedo = texture.colour(local)
                rgb[nearer] = _shade(albedo, np.broadcast_to(normal, albedo.shape), LIGHT_DIR)
        if with_rgb:
            sky = ~np.isfinite(depth)
            rgb[sky] = np.array([0.55, 0.70, 0.90])
            rgb = rgb.reshape(*rays.shape, 3)
        return _Background(depth.reshape(rays.shape), rgb)


def _sphere_pixel_box(center: np.ndarray, radius: float, rays: _RaySet
                      ) -> tuple[slice, slice] | None:
    """Conservative pixel window (rows, cols) covering the projection of a world sphere.

    None when the sphere projects nowhere into the image."""
    height, width = rays.shape
    c = geometry.world_to_camera(center[None], rays.E)[0]
    if c[2] + radius <= 1e-6:
        return None
    if c[2] - radius <= 1e-3:  # camera close to or inside the sphere: whole image
        return slice(0, height), slice(0, width)
    corners = np.array([[c[0] + sx * radius, c[1] + sy * radius, c[2] + sz * radius]
                        for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    uv = corners[:, :2] / corners[:, 2:] * np.diag(rays.K)[:2] + rays.K[:2, 2]
    u0, v0 = np.floor(uv.min(axis=0)).astype(int)
    u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + 1
    u0, v0, u1, v1 = max(u0, 0), max(v0, 0), min(u1, width), min(v1, height)
    if u0 >= u1 or v0 >= v1:
        return None
    return slice(v0, v1), slice(u0, u1)


def _render_frame(rays: _RaySet, background: _Background, objects: list[_Object],
                  poses: np.ndarray, with_rgb: bool
                  ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Ray-cast the objects at one frame over the background.

    poses [K,4,4] object-to-world -> (rgb [H,W,3] float in [0,1] or None, depth [H,W] metres
    with inf for sky, ids [H,W] int16: instance index or -1 for background).
    """
    depth = background.depth.copy()
    rgb = background.rgb.copy() if with_rgb else None
    ids = np.full(rays.shape, -1, np.int16)
    for k, (obj, pose) in enumerate(zip(objects, poses)):
        window = _sphere_pixel_box(pose[:3, 3], obj.radius, rays)
        if window is None:
            continue
        R, centre = pose[:3, :3], pose[:3, 3]
        dirs = rays.dirs[window].reshape(-1, 3) @ R  # local-frame directions
        origin = R.T @ (rays.origin - centre)
        t, normals = obj.intersect(origin, dirs)
        nearer = t < depth[window].reshape(-1)
        if not nearer.any():
            continue
        flat = np.flatnonzero(nearer)
        sub_depth, sub_ids = depth[window], ids[window]  # views into the full buffers
        rows, cols = np.unravel_index(flat, sub_depth.shape)
        sub_depth[rows, cols] = t[flat]
        sub_ids[rows, cols] = k
        if with_rgb:
            local = origin + t[flat, None] * dirs[flat]
            colour = _shade(obj.texture.colour(local), normals[flat], R.T @ LIGHT_DIR)
            rgb[window][rows, cols] = colour
    return rgb, depth, ids


# ----------------------------------------------------------------------------- assembly

def _sparsify(depth: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Simulate a sparse sensor on depth [...,H,W]: beyond SENSOR_MAX_DEPTH -> 0, and a random
    (1 - density) share of the pixels -> 0, drawn anew for every frame."""
    out = np.where(depth <= SENSOR_MAX_DEPTH, depth, 0.0)
    return np.where(rng.random(depth.shape) < density, out, 0.0).astype(np.float32)


def _object_array(value) -> np.ndarray:
    """Wrap a python object in a 0-d object array (the old pipeline's pickled-dict form)."""
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr


def _make_planes(rng: np.random.Generator) -> _Planes:
    """Floor and wall textures."""
    return _Planes(
        floor=_random_texture(rng, np.array([0.6, 0.5, 0.4]), checker=0.10,
                              wavelengths=(0.05, 0.3)),
        walls=(_random_texture(rng, np.array([0.75, 0.7, 0.55]), 0.12, (0.08, 0.4)),
               _random_texture(rng, np.array([0.5, 0.6, 0.7]), 0.12, (0.08, 0.4))))


def _render_views(params: DemoParams, intrs: np.ndarray, extrs: np.ndarray, planes: _Planes,
                  objects: list[_Object], poses: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render every view and frame.

    intrs [V,3,3], extrs [V,3,4], poses [K,T,4,4] -> (rgbs [V,T,H,W,3] uint8, dense depths
    [V,T,H,W] float64 metres (0: sky), ids [V,T,M*H,M*W] int16 instance index or -1).
    """
    V, T, H, W, S = (params.num_views, params.num_frames, params.height, params.width,
                     int(params.mask_scale))
    rgbs = np.zeros((V, T, H, W, 3), np.uint8)
    depths = np.zeros((V, T, H, W), np.float64)
    ids = np.zeros((V, T, H * S, W * S), np.int16)
    for v in range(V):
        rays = _RaySet.of_camera(intrs[v], extrs[v], H, W)
        background = planes.render(rays, with_rgb=True)
        if S > 1:  # masks from a second, id-only ray cast at the mask resolution
            mask_rays = _RaySet.of_camera(_scale_intrinsics(intrs[v], S), extrs[v], H * S, W * S)
            mask_background = planes.render(mask_rays, with_rgb=False)
        for t in range(T):
            rgb, depth, id_buffer = _render_frame(rays, background, objects, poses[:, t], True)
            rgbs[v, t] = np.round(np.clip(rgb, 0, 1) * 255)
            depths[v, t] = np.where(np.isfinite(depth), depth, 0.0)
            if S > 1:
                id_buffer = _render_frame(mask_rays, mask_background, objects, poses[:, t],
                                          False)[2]
            ids[v, t] = id_buffer
    return rgbs, depths, ids


def make_demo_scene(params: DemoParams | None = None) -> dict[str, np.ndarray]:
    """Render the demo scene into the arrays of an NPZ in the old pipeline format.

    Returns (V views, T frames, H x W pixels, K instances, M = mask_scale):
      rgbs [V,T,3,H,W] uint8; depths [V,T,1,H,W] float32 metres (0 = invalid);
      intrs [V,T,3,3] float32; extrs [V,T,3,4] float32 world-to-camera (static, repeated);
      camera_ids [V] object array of str "cam_00", ...;
      sam2_masks 0-d object array of dict {"instance_k": bool [V,T,M*H,M*W]};
      sam2_contact_frames 0-d object array of dict {"instance_k": {camera_id: frame}};
      gt_object_poses [K,T,4,4] float32 object-to-world; gt_instance_ids [K] str;
      timestamps [T] float64 seconds.
    """
    params = params or DemoParams()
    # independent streams: scene content, sensor dropout, contact-frame jitter
    rng, sensor_rng, contact_rng = (np.random.default_rng(s) for s in
                                    np.random.SeedSequence(params.seed).spawn(3))
    T = params.num_frames
    intrs, extrs = _make_cameras(params)
    objects = _make_objects(params, rng)
    poses = _object_poses(objects, _make_motions(params, rng), T)
    rgbs, depths, ids = _render_views(params, intrs, extrs, _make_planes(rng), objects, poses)
    rgbs = _soften(rgbs)
    if params.depth_density < 1.0:
        depths = _sparsify(depths, params.depth_density, sensor_rng)

    camera_ids = [f"cam_{v:02d}" for v in range(params.num_views)]
    instance_ids = [f"instance_{k}" for k in range(len(objects))]
    return {
        "rgbs": np.ascontiguousarray(rgbs.transpose(0, 1, 4, 2, 3)),
        "depths": depths.astype(np.float32)[:, :, None],
        "intrs": np.repeat(intrs[:, None], T, axis=1).astype(np.float32),
        "extrs": np.repeat(extrs[:, None], T, axis=1).astype(np.float32),
        "camera_ids": np.array(camera_ids, dtype=object),
        "sam2_masks": _object_array({iid: ids == k for k, iid in enumerate(instance_ids)}),
        "sam2_contact_frames": _object_array(
            _contact_frames(poses, objects, camera_ids, contact_rng)),
        "gt_object_poses": poses.astype(np.float32),
        "gt_instance_ids": np.array(instance_ids, dtype=str),
        "timestamps": np.arange(T, dtype=np.float64) / params.fps,
    }


def _soften(rgbs: np.ndarray, sigma: float = 0.7) -> np.ndarray:
    """Slight Gaussian blur of every image [V,T,H,W,3] uint8: a camera's optics instead of the
    aliasing of one ray per pixel (which no real sensor shows and which defeats optical flow)."""
    V, T = rgbs.shape[:2]
    out = np.empty_like(rgbs)
    for v in range(V):
        for t in range(T):
            out[v, t] = cv2.GaussianBlur(rgbs[v, t], (0, 0), sigma)
    return out


# ----------------------------------------------------------------------------- cache

def default_cache_dir() -> Path:
    """$PERMASK_CACHE_DIR, else $XDG_CACHE_HOME/permask, else ~/.cache/permask."""
    if os.environ.get("PERMASK_CACHE_DIR"):
        return Path(os.environ["PERMASK_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "permask"
    return Path.home() / ".cache" / "permask"


def params_hash(params: DemoParams) -> str:
    """Short hex digest of the parameters and GENERATOR_VERSION."""
    payload = json.dumps({"version": GENERATOR_VERSION, **asdict(params)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def demo_scene_path(params: DemoParams | None = None, cache_dir: str | Path | None = None) -> Path:
    """Path of the cached demo-scene NPZ for `params`, generated (atomically) if absent."""
    params = params or DemoParams()
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = directory / f"demo_scene_v{GENERATOR_VERSION}_{params_hash(params)}.npz"
    if path.is_file():
        return path
    arrays = make_demo_scene(params)
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # object arrays are pickled (old format)
    return path


# ----------------------------------------------------------------------------- ground truth

def true_tracks(object_poses: np.ndarray, instance_index: np.ndarray,
                query_points: np.ndarray) -> np.ndarray:
    """Ground-truth 3D tracks of rigidly attached query points.

    object_poses [K,T,4,4] object-to-world; instance_index [N] int (row of object_poses);
    query_points [N,4] (t, x, y, z) world, t a frame index (rounded).
    Returns [T,N,3] float64 world positions pose[k,t] @ inv(pose[k,tq]) @ X; NaN before tq.
    """
    poses = np.asarray(object_poses, np.float64)
    k = np.asarray(instance_index, np.int64)
    queries = np.asarray(query_points, np.float64)
    num_frames = poses.shape[1]
    tq = np.rint(queries[:, 0]).astype(np.int64)
    if len(tq) and (tq.min() < 0 or tq.max() >= num_frames):
        raise ValueError(f"query frames must lie in [0, {num_frames})")
    R_q, c_q = poses[k, tq, :3, :3], poses[k, tq, :3, 3]  # [N,3,3], [N,3]
    local = np.einsum("nji,nj->ni", R_q, queries[:, 1:4] - c_q)  # R^T (X - c)
    R_all, c_all = poses[k, :, :3, :3], poses[k, :, :3, 3]  # [N,T,3,3], [N,T,3]
    tracks = np.einsum("ntij,nj->tni", R_all, local) + c_all.transpose(1, 0, 2)
    tracks[np.arange(num_frames)[:, None] < tq[None, :]] = np.nan
    return tracks
