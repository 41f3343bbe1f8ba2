"""Tiny hand-made scenes with known geometry, for unit tests."""

from __future__ import annotations

import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.geometry import look_at, unproject


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


def make_record_scene(V: int = 2, T: int = 5, H: int = 24, W: int = 32, n_instances: int = 2,
                      n_points: int = 20, seed: int = 0
                      ) -> tuple[Scene, dict[str, tuple[Queries, TrackResult]]]:
    """A ray-cast scene: checker ground plane z=0 and `n_instances` moving spheres, V cameras.

    Returns the Scene (masks = sphere pixels) and per instance (queries on the sphere seen in view 0
    at frame 0, tracks = true motion + noise, ~90% visible).
    """
    rng = np.random.default_rng(seed)
    fx = 0.9 * W
    K = np.array([[fx, 0, (W - 1) / 2], [0, fx, (H - 1) / 2], [0, 0, 1]])
    angles = np.linspace(0, np.pi / 2, V) - np.pi / 4
    extrs = np.stack([look_at(np.array([2.5 * np.cos(a), 2.5 * np.sin(a), 1.4]),
                               np.array([0.0, 0.0, 0.15])) for a in angles])
    starts = np.stack([rng.uniform(-0.5, 0.5, n_instances), rng.uniform(-0.5, 0.5, n_instances),
                       np.full(n_instances, 0.15)], axis=1)
    velocity = rng.uniform(-0.03, 0.03, (n_instances, 3)) * [1, 1, 0]
    centers = starts[None] + np.arange(T)[:, None, None] * velocity[None]  # [T,K,3]
    radius = 0.15
    palette = rng.integers(60, 255, (n_instances, 3))

    rows, cols = np.mgrid[0:H, 0:W]
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(H * W)], axis=1)
    rgbs = np.zeros((V, T, H, W, 3), np.uint8)
    depths = np.zeros((V, T, H, W), np.float32)
    labels = np.zeros((V, T, H, W), np.int64)
    for v in range(V):
        R, t = extrs[v, :, :3], extrs[v, :, 3]
        origin = -R.T @ t
        dirs = (pix @ np.linalg.inv(K).T) @ R  # world direction with camera z = 1: s is z-depth
        for f in range(T):
            s_best = np.where(dirs[:, 2] < 0, -origin[2] / np.minimum(dirs[:, 2], -1e-9), np.inf)
            hit = origin + s_best[:, None] * dirs
            checker = ((np.floor(hit[:, 0] * 4) + np.floor(hit[:, 1] * 4)) % 2)[:, None]
            color = np.where(checker > 0, 200.0, 90.0) * np.ones(3)
            label = np.zeros(H * W, np.int64)
            for k in range(n_instances):
                oc = origin - centers[f, k]
                a = (dirs ** 2).sum(1)
                b = 2 * dirs @ oc
                c = oc @ oc - radius ** 2
                disc = b * b - 4 * a * c
                s = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
                closer = (s > 0) & (s < s_best)
                s_best = np.where(closer, s, s_best)
                color[closer] = palette[k]
                label[closer] = k + 1
            valid = np.isfinite(s_best)
            depths[v, f] = np.where(valid, s_best, 0).reshape(H, W)
            rgbs[v, f] = np.clip(color, 0, 255).reshape(H, W, 3)
            labels[v, f] = label.reshape(H, W)

    ids = [f"instance_{k + 1}" for k in range(n_instances)]
    scene = Scene(rgbs=rgbs, depths=depths,
                  intrs=np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32),
                  extrs=np.broadcast_to(extrs[:, None], (V, T, 3, 4)).astype(np.float32),
                  camera_ids=[f"cam {v}" if v == 1 else f"cam{v}" for v in range(V)],
                  masks={iid: labels == k + 1 for k, iid in enumerate(ids)},
                  frame_indices=np.arange(T) * 2, fingerprint=f"test-{seed}")

    per_instance = {}
    for k, iid in enumerate(ids):
        vv, yy, xx = np.nonzero(labels[:, 0] == k + 1)
        if len(vv) == 0:  # sphere unseen: sample on its surface instead
            pts = centers[0, k] + radius * rng.normal(size=(n_points, 3))
            view, pixel = np.zeros(n_points, np.int64), np.zeros((n_points, 2), np.float32)
        else:
            pick = rng.choice(len(vv), n_points, replace=len(vv) < n_points)
            vv, yy, xx = vv[pick], yy[pick], xx[pick]
            pts = np.stack([unproject(np.array([[x, y]]), depths[v, 0, y, x][None], K, extrs[v])[0]
                            for v, y, x in zip(vv, yy, xx)])
            view, pixel = vv, np.stack([xx, yy], axis=1).astype(np.float32)
        queries = Queries(iid, np.concatenate([np.zeros((n_points, 1)), pts], 1).astype(np.float32),
                          view, pixel)
        tracks = (pts[None] + (centers[:, k] - centers[0, k])[:, None]
                  + rng.normal(0, 0.003, (T, n_points, 3))).astype(np.float32)
        visible = rng.random((T, n_points)) < 0.9
        visible[0] = True
        per_instance[iid] = (queries, TrackResult(tracks, visible))
    return scene, per_instance
