"""`lk` per mask against `lk` joint (`tracking=joint`: every instance's queries in one call on the
union of the masks, one rigid model for the call) on the default demo and the hard cases, on the
same queries (first frame, 300 points per instance), per instance; also with
`rigid_prior=false`, which separates what the shared rigid model costs from what the union mask
costs.

    python benchmarks/joint_vs_per_mask.py [--cases demo,balls,arm] [--seed 0] [--out DIR]

AJ (3D, 1-20 cm, `permask.metrics.gt_metrics`) against the case's truth (`HardCase.truth`; the
demo's object poses). Writes joint_vs_per_mask.json and .md into --out (benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from common import ROOT
from permask.config import QueryConfig
from permask.demo.cache import demo_scene_path
from permask.demo.hard import HARD_CASES, hard_case_path, make_hard_case
from permask.demo.params import DemoParams
from permask.inputs.load import load_scene
from permask.metrics import gt_metrics, overall, true_tracks, true_visibility
from permask.queries import build_queries
from permask.trackers.joint import track_jointly
from permask.trackers.lk import LKTracker

COLUMNS = ("per mask", "joint", "per mask, no rigid prior", "joint, no rigid prior")


def evaluate(name: str, seed: int) -> dict:
    """{column: {"instances": {iid: figures}, "overall": figures}} for one scene."""
    if name == "demo":
        scene, case = load_scene(demo_scene_path(DemoParams())), None
    else:
        case = make_hard_case(name, seed)
        scene = load_scene(hard_case_path(case))
    queries = {iid: q for iid in scene.instance_ids
               if len(q := build_queries(scene, iid, QueryConfig(max_points=300)))}
    trackers = {"": LKTracker(), ", no rigid prior": LKTracker(rigid_prior=False)}
    results = {}
    for suffix, tracker in trackers.items():
        results["per mask" + suffix] = {iid: tracker.track(scene, q) for iid, q in queries.items()}
        results["joint" + suffix] = track_jointly(tracker, scene, queries)
    out = {column: {"instances": {}} for column in COLUMNS}
    for iid, q in queries.items():
        if case is None:
            truth = true_tracks(scene.ground_truth, q, scene.num_frames)
        else:
            truth = case.truth(iid, q.points.astype(np.float64))
        visible = true_visibility(scene, iid, truth)
        for column in COLUMNS:
            r = results[column][iid]
            out[column]["instances"][iid] = {
                "points": len(q), **gt_metrics(r.tracks, r.visible, truth, visible, q.frame)}
    for column in COLUMNS:
        out[column]["overall"] = overall(out[column]["instances"])
    return out


def markdown(results: dict, command: str) -> str:
    lines = ["# lk per mask against lk joint: AJ (3D, 1-20 cm) per instance, higher is better", "",
             f"`{command}`", "", "| scene | instance | points | " + " | ".join(COLUMNS) + " |",
             "|---|---|---:|" + "---:|" * len(COLUMNS)]
    for name, per in results.items():
        rows = [(iid, figures["points"]) for iid, figures in per["per mask"]["instances"].items()]
        rows.append(("overall", sum(p for _, p in rows)))
        for iid, points in rows:
            source = (lambda c: per[c]["overall"]) if iid == "overall" else \
                (lambda c: per[c]["instances"][iid])
            values = [100 * source(c).get("AJ", np.nan) for c in COLUMNS]
            lines.append(f"| {name} | {iid} | {points} | "
                         + " | ".join(f"{v:.1f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(["demo", *HARD_CASES]))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    results = {}
    for name in args.cases.split(","):
        results[name] = evaluate(name, args.seed)
        print(f"{name:13s} " + "  ".join(
            f"{c} {100 * results[name][c]['overall'].get('AJ', np.nan):5.1f}" for c in COLUMNS),
            flush=True)
    command = "python benchmarks/joint_vs_per_mask.py" + (
        f" --cases {args.cases}" if args.cases != ",".join(["demo", *HARD_CASES]) else "") + (
        f" --seed {args.seed}" if args.seed else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "joint_vs_per_mask.json").write_text(json.dumps(results, indent=1, default=float))
    (args.out / "joint_vs_per_mask.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
