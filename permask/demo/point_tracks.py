"""A hard case written with its ground truth as point tracks, the way benchmarks ship it
(TAPVid-3D's `tracks_XYZ` / `visibility` / `queries_xyt`, per-track instance ids), for the
non-rigid instances too: the `sheet` case's deforming sheet has no object pose, only tracks.

    python -m permask.demo.point_tracks CASE OUT.npz [--points 48] [--seed 0]

Writes the case's NPZ (`HardCase.arrays`) plus `gt_tracks` [N,T,3] world metres,
`gt_visibility` [N,T], `gt_track_instance` [N] and `gt_query_points` [N,4] (t, x, y, z). Per
instance, the benchmark queries are `--points` mask pixels lifted with the rendered depth, half
at frame 0 and half at the middle frame (farthest-point sampled, seeded); each true track comes
from the case's own motion (`HardCase.truth`, NaN before its query frame), and a point is visible
where it lies inside its instance's mask in some view and agrees with that view's depth
(`metrics.true_visibility`). `python run.py input.npz=OUT.npz query=gt` tracks exactly those
queries and scores them in every metric mode.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from permask.config import QueryConfig
from permask.demo.hard import HARD_CASES, make_hard_case
from permask.files.atomic import atomic_write
from permask.inputs.load import scene_from_arrays
from permask.metrics import true_visibility
from permask.queries import deduplicate, lift_mask_pixels, sample


def point_track_arrays(case_name: str, points: int = 48, seed: int = 0) -> dict[str, np.ndarray]:
    """The case's arrays with its ground truth as point tracks (see the module docstring)."""
    case = make_hard_case(case_name, seed=seed)
    arrays = case.arrays()
    readable = {**arrays, "sam2_masks": arrays["sam2_masks"].item()}  # the file pickles a dict
    scene = scene_from_arrays(readable, f"<hard case {case_name}>")
    cfg = QueryConfig()
    rng = np.random.default_rng(seed)
    tracks, visible, owner, queries = [], [], [], []
    for iid in scene.instance_ids:
        for frame, budget in ((0, points - points // 2), (scene.num_frames // 2, points // 2)):
            lifted = np.concatenate([lift_mask_pixels(scene, iid, v, frame, cfg)[0]
                                     for v in range(scene.num_views)])
            lifted = lifted[deduplicate(lifted, cfg.dedup_radius)]
            chosen = lifted[sample(lifted[:, 1:], budget, "farthest", rng)]
            truth = case.truth(iid, chosen)  # [T,M,3]
            tracks.append(truth.transpose(1, 0, 2))
            visible.append(true_visibility(scene, iid, truth).T)
            owner += [iid] * len(chosen)
            queries.append(chosen)
    arrays.update(gt_tracks=np.concatenate(tracks).astype(np.float64),
                  gt_visibility=np.concatenate(visible),
                  gt_track_instance=np.array(owner, dtype=str),
                  gt_query_points=np.concatenate(queries).astype(np.float64))
    return arrays


def write(case_name: str, path: str | Path, points: int = 48, seed: int = 0) -> Path:
    """`point_track_arrays` saved (atomically, compressed) at `path`."""
    path = Path(path)
    arrays = point_track_arrays(case_name, points, seed)
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m permask.demo.point_tracks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(HARD_CASES))
    parser.add_argument("out", help="the NPZ to write")
    parser.add_argument("--points", type=int, default=48, help="benchmark queries per instance")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.points < 2:
        parser.error("--points must be at least 2")
    path = write(args.case, args.out, args.points, args.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
