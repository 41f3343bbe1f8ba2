"""Hard demo cases for tracker quality: what the default demo scene does not show.

    make_hard_case(name, seed=0) -> HardCase;  hard_case_path(case) -> cached NPZ (pickled-dict
    mask format)

Cases (`HARD_CASES`; 192x144 pixels):
- `balls`: 3 views, 24 frames, 3 textured balls rolling and spinning over the textured floor (a
  ball's silhouette hardly changes while it turns: the texture moves inside it, and points on the
  far side leave and re-enter view);
- `balls_sparse`: the same with 30% of the depth pixels valid;
- `balls_4views`: 4 views, 32 frames, 4 such balls; `balls_2views`: 2 views, 20 frames, 2 balls
  (other scenes of the same recipe, at other sizes);
- `turning`: 3 views, 24 frames, two balls and an ellipsoid turning in place (constant
  silhouettes, only the texture moves);
- `occluded`: 3 views, 28 frames, a ball rolling behind a static panel (seen by at most two
  views, by one only for two stretches of 4 frames) and one in front of it;
- `reenter`: 4 views, 32 frames, 4 balls rolling out of views and back (one leaves every view
  for 6 frames);
- `arm`: 3 views, 24 frames, an articulated arm (base, upper arm and forearm, one mask: piecewise
  rigid) and a rolling ball;
- `sheet`: 3 views, 24 frames, a deforming sheet (a travelling wave and a bend) and a ball.

Ground truth for every case: `HardCase.truth(instance_id, points)` (rigid bodies: their poses;
the arm: the pose of the part a query lies on; the sheet: its material point). The NPZ carries
`gt_object_poses` for the rigid instances only (a run evaluates those; benchmarks use `truth`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from permask.cache_dir import default_cache_dir
from permask.demo import shapes
from permask.demo.cameras import RaySet, make_cameras
from permask.demo.motion import _rotvec_to_matrix
from permask.demo.objects import _PALETTE, Primitive
from permask.demo.params import DemoParams
from permask.demo.render import make_planes, render_frame
from permask.demo.scene import object_array, soften, sparsify
from permask.demo.textures import random_texture
from permask.files.atomic import atomic_write

HARD_VERSION = 1
"""Bump whenever a hard case's content changes, so cached files are regenerated."""


@dataclass
class Body:
    """One instance: its parts (`Primitive`s, or one `shapes.Sheet`) with poses [P,T,4,4]
    object-to-world; `phases` [T]: a sheet's wave phase per frame (None: rigid parts)."""

    parts: list
    poses: np.ndarray
    phases: np.ndarray | None = None

    @property
    def rigid(self) -> bool:
        return len(self.parts) == 1 and self.phases is None


@dataclass
class HardCase:
    """A hard case: scene parameters (cameras, size, depth density, seed), the instances
    (`Body`, instance_k in order) and static occluders (Primitive, pose [4,4]) with no mask."""

    name: str
    params: DemoParams
    bodies: list[Body]
    occluders: list[tuple[Primitive, np.ndarray]] = field(default_factory=list)

    @property
    def instance_ids(self) -> list[str]:
        return [f"instance_{k}" for k in range(len(self.bodies))]

    def truth(self, instance_id: str, points: np.ndarray) -> np.ndarray:
        """[T,N,3] true world tracks of query points [N,4] (t, x, y, z) on instance_id; NaN
        before each query's frame."""
        body = self.bodies[self.instance_ids.index(instance_id)]
        T = self.params.num_frames
        frames = np.rint(points[:, 0]).astype(np.int64)
        out = np.full((T, len(points), 3), np.nan)
        for t0 in np.unique(frames):
            idx = np.flatnonzero(frames == t0)
            xyz = np.concatenate([points[idx, 1:], np.ones((len(idx), 1))], axis=1)
            # the part each point lies on: nearest surface at its own frame
            local = [(xyz @ np.linalg.inv(body.poses[p, t0]).T)[:, :3] for p in range(len(body.parts))]
            gaps = np.stack([shapes.surface_distance(shapes.part_at(part, t0, body.phases), loc)
                             for part, loc in zip(body.parts, local)])
            which = np.argmin(gaps, axis=0)
            for p, part in enumerate(body.parts):
                mine = which == p
                if not mine.any():
                    continue
                material = shapes.to_material(part, local[p][mine])
                for t in range(t0, T):
                    on = shapes.from_material(shapes.part_at(part, t, body.phases), material)
                    out[t, idx[mine]] = on @ body.poses[p, t, :3, :3].T + body.poses[p, t, :3, 3]
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The case rendered into the arrays of an NPZ in the old pipeline format (as
        `permask.demo.scene.make_demo_scene` documents); masks at depth resolution."""
        p = self.params
        V, T, H, W = p.num_views, p.num_frames, p.height, p.width
        rng, sensor_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(p.seed).spawn(2))
        intrs, extrs = make_cameras(p)
        planes = make_planes(rng)
        parts = [(k, i) for k, body in enumerate(self.bodies) for i in range(len(body.parts))]
        owner = np.array([k for k, _ in parts] + [-1] * len(self.occluders) + [-1], np.int16)
        rgbs = np.zeros((V, T, H, W, 3), np.uint8)
        depths = np.zeros((V, T, H, W))
        ids = np.zeros((V, T, H, W), np.int16)
        for v in range(V):
            rays = RaySet.of_camera(intrs[v], extrs[v], H, W)
            background = planes.render(rays, with_rgb=True)
            for t in range(T):
                objects = [shapes.part_at(self.bodies[k].parts[i], t, self.bodies[k].phases)
                           for k, i in parts] + [o for o, _ in self.occluders]
                poses = np.stack([self.bodies[k].poses[i, t] for k, i in parts]
                                 + [pose for _, pose in self.occluders])
                rgb, depth, id_buffer = render_frame(rays, background, objects, poses, True)
                rgbs[v, t] = np.round(np.clip(rgb, 0, 1) * 255)
                depths[v, t] = np.where(np.isfinite(depth), depth, 0.0)
                ids[v, t] = owner[id_buffer]  # -1 (background) reads the last entry
        rgbs = soften(rgbs)
        if p.depth_density < 1.0:
            depths = sparsify(depths, p.depth_density, sensor_rng)
        rigid = [k for k, body in enumerate(self.bodies) if body.rigid]
        names = self.instance_ids
        out = {
            "rgbs": np.ascontiguousarray(rgbs.transpose(0, 1, 4, 2, 3)),
            "depths": depths.astype(np.float32)[:, :, None],
            "intrs": np.repeat(intrs[:, None], T, axis=1).astype(np.float32),
            "extrs": np.repeat(extrs[:, None], T, axis=1).astype(np.float32),
            "camera_ids": np.array([f"cam_{v:02d}" for v in range(V)], dtype=object),
            "sam2_masks": object_array({iid: ids == k for k, iid in enumerate(names)}),
            "timestamps": np.arange(T, dtype=np.float64) / p.fps,
        }
        if rigid:
            out["gt_object_poses"] = np.stack([self.bodies[k].poses[0] for k in rigid]).astype(np.float32)
            out["gt_instance_ids"] = np.array([names[k] for k in rigid], dtype=str)
        return out


def hard_case_path(case: HardCase, cache_dir: str | Path | None = None) -> Path:
    """The case's NPZ in the cache folder (generated atomically if absent)."""
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = directory / f"hard_{case.name}_v{HARD_VERSION}_s{case.params.seed}.npz"
    if not path.is_file():
        arrays = case.arrays()
        with atomic_write(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


# ------------------------------------------------------------------------------- the cases

def _texture(rng: np.random.Generator, k: int):
    return random_texture(rng, _PALETTE[k % len(_PALETTE)], checker=0.045, wavelengths=(0.05, 0.16))


def _ball(rng, k, radius, path, spin_deg) -> Body:
    """A textured ball rolling along path [T,2], turning by spin_deg per frame about a random
    axis on top of rolling."""
    axis = rng.normal(size=3)
    spin = np.radians(spin_deg) * axis / np.linalg.norm(axis)
    ball = Primitive("ellipsoid", np.full(3, radius), _texture(rng, k))
    return Body([ball], shapes.roll_poses(path, radius, spin, rng.normal(size=3))[None])


def _balls(params: DemoParams, rng, legs: list[np.ndarray], spin_deg: float = 8.0) -> list[Body]:
    T = params.num_frames
    return [_ball(rng, k, rng.uniform(0.08, 0.11), shapes.eased_path(w, T), spin_deg)
            for k, w in enumerate(legs)]


def _rolling(params, rng, count) -> list[Body]:
    """Balls on random straight runs of 0.3-0.6 m through the workspace."""
    legs = []
    for _ in range(count):
        start = rng.uniform(-0.35, 0.35, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        legs.append(np.stack([start, start + rng.uniform(0.3, 0.6) * np.array([np.cos(angle), np.sin(angle)])]))
    return _balls(params, rng, legs)


def make_hard_case(name: str, seed: int = 0) -> HardCase:
    """The named case (see the module docstring), deterministic in `seed`."""
    if name not in HARD_CASES:
        raise ValueError(f"unknown hard case {name!r}; one of {', '.join(HARD_CASES)}")
    views, frames, density = HARD_CASES[name]
    params = DemoParams(num_views=views, num_frames=frames, height=144, width=192,
                        num_objects=1, seed=seed, depth_density=density)
    rng = np.random.default_rng([seed, *name.removesuffix("_sparse").encode()])  # same scene
    T = frames
    occluders = []
    if name.startswith("balls"):
        bodies = _rolling(params, rng, views if name.endswith("views") else 3)
    elif name == "turning":
        bodies = []
        for k, (x, y) in enumerate([(-0.25, 0.1), (0.15, -0.25), (0.2, 0.25)]):
            path = np.repeat([[x, y]], T, axis=0)
            if k < 2:
                bodies.append(_ball(rng, k, 0.1, path, 7.0))
            else:  # an ellipsoid turning about its vertical axis: the silhouette barely changes
                shape = Primitive("ellipsoid", np.array([0.11, 0.11, 0.13]), _texture(rng, k))
                bodies.append(Body([shape], shapes.roll_poses(path, 0.13, np.radians([0, 0, 6.0]),
                                                              np.zeros(3))[None]))
    elif name == "occluded":
        toward = np.radians(47.5)  # the cameras' mean azimuth
        d, side = np.array([np.cos(toward), np.sin(toward)]), np.array([-np.sin(toward), np.cos(toward)])
        panel = Primitive("box", np.array([0.025, 0.45, 0.28]), _texture(rng, 5))
        pose = np.eye(4)
        pose[:3, :3] = _rotvec_to_matrix(np.array([0.0, 0.0, toward]))
        pose[:3, 3] = [*(0.2 * d), 0.28]
        occluders.append((panel, pose))
        behind = np.stack([-0.15 * d - 0.75 * side, -0.15 * d + 0.75 * side])
        front = np.stack([0.55 * d + 0.3 * side, 0.55 * d - 0.2 * side])
        bodies = _balls(params, rng, [behind, front])
    elif name == "reenter":
        legs = []
        for k in range(4):
            out_dir = np.radians(-60.0 + 45.0 * k)
            start = rng.uniform(-0.2, 0.2, size=2)
            far = start + 1.3 * np.array([np.cos(out_dir), np.sin(out_dir)])
            legs.append(np.stack([start, far, start + rng.uniform(-0.1, 0.1, size=2)]))
        bodies = _balls(params, rng, legs)
    elif name == "arm":
        sizes = (np.array([0.05, 0.05, 0.1]), np.array([0.13, 0.045, 0.045]),
                 np.array([0.11, 0.04, 0.04]))
        parts = [Primitive("box", s, _texture(rng, 3)) for s in sizes]
        bodies = [Body(parts, shapes.arm_poses(np.array([-0.1, 0.05]), T, rng, sizes)),
                  *_balls(params, rng, [np.array([[0.35, -0.3], [0.3, 0.2]])])]
    else:  # sheet
        texture = shapes.FlatTexture(_texture(rng, 4))
        sheet = shapes.Sheet(np.array([0.26, 0.18]), 0.035, 0.3, 0.05, 0.0, texture)
        s = np.linspace(0, 1, T)
        yaw = 0.3 + 0.6 * s
        poses = np.repeat(np.eye(4)[None], T, axis=0)
        for t in range(T):
            poses[t, :3, :3] = _rotvec_to_matrix(np.array([0.0, 0.0, yaw[t]]))
            poses[t, :3, 3] = [-0.05 + 0.15 * s[t], 0.05, 0.25]
        body = Body([sheet], poses[None], phases=2 * np.pi * 1.2 * s)  # the wave travels
        bodies = [body, *_balls(params, rng, [np.array([[0.4, -0.35], [0.45, 0.1]])])]
    return HardCase(name, params, bodies, occluders)


HARD_CASES: dict[str, tuple[int, int, float]] = {
    # name: (views, frames, depth density)
    "balls": (3, 24, 1.0),
    "balls_sparse": (3, 24, 0.3),
    "balls_4views": (4, 32, 1.0),
    "balls_2views": (2, 20, 1.0),
    "turning": (3, 24, 1.0),
    "occluded": (3, 28, 1.0),
    "reenter": (4, 32, 1.0),
    "arm": (3, 24, 1.0),
    "sheet": (3, 24, 1.0),
}
