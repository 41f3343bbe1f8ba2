"""Where the demo's objects are over time: keyframed rigid motions, and the frames they start moving.

Default choreography (normalised clip time s in [0, 1]):
- instance_0, a box, is picked up, carried over instance_1 along an arc and put down, turning;
- instance_1, an ellipsoid, slides slowly near the centre while turning and tilting;
- instance_2, a box, slides towards camera 1 until it partly leaves that camera's view at the
  bottom edge;
- further instances slide along an arc behind them, towards the walls.
Objects rest on the floor: their height follows from their orientation (lowest point at z = 0)
plus any carrying lift. World frame: metres, z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.demo.cameras import camera_azimuths
from permask.demo.objects import Primitive
from permask.demo.params import DemoParams


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


@dataclass
class Motion:
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

    def pose(self, s: float, obj: Primitive) -> np.ndarray:
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


def make_motions(params: DemoParams, rng: np.random.Generator) -> list[Motion]:
    """The choreography described in the module docstring, with small seeded jitter."""

    def jitter() -> np.ndarray:
        return rng.uniform(-0.02, 0.02, size=2)

    cam1 = camera_azimuths(params.num_views)[min(1, params.num_views - 1)]
    toward_cam1 = np.array([np.cos(cam1), np.sin(cam1)])
    motions = [
        Motion(start=np.array([0.32, -0.28]) + jitter(), end=np.array([-0.22, 0.28]) + jitter(),
                window=(0.05, 0.95), rot0=np.array([0.0, 0.0, 0.3]),
                spin=np.radians(110.0) * np.array([0.2, 0.3, 1.0]) / np.linalg.norm([0.2, 0.3, 1]),
                lift=0.36),
        Motion(start=np.array([-0.05, 0.02]) + jitter(), end=np.array([0.08, -0.12]) + jitter(),
                window=(0.0, 1.0), rot0=np.zeros(3),
                spin=np.radians(80.0) * np.array([0.4, 0.0, 1.0]) / np.linalg.norm([0.4, 0, 1])),
        Motion(start=0.50 * toward_cam1 + jitter(), end=1.0 * toward_cam1,
                window=(0.3, 1.0), rot0=np.array([0.0, 0.0, -0.4]),
                spin=np.radians(60.0) * np.array([0.0, 0.0, 1.0])),
    ]
    extras = params.num_objects - len(motions)
    for j in range(extras):  # on an arc behind the main three, towards the walls
        angle = np.radians(160.0 + 130.0 * (j + 0.5) / extras)
        start = 0.75 * np.array([np.cos(angle), np.sin(angle)])
        end = 0.75 * np.array([np.cos(angle + 0.25), np.sin(angle + 0.25)])
        s0 = rng.uniform(0.0, 0.4)
        motions.append(Motion(start=start, end=end, window=(s0, s0 + rng.uniform(0.5, 0.6)),
                               rot0=rng.normal(size=3) * 0.3,
                               spin=np.radians(rng.uniform(30, 90)) * np.array([0, 0, 1.0])))
    return motions[:params.num_objects]


def object_poses(objects: list[Primitive], motions: list[Motion], num_frames: int) -> np.ndarray:
    """-> [K,T,4,4] object-to-world poses (float64)."""
    clip = np.linspace(0.0, 1.0, num_frames)
    return np.stack([np.stack([m.pose(s, o) for s in clip]) for o, m in zip(objects, motions)])


def contact_frames(poses: np.ndarray, objects: list[Primitive], camera_ids: list[str],
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
