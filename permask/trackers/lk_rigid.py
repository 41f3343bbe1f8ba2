"""`lk`'s rigid model of an instance: which points drifted off the instance's motion and where
a rigid instance's points are (`rigid_drift`), which points the fitted motion turned out of every
view's sight (`hidden`), which points some view sees at their very pixel (`in_sight`) and how far
measurements lie inside the silhouette (`edge_distance`).

`cameras` and `state` are `lk`'s per-call objects (`lk_state.Cameras`: intrs [V,T,3,3],
extrs [V,T,3,4]; `lk_state.ViewTracks`: pos [V,N,2], rigid_local [N,3], rigid_pose,
rigid_inliers [N], interior [N] or None, ...).
"""

from __future__ import annotations

import cv2
import numpy as np

from permask.data import Scene
from permask.geometry import in_image, project_each
from permask.trackers.lifting import depth_at, lookup_mask
from permask.trackers.rigid import fit_rigid_ransac


def rigid_drift(config, scene: Scene, cameras, t: int, state, fused: np.ndarray,
                measured: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`lk`'s long-range rigid check at frame t, with its settings `config` (`LKConfig`), the
    call's cameras and state, the fused positions [N,3] (metres) and which points are measured
    [N] bool. Slow drift that frame-to-frame checks cannot see (a point sliding round a turning
    object's silhouette): fit the instance's rigid motion from its points' positions in one
    common frame to the current fused positions by RANSAC (the dominant motion even when many
    points slid), from the points measured away from the silhouette where there are enough
    (last frame's inliers tried first); the share of points within `rigid_drift_tolerance` of
    it (of all, or of those the motion does not turn out of every view's sight: those are
    expected off) tells whether the instance moves rigidly.

    Hysteresis: a fresh common frame (the first, or one restarted from the current positions
    when the test failed) must show `rigid_enter_share` for `rigid_probation` frames before the
    model is used; from then on `rigid_min_inliers` keeps it. A deforming object (sheet, arm,
    animal) fails within a few frames of every restart; a rigid one whose points drifted comes
    back. While the model is used, the points further off are drifted: returns (drifted [N]
    bool, rigid positions [N,3]); else (none, None)."""
    none = np.zeros(len(fused), bool), None
    usable = measured & ~np.isnan(state.rigid_local[:, 0])
    if state.interior is not None and (usable & state.interior).sum() >= 2 * config.min_rigid_points:
        usable &= state.interior  # LK windows on the silhouette lag a turning texture
    guess = None if state.rigid_pose is None else state.rigid_inliers[usable]
    fit = fit_rigid_ransac(state.rigid_local[usable], fused[usable],
                           config.rigid_drift_tolerance, config.min_rigid_points, guess)
    share = 0.0
    if fit is not None:
        pose, inliers = fit
        state.rigid_inliers[:] = False
        state.rigid_inliers[np.flatnonzero(usable)[inliers]] = True
        share = inliers.mean()
        if share < config.rigid_min_inliers:  # count only the points left in sight
            positions = state.rigid_local @ pose[:3, :3].T + pose[:3, 3]
            counted = ~hidden(config, scene, cameras, t, positions[usable])
            share = inliers[counted].sum() / max(counted.sum(), 1)
    if share < (config.rigid_min_inliers if state.rigid_active else config.rigid_enter_share):
        state.rigid_pose = None  # no drift check, no carry, until the model holds again
        state.rigid_active, state.rigid_streak, state.restart_rigid = False, 0, True
        return none
    state.rigid_streak += 1
    state.rigid_pose = pose
    if not state.rigid_active and state.rigid_streak < config.rigid_probation:
        return none
    state.rigid_active = True
    positions = state.rigid_local @ pose[:3, :3].T + pose[:3, 3]
    drifted = usable & (np.linalg.norm(fused - positions, axis=1) > config.rigid_drift_tolerance)
    return drifted, positions


def _depths_seen(scene: Scene, cameras, t: int, points: np.ndarray):
    """Points [N,3] (metres; NaN: unknown) seen from every view at frame t, view-major [V*N]:
    (view, pixel uv [V*N,2], camera z, in the image and in front of the camera, the depth
    measured at that very pixel: NaN where none or outside)."""
    V, N = scene.num_views, len(points)
    view = np.repeat(np.arange(V), N)
    uv, z = project_each(np.tile(np.nan_to_num(points), (V, 1)), cameras.intrs[view, t],
                         cameras.extrs[view, t])
    H, W = scene.image_size
    inside = in_image(uv, H, W) & (z > 0) & np.tile(~np.isnan(points[:, 0]), V)
    pixel = np.rint(np.where(inside[:, None], uv, 0)).astype(np.int64)
    d = depth_at(scene.depths[:, t], view, pixel[:, 0], pixel[:, 1])
    return view, uv, z, inside, np.where(inside, d, np.nan)


def hidden(config, scene: Scene, cameras, t: int, points: np.ndarray) -> np.ndarray:
    """[M] bool: points [M,3] no view can see at frame t: each view has them outside its
    image, behind it, or measured depth at their pixel closer than them by more than
    `visibility_tolerance` (0: the tracking's depth tolerance): hidden behind a surface, the
    far side of a turning object."""
    _, _, z, inside, d = _depths_seen(scene, cameras, t, points)
    tol = (config.visibility_tolerance if config.visibility_tolerance > 0 else
           config.depth_tolerance + config.depth_tolerance_rel * np.abs(z))
    with np.errstate(invalid="ignore"):
        behind = (d > 0) & (d < z - tol)
    return (~inside | behind).reshape(scene.num_views, len(points)).all(axis=0)


def in_sight(scene: Scene, cameras, t: int, points: np.ndarray, masks: np.ndarray | None,
             tolerance: float) -> np.ndarray:
    """[N] bool: some view sees points [N,3] (metres; NaN: no) at frame t: inside its image, in
    front of it, inside the instance's mask there (masks [V,T,H,W], None: no test) and not
    behind the surface it measured at that very pixel (depth there within `tolerance` metres
    of the point's; a depth hole does not hide). Tighter than the tracking's robust read, which
    accepts the nearest agreeing depth of a window: that is for holes, not for occlusion."""
    view, uv, z, ok, d = _depths_seen(scene, cameras, t, points)
    if masks is not None:
        ok = lookup_mask(masks[:, t], uv, view, ok)
    with np.errstate(invalid="ignore"):
        ok &= np.isnan(d) | (np.abs(d - z) < tolerance)
    return ok.reshape(scene.num_views, len(points)).any(axis=0)


def edge_distance(masks: np.ndarray, uv: np.ndarray, view: np.ndarray, reach: list[float]
                  ) -> np.ndarray:
    """[M] pixels from uv [M,2] of its view [M] to the nearest pixel outside that view's mask
    (masks [V,H,W] bool), exact up to the view's `reach` (pixels; beyond it, at least that)."""
    out = np.zeros(len(uv))
    pixel = np.rint(uv).astype(np.int64)
    H, W = masks.shape[1:]
    for v in np.unique(view):
        mine = np.flatnonzero(view == v)
        radius = int(round(reach[v]))
        # the distance transform of a crop around the points, reaching past them by more than
        # the radius: every mask edge within the radius of a point lies inside it
        x0, y0 = np.maximum(pixel[mine].min(0) - radius - 2, 0)
        x1, y1 = np.minimum(pixel[mine].max(0) + radius + 3, [W, H])
        inside = cv2.distanceTransform(np.ascontiguousarray(masks[v, y0:y1, x0:x1]).view(np.uint8),
                                       cv2.DIST_L2, 3)
        out[mine] = inside[pixel[mine, 1] - y0, pixel[mine, 0] - x0]
    return out
