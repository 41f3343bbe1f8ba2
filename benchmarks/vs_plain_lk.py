"""permask's `lk` against a plain single-view pyramidal Lucas-Kanade on the same query points,
in 2D, on monocular videos made from the demo scene (each camera alone), like real single-view
video: with the scene's depth, or with a constant 1 m plane standing in for missing depth.

    python benchmarks/vs_plain_lk.py [--frames 40] [--depth real|plane]

Prints pixel metrics per instance and view (thresholds 1, 2, 4, 8, 16 px, TAP-Vid style):
delta_avg, AJ, OA and the median pixel error over ground-truth-visible frames.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from common import demo_scene  # benchmarks/common.py
from permask.config import QueryConfig
from permask.data import Queries, Scene
from permask.geometry import project, unproject
from permask.metrics import gt_metrics, true_tracks, true_visibility
from permask.queries import build_queries
from permask.trackers.lk import LKTracker

PX = (1, 2, 4, 8, 16)


def plain_lk(gray: np.ndarray, pixels: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Chained cv2.calcOpticalFlowPyrLK from each query's pixel and frame; [T,N,2], all visible."""
    T, N = gray.shape[0], len(pixels)
    out = np.full((T, N, 2), np.nan, np.float32)
    out[frames, np.arange(N)] = pixels
    for t in range(int(frames.min()) + 1, T):
        live = frames < t
        p, _, _ = cv2.calcOpticalFlowPyrLK(gray[t - 1], gray[t], out[t - 1, live], None,
                                           winSize=(15, 15), maxLevel=3)
        out[t, live] = p
    return out


def to_pixels(tracks: np.ndarray, scene: Scene) -> np.ndarray:
    T, N, _ = tracks.shape
    out = np.full((T, N, 2), np.nan)
    for t in range(T):
        out[t], _ = project(np.nan_to_num(tracks[t]), scene.intrs[0, t], scene.extrs[0, t])
    out[np.isnan(tracks[..., 0])] = np.nan
    return out


def single_view(scene: Scene, v: int, plane: bool) -> Scene:
    depths = np.ones_like(scene.depths[v:v + 1]) if plane else scene.depths[v:v + 1]
    return Scene(rgbs=scene.rgbs[v:v + 1], depths=depths, intrs=scene.intrs[v:v + 1],
                 extrs=scene.extrs[v:v + 1], camera_ids=[scene.camera_ids[v]],
                 masks={k: m[v:v + 1] for k, m in scene.masks.items()},
                 frame_indices=scene.frame_indices, ground_truth=scene.ground_truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--depth", choices=["real", "plane"], default="plane")
    args = ap.parse_args()
    full = demo_scene(num_frames=args.frames)
    lk = LKTracker()
    rows = []
    for v in range(full.num_views):
        real = single_view(full, v, plane=False)
        scene = single_view(full, v, plane=args.depth == "plane")
        for iid in full.instance_ids:
            q = build_queries(real, iid, QueryConfig(max_points=200))  # lifted with true depth
            if len(q) == 0:
                continue
            gt3 = true_tracks(full.ground_truth, q, full.num_frames)
            gt_vis = true_visibility(real, iid, gt3)
            gt2 = to_pixels(gt3, real)
            q_in = relift(scene, q)  # the same pixels, lifted with the depth the tracker sees
            result = lk.track(scene, q_in)
            ours, res_vis = to_pixels(result.tracks, scene), result.visible
            base = plain_lk(scene.gray()[0], q_in.pixel, q_in.frame)
            m_ours = gt_metrics(ours, res_vis, gt2, gt_vis, q_in.frame, PX, unit="px")
            m_base = gt_metrics(base, np.ones_like(res_vis), gt2, gt_vis, q_in.frame, PX, unit="px")
            rows.append((v, iid, len(q_in), m_base, m_ours))
            print(f"view {v} {iid:11s} n={len(q_in):3d}  plain LK: d_avg={m_base['delta_avg']:.3f} "
                  f"AJ={m_base['AJ']:.3f} med={m_base['median_error_px']:6.2f}px   "
                  f"lk: d_avg={m_ours['delta_avg']:.3f} AJ={m_ours['AJ']:.3f} OA={m_ours['OA']:.3f} "
                  f"med={m_ours['median_error_px']:6.2f}px")
    for key in ("delta_avg", "AJ", "median_error_px"):
        b = np.nanmean([r[3][key] for r in rows])
        o = np.nanmean([r[4][key] for r in rows])
        print(f"mean {key:16s} plain LK {b:.3f}   lk {o:.3f}")


def relift(scene: Scene, q: Queries) -> Queries:
    """The same query pixels and frames, lifted with `scene`'s depth (view 0)."""
    z = scene.depths[0][q.frame, np.rint(q.pixel[:, 1]).astype(int), np.rint(q.pixel[:, 0]).astype(int)]
    xyz = unproject(q.pixel, z, scene.intrs[0, 0], scene.extrs[0, 0])
    points = np.concatenate([q.points[:, :1], xyz], axis=1).astype(np.float32)
    return Queries(q.instance_id, points, np.zeros(len(q), np.int64), q.pixel)


if __name__ == "__main__":
    main()
