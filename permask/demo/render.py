"""Ray-cast rendering of the demo: the static background (floor, walls, sky) once per view, the
objects per frame inside the pixel box their bounding sphere projects to. Analytic, numpy only.

World frame: metres, z up. The floor is the plane z = 0; two textured back walls stand at
x = -WALL_OFFSET and y = -WALL_OFFSET. Depth is camera z in metres (inf: sky while rendering).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask import geometry
from permask.demo.cameras import RaySet, scale_intrinsics
from permask.demo.objects import Primitive
from permask.demo.params import DemoParams
from permask.demo.textures import Texture, random_texture, shade

WALL_OFFSET = 1.3
"""Distance (m) of the two back walls from the origin."""
FLOOR_EXTENT = 3.0
"""Floor hits with |x| or |y| beyond this (m) count as sky (no depth)."""
LIGHT_DIR = np.array([0.4, 0.3, 1.0]) / np.linalg.norm([0.4, 0.3, 1.0])
"""Direction towards the (directional) light, world frame."""


@dataclass
class Background:
    """Floor and walls as seen by one ray set: depth [H,W] (inf: sky), rgb [H,W,3] or None."""

    depth: np.ndarray
    rgb: np.ndarray | None


@dataclass
class Planes:
    """The static background: floor z=0 and walls x=-WALL_OFFSET, y=-WALL_OFFSET, with textures."""

    floor: Texture
    walls: tuple[Texture, Texture]

    def render(self, rays: RaySet, with_rgb: bool) -> Background:
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
                rgb[nearer] = shade(albedo, np.broadcast_to(normal, albedo.shape), LIGHT_DIR)
        if with_rgb:
            sky = ~np.isfinite(depth)
            rgb[sky] = np.array([0.55, 0.70, 0.90])
            rgb = rgb.reshape(*rays.shape, 3)
        return Background(depth.reshape(rays.shape), rgb)


def make_planes(rng: np.random.Generator) -> Planes:
    """Floor and wall textures."""
    return Planes(
        floor=random_texture(rng, np.array([0.6, 0.5, 0.4]), checker=0.10,
                              wavelengths=(0.05, 0.3)),
        walls=(random_texture(rng, np.array([0.75, 0.7, 0.55]), 0.12, (0.08, 0.4)),
               random_texture(rng, np.array([0.5, 0.6, 0.7]), 0.12, (0.08, 0.4))))


def _sphere_pixel_box(center: np.ndarray, radius: float, rays: RaySet
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


def _render_frame(rays: RaySet, background: Background, objects: list[Primitive],
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
            colour = shade(obj.texture.colour(local), normals[flat], R.T @ LIGHT_DIR)
            rgb[window][rows, cols] = colour
    return rgb, depth, ids


def render_views(params: DemoParams, intrs: np.ndarray, extrs: np.ndarray, planes: Planes,
                  objects: list[Primitive], poses: np.ndarray
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
        rays = RaySet.of_camera(intrs[v], extrs[v], H, W)
        background = planes.render(rays, with_rgb=True)
        if S > 1:  # masks from a second, id-only ray cast at the mask resolution
            mask_rays = RaySet.of_camera(scale_intrinsics(intrs[v], S), extrs[v], H * S, W * S)
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
