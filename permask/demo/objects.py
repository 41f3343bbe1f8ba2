"""The demo's rigid objects: boxes and ellipsoids with their own texture, and where a ray hits them.

Sizes in metres, in the object's local frame (box: half extents, ellipsoid: semi-axes); rays are
given in that local frame too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.demo.params import DemoParams
from permask.demo.textures import Texture, random_texture

_PALETTE = np.array([
    [0.90, 0.20, 0.15], [0.15, 0.75, 0.25], [0.20, 0.35, 0.95],
    [0.95, 0.80, 0.10], [0.85, 0.20, 0.85], [0.10, 0.80, 0.85],
])


@dataclass
class Primitive:
    """A rigid primitive. kind: "box" (half extents) or "ellipsoid" (semi-axes); size [3] m."""

    kind: str
    size: np.ndarray
    texture: Texture

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


def make_objects(params: DemoParams, rng: np.random.Generator) -> list[Primitive]:
    """K primitives, alternating box / ellipsoid / box, each with its own colour and texture."""
    sizes = [("box", (0.15, 0.11, 0.09)), ("ellipsoid", (0.12, 0.16, 0.14)),
             ("box", (0.11, 0.09, 0.12))]
    objects = []
    for k in range(params.num_objects):
        kind, size = sizes[k] if k < len(sizes) else (
            ("box", "ellipsoid")[k % 2], tuple(rng.uniform(0.06, 0.11, size=3)))
        texture = random_texture(rng, _PALETTE[k % len(_PALETTE)], checker=0.045,
                                  wavelengths=(0.05, 0.16))
        objects.append(Primitive(kind, np.array(size, np.float64), texture))
    return objects


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
