"""The hard cases as monocular videos without depth, like a labelled real clip: `lk` against plain
single-view LK in 2D.

    python benchmarks/hard_video.py [--cases arm,sheet] [--seed 0] [--view 0]

Per case: one view alone (`--view`), its depth replaced by a 1 m plane (what a video gives the
tracker), 200 queries per instance from the mask at the first frame, lifted with the plane.
Truth: the case's true tracks (`HardCase.truth`) projected into that view, visible where that
view sees them. PCK-T (%): the share of truly visible point-frames after the query frame whose
tracked pixel lies within 0.2 x sqrt(mask area) of the truth (the instance's median mask area
in that view), over the case's instances (point-weighted).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from permask.config import QueryConfig
from permask.demo.hard import HARD_CASES, hard_case_path, make_hard_case
from permask.inputs.load import load_scene
from permask.metrics import evaluation_mask, true_visibility
from permask.queries import build_queries
from permask.trackers.lk import LKTracker
from vs_plain_lk import plain_lk, relift, single_view, to_pixels  # benchmarks/vs_plain_lk.py


def pck_counts(pixels: np.ndarray, truth: np.ndarray, visible: np.ndarray, frames: np.ndarray,
               threshold: float) -> tuple[int, int]:
    """(hits, total) over truly visible point-frames after each query's frame: tracked pixels
    [T,N,2] within `threshold` pixels of the true ones [T,N,2]."""
    counted = visible & evaluation_mask(len(truth), frames)
    error = np.linalg.norm(pixels - truth, axis=-1)
    return int((counted & (error < threshold)).sum()), int(counted.sum())


def evaluate_case(name: str, seed: int, view: int,
                  trackers: dict[str, Callable] | None = None) -> dict[str, float]:
    """{label: PCK-T %, "points": queries} for one case seen by one view. `trackers`: label ->
    a function of (video scene, queries) giving tracked pixels [T,N,2]; default `lk` and plain
    LK."""
    case = make_hard_case(name, seed)
    full = load_scene(hard_case_path(case))
    real, video = single_view(full, view, plane=False), single_view(full, view, plane=True)
    if trackers is None:
        lk = LKTracker()
        trackers = {"lk": lambda scene, q: to_pixels(lk.track(scene, q).tracks, scene),
                    "plain LK": lambda scene, q: plain_lk(scene.gray()[0], q.pixel, q.frame)}
    counts = {label: [0, 0] for label in trackers}
    points = 0
    for iid in full.instance_ids:
        queries = build_queries(real, iid, QueryConfig(max_points=200))
        if len(queries) == 0:
            continue
        truth3 = case.truth(iid, queries.points.astype(np.float64))
        truth = to_pixels(truth3, real)
        visible = true_visibility(real, iid, truth3)
        area = real.masks[iid][0].sum(axis=(1, 2))
        threshold = 0.2 * np.sqrt(np.median(area[area > 0]))
        q = relift(video, queries)  # the same pixels, lifted with the plane the tracker sees
        for label, track in trackers.items():
            hits, total = pck_counts(track(video, q), truth, visible, q.frame, threshold)
            counts[label][0] += hits
            counts[label][1] += total
        points += len(q)
    return {label: 100.0 * h / max(n, 1) for label, (h, n) in counts.items()} | {"points": points}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(HARD_CASES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--view", type=int, default=0)
    args = ap.parse_args()
    rows = {name: evaluate_case(name, args.seed, args.view) for name in args.cases.split(",")}
    print("| case | points | lk | plain LK |\n|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['points']} | {r['lk']:.1f} | {r['plain LK']:.1f} |")
    mean = {k: np.mean([r[k] for r in rows.values()]) for k in ("lk", "plain LK")}
    print(f"| mean | | {mean['lk']:.1f} | {mean['plain LK']:.1f} |")


if __name__ == "__main__":
    main()
