"""The shapes and motions of the hard demo cases (`permask.demo.hard`): rolling balls, an
articulated arm and a deforming sheet, with the inverse maps their ground truth needs.

A *part* is something the renderer ray-casts (`Primitive`, or `Sheet` for one frame) with a pose
per frame [T,4,4] object-to-world. Every part has *material coordinates* [3]: the local point for
a rigid primitive, the rest position (x, y, 0) for the sheet, whose surface is the height field
z = h(x, y, t) over them in its local frame. Truth = material coordinates of a query at its frame,
mapped to the world at every frame. Metres, radians, world z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.demo.motion import _rotvec_to_matrix
from permask.demo.objects import Primitive
from permask.demo.textures import Texture


def roll_poses(path: np.ndarray, radius: float, spin: np.ndarray, rot0: np.ndarray) -> np.ndarray:
    """[T,4,4] poses of a ball of `radius` rolling without slipping along floor positions
    path [T,2] while also turning by rotation vector `spin` [3] (world frame) per frame; its
    initial orientation is rotation vector rot0 [3]. The centre stays `radius` above z = 0."""
    T = len(path)
    poses = np.repeat(np.eye(4)[None], T, axis=0)
    R = _rotvec_to_matrix(rot0)
    for t in range(T):
        if t:
            step = np.append(path[t] - path[t - 1], 0.0)
            roll = np.cross([0.0, 0.0, 1.0], step) / radius  # axis * angle of rolling
            R = _rotvec_to_matrix(spin) @ _rotvec_to_matrix(roll) @ R
        poses[t, :3, :3] = R
        poses[t, :3, 3] = [path[t, 0], path[t, 1], radius]
    return poses


def eased_path(waypoints: np.ndarray, num_frames: int) -> np.ndarray:
    """[T,2] floor positions through waypoints [P,2] (P >= 2), each leg eased in and out and
    taking time in proportion to its length (the ball slows down where it turns back)."""
    legs = np.linalg.norm(np.diff(waypoints, axis=0), axis=1)
    bounds = np.concatenate([[0.0], np.cumsum(legs) / max(legs.sum(), 1e-12)])
    s = np.linspace(0.0, 1.0, num_frames)
    leg = np.clip(np.searchsorted(bounds, s, side="right") - 1, 0, len(legs) - 1)
    x = np.clip((s - bounds[leg]) / np.maximum(bounds[leg + 1] - bounds[leg], 1e-12), 0, 1)
    e = (x * x * (3 - 2 * x))[:, None]
    return waypoints[leg] + e * (waypoints[leg + 1] - waypoints[leg])


def _pose(R: np.ndarray, t) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = R, t
    return pose


def arm_poses(base: np.ndarray, num_frames: int, rng: np.random.Generator,
              sizes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """[3,T,4,4] poses of an articulated arm's boxes (half extents `sizes`: an upright base, an
    upper arm and a forearm along their local x): the base stands at floor position base [2] and
    turns about z; the shoulder (top of the base) and the elbow bend about the links' local y."""
    s = np.linspace(0.0, 1.0, num_frames)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    yaw = 0.2 + 0.9 * np.sin(np.pi * s + phase[0])
    shoulder = np.radians(45.0 + 25.0 * np.sin(2 * np.pi * s + phase[1]))
    elbow = np.radians(-20.0 + 45.0 * np.sin(3 * np.pi * s + phase[2]))
    hb, l1, l2 = sizes[0][2], sizes[1][0], sizes[2][0]
    out = np.empty((3, num_frames, 4, 4))
    for t in range(num_frames):
        Rz = _rotvec_to_matrix(np.array([0.0, 0.0, yaw[t]]))
        out[0, t] = _pose(Rz, [base[0], base[1], hb])
        joint = _pose(Rz @ _rotvec_to_matrix(np.array([0.0, -shoulder[t], 0.0])),
                      [base[0], base[1], 2 * hb])
        out[1, t] = joint @ _pose(np.eye(3), [l1, 0.0, 0.0])
        joint = joint @ _pose(_rotvec_to_matrix(np.array([0.0, -elbow[t], 0.0])),
                              [2 * l1, 0.0, 0.0])
        out[2, t] = joint @ _pose(np.eye(3), [l2, 0.0, 0.0])
    return out


class FlatTexture:
    """A texture read at the material coordinates (x, y, 0) of a sheet's surface point."""

    def __init__(self, texture: Texture):
        self.texture = texture

    def colour(self, points: np.ndarray) -> np.ndarray:
        return self.texture.colour(np.concatenate([points[:, :2], np.zeros((len(points), 1))], 1))


@dataclass
class Sheet:
    """A deforming sheet over [-half_x, half_x] x [-half_y, half_y] (local frame, metres): a wave
    travelling along x (amplitude `wave` m, `wavelength` m, `phase` radians) plus a bend across
    y (`bend` m at the edges): z = h(x, y). One instance per frame (`part_at`); `texture` is
    read at material coordinates (a `FlatTexture`)."""

    half: np.ndarray  # [2] half extents x, y
    wave: float
    wavelength: float
    bend: float
    phase: float
    texture: FlatTexture

    kind = "sheet"

    def height(self, xy: np.ndarray) -> np.ndarray:
        """h [N] at local xy [N,2]."""
        k = 2 * np.pi / self.wavelength
        return (self.wave * np.sin(k * xy[:, 0] - self.phase)
                + self.bend * (xy[:, 1] / self.half[1]) ** 2)

    @property
    def radius(self) -> float:
        return float(np.hypot(*self.half) + abs(self.wave) + abs(self.bend))

    def intersect(self, origin: np.ndarray, dirs: np.ndarray, steps: int = 24
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Rays in the local frame: origin [3], dirs [N,3] -> (t [N] (inf: miss), normals
        [N,3]): the first sign change of z - h along the ray within the sheet's slab, refined
        by bisection."""
        top = abs(self.wave) + abs(self.bend) + 1e-3
        safe = np.where(np.abs(dirs[:, 2]) < 1e-12, 1e-12, dirs[:, 2])
        a, b = (-top - origin[2]) / safe, (top - origin[2]) / safe
        lo, hi = np.maximum(np.minimum(a, b), 1e-6), np.maximum(a, b)
        s = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, steps)[None]  # [N,S]
        g = self._gap(origin, dirs, s)
        change = (np.sign(g[:, :-1]) != np.sign(g[:, 1:]))
        hit = change.any(axis=1) & (hi > lo)
        first = np.argmax(change, axis=1)
        rows = np.arange(len(dirs))
        s0, s1 = s[rows, first], s[rows, first + 1]
        g0 = g[rows, first]
        for _ in range(20):
            mid = 0.5 * (s0 + s1)
            gm = self._gap(origin, dirs, mid[:, None])[:, 0]
            same = np.sign(gm) == np.sign(g0)
            s0, g0, s1 = np.where(same, mid, s0), np.where(same, gm, g0), np.where(same, s1, mid)
        t = 0.5 * (s0 + s1)
        points = origin + t[:, None] * dirs
        inside = (np.abs(points[:, :2]) <= self.half).all(axis=1)
        t = np.where(hit & inside, t, np.inf)
        eps = 1e-4
        dx = (self.height(points[:, :2] + [eps, 0]) - self.height(points[:, :2] - [eps, 0])) / (2 * eps)
        dy = (self.height(points[:, :2] + [0, eps]) - self.height(points[:, :2] - [0, eps])) / (2 * eps)
        normals = np.stack([-dx, -dy, np.ones_like(dx)], axis=1)
        return t, normals / np.linalg.norm(normals, axis=1, keepdims=True)

    def _gap(self, origin: np.ndarray, dirs: np.ndarray, s: np.ndarray) -> np.ndarray:
        """z - h(x, y) of the ray points origin + s dirs, s [N,S] -> [N,S]."""
        p = origin[None, None] + s[..., None] * dirs[:, None]
        return p[..., 2] - self.height(p[..., :2].reshape(-1, 2)).reshape(s.shape)

    def surface_distance(self, local: np.ndarray) -> np.ndarray:
        """[N] distance of local points [N,3] from the surface (height gap plus how far outside)."""
        outside = np.linalg.norm(np.maximum(np.abs(local[:, :2]) - self.half, 0), axis=1)
        return np.abs(local[:, 2] - self.height(local[:, :2])) + outside

    def to_material(self, local: np.ndarray) -> np.ndarray:
        return np.concatenate([local[:, :2], np.zeros((len(local), 1))], axis=1)

    def from_material(self, material: np.ndarray) -> np.ndarray:
        return np.concatenate([material[:, :2], self.height(material[:, :2])[:, None]], axis=1)


def surface_distance(part, local: np.ndarray) -> np.ndarray:
    """[N] distance (m) of local points [N,3] from a part's surface (a sheet, a box or an
    ellipsoid, the latter approximately)."""
    if isinstance(part, Sheet):
        return part.surface_distance(local)
    if part.kind == "box":
        q = np.abs(local) - part.size
        return np.abs(np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0))
    return np.abs(np.linalg.norm(local / part.size, axis=1) - 1) * part.size.min()


def to_material(part, local: np.ndarray) -> np.ndarray:
    return part.to_material(local) if isinstance(part, Sheet) else local


def from_material(part, material: np.ndarray) -> np.ndarray:
    return part.from_material(material) if isinstance(part, Sheet) else material


def part_at(part: Primitive | Sheet, t: int, phases: np.ndarray | None):
    """The part as it is at frame t (a sheet takes its wave phase [T] of that frame)."""
    if isinstance(part, Sheet) and phases is not None:
        return Sheet(part.half, part.wave, part.wavelength, part.bend, float(phases[t]),
                     part.texture)
    return part
