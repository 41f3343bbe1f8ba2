"""Query points per instance: which mask pixels to track, lifted to 3D at their own frame.

Every query keeps the frame it was lifted from (no stamping of later frames as t=0), its source
view and pixel. Candidates are mask pixels at depth resolution that survive erosion, a valid depth
in range, and a depth-edge test (border pixels straddle the object and the background).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from permask.config import QueryConfig
from permask.data import Queries, Scene
from permask.errors import QueryError
from permask.geometry import in_image, project, unproject
from permask.inputs.masks import mask_at_depth_resolution

log = logging.getLogger(__name__)

# why a run skips an instance whose filters leave nothing (the report and `permask inspect`)
NO_QUERY_POINTS = "no query point survived (mask, depth, erosion)"
MAX_CANDIDATES = 20000  # pre-subsample before farthest-point sampling, keeps it O(N * budget) small


def build_queries(scene: Scene, instance_id: str, cfg: QueryConfig) -> Queries:
    """Query points of one instance.

    Args:
      scene: the recording.
      instance_id: whose masks the queries come from.
      cfg: the `query` settings (mode: first_frame, contact_window, npz, gt; max_points, ...).

    Returns:
      Queries: points [N,4] (frame, x, y, z in world metres), each query's view [N] and pixel
      [N,2]; at most `cfg.max_points` of them.
    """
    if cfg.mode == "npz":
        return queries_from_file(scene, instance_id)
    if cfg.mode == "gt":
        return queries_from_ground_truth(scene, instance_id)
    frames_per_view = query_frames(scene, instance_id, cfg)
    candidates = [lift_mask_pixels(scene, instance_id, v, t, cfg)
                  for v, frames in enumerate(frames_per_view) for t in frames]
    points = np.concatenate([c[0] for c in candidates]) if candidates else np.zeros((0, 4))
    views = np.concatenate([c[1] for c in candidates]) if candidates else np.zeros(0, np.int64)
    pixels = np.concatenate([c[2] for c in candidates]) if candidates else np.zeros((0, 2))
    keep = deduplicate(points, cfg.dedup_radius)
    points, views, pixels = points[keep], views[keep], pixels[keep]
    rng = np.random.default_rng(cfg.seed)
    keep = sample(points[:, 1:], cfg.max_points, cfg.sampling, rng)
    keep = keep[np.lexsort((views[keep], points[keep, 0]))]  # by frame, then view: stable order
    return Queries(instance_id, points[keep].astype(np.float32), views[keep].astype(np.int64),
                   pixels[keep].astype(np.float32))


def query_frames(scene: Scene, instance_id: str, cfg: QueryConfig) -> list[list[int]]:
    """Per view, the frames to lift mask pixels from."""
    if cfg.mode == "first_frame":
        return [[0] for _ in range(scene.num_views)]
    if cfg.mode == "contact_window":
        contacts = scene.contact_frames.get(instance_id, {})
        frames = []
        for cam in scene.camera_ids:
            c = int(contacts.get(cam, 0))
            lo, hi = max(0, c - cfg.frames_before), min(scene.num_frames - 1, c + cfg.frames_after)
            frames.append(list(range(lo, hi + 1)))
        return frames
    raise QueryError(f"unknown query mode '{cfg.mode}'", key="query.mode",
                     fix="use first_frame, contact_window, npz or gt")


def lift_mask_pixels(scene: Scene, instance_id: str, view: int, frame: int, cfg: QueryConfig
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate queries of one view and frame: ([M,4] t,x,y,z, [M] view, [M,2] pixel)."""
    H, W = scene.image_size
    mask = mask_at_depth_resolution(scene.masks[instance_id][view, frame], H, W)
    if cfg.erode_px > 0:
        kernel = np.ones((2 * cfg.erode_px + 1,) * 2, np.uint8)
        mask = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                         borderValue=0).astype(bool)
    depth = scene.depths[view, frame]
    valid = mask & (depth >= cfg.depth_min) & (depth <= cfg.depth_max) & ~depth_edges(depth, cfg)
    v, u = np.nonzero(valid)
    pixels = np.stack([u, v], axis=-1).astype(np.float64)
    xyz = unproject(pixels, depth[v, u], scene.intrs[view, frame], scene.extrs[view, frame])
    points = np.concatenate([np.full((len(u), 1), frame, np.float64), xyz], axis=1)
    return points, np.full(len(u), view, np.int64), pixels


def depth_edges(depth: np.ndarray, cfg: QueryConfig) -> np.ndarray:
    """[H,W] bool: pixels whose valid 3x3 neighbours span a depth jump (> edge_threshold * z).

    Holes (0) are ignored rather than counted as jumps, so sparse sensor depth keeps its
    measured pixels; a hole itself is never a candidate anyway.
    """
    kernel = np.ones((3, 3), np.uint8)
    d = depth.astype(np.float32)
    valid = d > 0
    local_max = cv2.dilate(np.where(valid, d, np.float32(0)), kernel)
    local_min = cv2.erode(np.where(valid, d, np.float32(np.inf)), kernel)
    with np.errstate(invalid="ignore"):
        return (local_max - local_min) > cfg.edge_threshold * np.maximum(d, 1e-6)


def deduplicate(points: np.ndarray, radius: float) -> np.ndarray:
    """Indices of points kept after merging points of the same frame closer than ~radius (voxel
    hashing on (t, x, y, z)); the first point of each voxel wins."""
    if len(points) == 0 or radius <= 0:
        return np.arange(len(points))
    cells = np.concatenate([points[:, :1], np.floor(points[:, 1:] / radius)], axis=1)
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(first)


def sample(xyz: np.ndarray, budget: int, method: str, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most `budget` points of xyz [M,3], by uniform / grid / farthest sampling."""
    M = len(xyz)
    if M <= budget:
        return np.arange(M)
    if method == "uniform":
        return np.sort(rng.choice(M, budget, replace=False))
    pool = np.sort(rng.choice(M, MAX_CANDIDATES, replace=False)) if M > MAX_CANDIDATES else np.arange(M)
    if method == "farthest":
        return pool[farthest_point_sampling(xyz[pool], budget, rng)]
    if method == "grid":
        return pool[grid_sampling(xyz[pool], budget, rng)]
    raise QueryError(f"unknown sampling '{method}'", key="query.sampling",
                     fix="use uniform, grid or farthest")


def farthest_point_sampling(xyz: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy farthest-point sampling, seeded start: [budget] indices into xyz [M,3]."""
    chosen = np.empty(budget, np.int64)
    chosen[0] = rng.integers(len(xyz))
    dist = np.linalg.norm(xyz - xyz[chosen[0]], axis=1)
    for i in range(1, budget):
        chosen[i] = int(np.argmax(dist))
        dist = np.minimum(dist, np.linalg.norm(xyz - xyz[chosen[i]], axis=1))
    return np.sort(chosen)


def grid_sampling(xyz: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """One point per cell of a 3D grid whose cell size is chosen (bisection) to give >= budget
    occupied cells; then a seeded uniform pick down to the budget."""
    extent = float(np.ptp(xyz, axis=0).max()) or 1.0
    lo, hi = extent / 1e4, extent
    for _ in range(30):
        size = (lo * hi) ** 0.5
        n_cells = len(np.unique(np.floor(xyz / size), axis=0))
        lo, hi = (size, hi) if n_cells >= budget else (lo, size)
    _, first = np.unique(np.floor(xyz / lo), axis=0, return_index=True)
    return np.sort(rng.choice(first, budget, replace=False)) if len(first) > budget else np.sort(first)


def queries_from_file(scene: Scene, instance_id: str) -> Queries:
    """The file's own `query_points` for this instance.

    A dict `query_points/<instance_id>` gives each instance its own; a single global array belongs
    wholly to the only instance, or, with several, each point goes to the instance whose mask
    holds it at its frame in a view that sees it.
    """
    qp = scene.query_points
    if qp is None:
        raise QueryError("query=npz but the file has no query_points", file=scene.source,
                         key="query_points", fix="add query_points [N,4] or use query=first_frame")
    if isinstance(qp, dict):
        points = np.asarray(qp.get(instance_id, np.zeros((0, 4))), np.float64)
    elif len(scene.instance_ids) == 1:
        points = np.asarray(qp, np.float64)
    else:
        owner = assign_points_to_instances(scene, np.asarray(qp, np.float64))
        points = np.asarray(qp, np.float64)[owner == instance_id]
    views, pixels = source_view_and_pixel(scene, points)
    return Queries(instance_id, points.astype(np.float32), views, pixels.astype(np.float32))


def queries_from_ground_truth(scene: Scene, instance_id: str) -> Queries:
    """Exactly the benchmark queries of the instance's ground-truth point tracks
    (`gt_query_points` of the tracks whose `gt_track_instance` is the instance), in file order:
    no budget, sampling or de-duplication, so each is scored against its own true track."""
    truth = scene.ground_truth.point_tracks if scene.ground_truth is not None else None
    if truth is None:
        raise QueryError("query=gt but the file has no ground-truth point tracks",
                         file=scene.source, key="gt_tracks",
                         fix="add gt_tracks, gt_visibility, gt_track_instance and gt_query_points, "
                             "or use query=first_frame")
    points = truth.query_points[truth.of_instance(instance_id)]
    views, pixels = source_view_and_pixel(scene, points)
    return Queries(instance_id, points.astype(np.float32), views, pixels.astype(np.float32))


def source_view_and_pixel(scene: Scene, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points [N,4], the first view where each is in the image at its frame, and its pixel."""
    N = len(points)
    views = np.full(N, -1, np.int64)
    pixels = np.full((N, 2), np.nan)
    H, W = scene.image_size
    frames = points[:, 0].astype(np.int64)
    for v in range(scene.num_views):
        for t in np.unique(frames):
            sel = np.nonzero((frames == t) & (views < 0))[0]
            uv, z = project(points[sel, 1:], scene.intrs[v, t], scene.extrs[v, t])
            ok = in_image(uv, H, W) & (z > 0)
            views[sel[ok]] = v
            pixels[sel[ok]] = uv[ok]
    return views, pixels


def assign_points_to_instances(scene: Scene, points: np.ndarray) -> np.ndarray:
    """[N] instance id (object array, "" if none) whose mask holds each point at its frame."""
    owner = np.full(len(points), "", dtype=object)
    frames = points[:, 0].astype(np.int64)
    for instance_id in scene.instance_ids:
        masks = scene.masks[instance_id]
        Hm, Wm = masks.shape[-2:]
        H, W = scene.image_size
        for v in range(scene.num_views):
            for t in np.unique(frames):
                sel = np.nonzero((frames == t) & (owner == ""))[0]
                uv, _ = project(points[sel, 1:], scene.intrs[v, t], scene.extrs[v, t])
                ok = in_image(uv, H, W)
                uv_m = np.rint((uv[ok] + 0.5) * [Wm / W, Hm / H] - 0.5).astype(np.int64)
                uv_m = np.clip(uv_m, 0, [Wm - 1, Hm - 1])
                inside = masks[v, t][uv_m[:, 1], uv_m[:, 0]]
                owner[sel[ok][inside]] = instance_id
    return owner
