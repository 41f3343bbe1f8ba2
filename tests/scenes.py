"""Tiny hand-made scenes with known geometry, for unit tests."""

import numpy as np

from permask.data import Scene
from permask.geometry import look_at


def look_at_extrinsic(eye, target=(0, 0, 0), up=(0, -1, 0)) -> np.ndarray:
    """World-to-camera [3,4] for a camera at `eye` looking at `target` (OpenCV axes)."""
    return look_at(eye, target, up)


def plane_scene(V=2, T=3, H=40, W=50, square=(10, 30, 15, 40), mask_scale=1, shift_per_frame=0):
    """Fronto-parallel plane at z=2 m seen by V identical cameras; instance_0 is a square
    [v0:v1, u0:u1] of the image (shifted right by `shift_per_frame` px per frame)."""
    K = np.array([[60.0, 0, (W - 1) / 2], [0, 60.0, (H - 1) / 2], [0, 0, 1]])
    E = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)
    rng = np.random.default_rng(0)
    rgbs = rng.integers(0, 255, (V, T, H, W, 3), dtype=np.uint8)
    depths = np.full((V, T, H, W), 2.0, np.float32)
    v0, v1, u0, u1 = square
    masks = np.zeros((V, T, H * mask_scale, W * mask_scale), bool)
    for t in range(T):
        s = t * shift_per_frame
        masks[:, t, v0 * mask_scale:v1 * mask_scale, (u0 + s) * mask_scale:(u1 + s) * mask_scale] = True
    return Scene(rgbs=rgbs, depths=depths, intrs=np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32),
                 extrs=np.broadcast_to(E, (V, T, 3, 4)).astype(np.float32),
                 camera_ids=[f"cam_{i:02d}" for i in range(V)], masks={"instance_0": masks},
                 contact_frames={"instance_0": {"cam_00": 1, "cam_01": 2}},
                 frame_indices=np.arange(T), source="<plane>", fingerprint="plane")
