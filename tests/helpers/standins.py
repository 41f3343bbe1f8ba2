"""Stand-in learned models (the upstream repos in tests/fixtures, loaded through the real
torch.hub / clone paths) and the scene they are tested on: a rig of parallel cameras looking at a
plane. The stand-ins produce motion known in advance, read from their checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from permask.data import Queries, Scene
from permask.geometry import unproject
from permask.trackers.cotracker import CoTrackerOnlineConfig, CoTrackerTracker
from permask.trackers.mvtracker import MVTrackerTracker
from permask.trackers.spatialtracker import SpatialTrackerV2Tracker
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
HUB_MVTRACKER = FIXTURES / "hub_mvtracker"
HUB_COTRACKER = FIXTURES / "hub_cotracker"
SPATRACKER_CLONE = FIXTURES / "spatracker_clone"

F = 80.0  # focal length (px) of the test rig
Z = 2.0  # plane depth in every view (m)


def euler(a, b, c):
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    Rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    Ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    Rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


R_RIG = euler(0.35, -0.5, 0.2)  # world-to-camera rotation shared by the rig's views
C_RIG = np.array([0.4, -1.1, 0.7])  # first camera centre (world)


def rig_scene(V=2, T=6, H=48, W=64, baseline=0.1, holes=0.15, seed=0):
    """V parallel cameras (same rotation R_RIG, centres along the camera x axis) looking at a
    plane at camera depth Z in every view; depth has holes (0) at a share `holes` of pixels.
    Its instance_0 mask covers the whole image."""
    K = np.array([[F, 0, (W - 1) / 2], [0, F, (H - 1) / 2], [0, 0, 1]])
    extrs = np.zeros((V, T, 3, 4))
    for v in range(V):
        centre = C_RIG + R_RIG.T @ np.array([baseline * v, 0, 0])
        extrs[v, :] = np.concatenate([R_RIG, (-R_RIG @ centre)[:, None]], axis=1)
    rng = np.random.default_rng(seed)
    depths = np.full((V, T, H, W), Z, np.float32)
    depths[rng.random(depths.shape) < holes] = 0.0
    rgbs = rng.integers(10, 250, (V, T, H, W, 3), dtype=np.uint8)
    return Scene(rgbs=rgbs, depths=depths, intrs=np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32),
                 extrs=extrs.astype(np.float32), camera_ids=[f"cam_{v}" for v in range(V)],
                 masks={"instance_0": np.ones((V, T, H, W), bool),
                        "instance_1": np.ones((V, T, H, W), bool)},
                 frame_indices=np.arange(T), source="<rig>", fingerprint="rig")


def rig_queries(scene, instance_id="instance_0", n=10, late=3, frame=2, seed=1, box=(12, 36, 16, 48)):
    """n queries lifted from view 0 pixels with valid depth inside box (v0, v1, u0, u1); the last
    `late` of them at `frame`, the others at frame 0."""
    rng = np.random.default_rng(seed)
    v0, v1, u0, u1 = box
    frames = np.array([0] * (n - late) + [frame] * late)
    pts, pix = [], []
    for t in frames:
        while True:
            u, v = rng.integers(u0, u1), rng.integers(v0, v1)
            if scene.depths[0, t, v, u] > 0:
                break
        pix.append([u, v])
        pts.append(unproject(np.array([[u, v]], float), np.array([scene.depths[0, t, v, u]]),
                             scene.intrs[0, t], scene.extrs[0, t])[0])
    points = np.concatenate([frames[:, None], np.array(pts)], axis=1).astype(np.float32)
    return Queries(instance_id, points, np.zeros(n, np.int64), np.array(pix, np.float32))


def check_convention(result, queries, T):
    before = np.arange(T)[:, None] < queries.frame[None, :]
    assert result.tracks.shape == (T, len(queries), 3) and result.tracks.dtype == np.float32
    assert result.visible.shape == (T, len(queries)) and result.visible.dtype == bool
    assert np.isnan(result.tracks[before]).all() and not result.visible[before].any()
    np.testing.assert_allclose(result.tracks[queries.frame, np.arange(len(queries))],
                               queries.points[:, 1:], atol=1e-6)


def expected_translation(queries, T, velocity):
    dt = np.arange(T)[:, None] - queries.frame[None, :]
    out = queries.points[None, :, 1:] + dt[..., None] * np.asarray(velocity)
    out[dt < 0] = np.nan
    return out


def rotation(axis_angle):
    theta = np.linalg.norm(axis_angle)
    if theta < 1e-12:
        return np.eye(3)
    k = np.asarray(axis_angle) / theta
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * Kx + (1 - np.cos(theta)) * Kx @ Kx


# ---------------------------------------------------------------------------- checkpoints
OMEGA = np.array([0.0, 0.0, 0.05])  # rad / frame about z
VELOCITY = np.array([0.01, -0.02, 0.005])  # m / frame
CENTRE = np.array([0.5, -0.4, 1.0])
SHIFT = np.array([1.5, -0.75])  # px / frame (CoTracker stand-in)


def write_checkpoints(d: Path) -> dict[str, Path]:
    """The stand-ins' checkpoints, written into the folder `d`: name -> path. The motion they
    hold (OMEGA, VELOCITY, CENTRE, SHIFT) is what the stand-ins produce."""
    mv = d / "mvtracker_200000_june2025.pth"
    torch.save({"model": {"omega": torch.tensor(OMEGA), "velocity": torch.tensor(VELOCITY),
                          "centre": torch.tensor(CENTRE)}, "total_steps": 200000}, mv)
    mv_static = d / "mvtracker_static.pth"
    torch.save({"omega": torch.zeros(3), "velocity": torch.zeros(3), "centre": torch.zeros(3)},
               mv_static)
    co = d / "scaled_offline.pth"
    torch.save({"shift": torch.tensor(SHIFT)}, co)
    wrong = d / "wrong.pth"
    torch.save({"something_else": torch.zeros(2)}, wrong)
    spa = d / "SpatialTrackerV2-Offline"
    spa.mkdir()
    (spa / "config.json").write_text(json.dumps({"spatrack": {"track_num": 64},
                                                 "Track_cfg": {"s_wind": 200, "overlap": 8}}))
    torch.save({"spatrack.velocity": torch.tensor(VELOCITY)}, spa / "model.pt")
    return {"mvtracker": mv, "mvtracker_static": mv_static, "cotracker": co, "wrong": wrong,
            "spatracker": spa}


def mvtracker(checkpoints, **kw):
    cfg = dict(hub_repo=str(HUB_MVTRACKER), checkpoint=str(checkpoints["mvtracker"]), device="cpu",
               input_size=None)
    cfg.update(kw)
    return MVTrackerTracker(**cfg)


def cotracker(checkpoints, online=False, **kw):
    config = CoTrackerOnlineConfig() if online else None
    cfg = dict(hub_repo=str(HUB_COTRACKER), checkpoint=str(checkpoints["cotracker"]), device="cpu")
    cfg.update(kw)
    return CoTrackerTracker(config, **cfg)


def spatracker(checkpoints, **kw):
    """The adapter on the stand-in clone, which calls `.cuda()` on its outputs like upstream:
    on this CPU it runs only through the adapter's redirect of those calls. The stand-in needs
    no utils3d (utils3d=null: the installed one, none)."""
    cfg = dict(hub_repo=str(SPATRACKER_CLONE), checkpoint=str(checkpoints["spatracker"]),
               device="cpu", precision="fp32", utils3d=None)
    cfg.update(kw)
    return SpatialTrackerV2Tracker(**cfg)


def expected_mvtracker(queries, T):
    out = np.full((T, len(queries), 3), np.nan)
    for n, (t0, *p) in enumerate(queries.points.astype(np.float64)):
        for t in range(int(t0), T):
            dt = t - int(t0)
            out[t, n] = rotation(OMEGA * dt) @ (np.array(p) - CENTRE) + CENTRE + VELOCITY * dt
    return out
