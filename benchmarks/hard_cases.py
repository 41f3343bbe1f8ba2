"""Tracker quality on the hard demo cases (`permask.demo.hard`: rolling and turning balls, sparse
depth, long occlusions, points leaving and re-entering view, an articulated arm, a deforming
sheet): `lk` (also with `rigid_prior=false`), plain single-view LK, multi-view LK + a per-frame RANSAC rigid fit
(`baselines.py`) and `static`, on the same queries (`query=first_frame`, 300 points per instance).

    python benchmarks/hard_cases.py [--cases balls,arm] [--out benchmarks/results] [--seed 0]
                                    [lk overrides, e.g. rigid_prior=false]

Per case: AJ (3D, thresholds 1, 2, 5, 10, 20 cm, `permask.metrics.gt_metrics`) over the case's
instances (point-weighted), with the true tracks from `HardCase.truth`. Writes hard_cases.json
(every figure per case, instance and tracker) and hard_cases.md (the AJ table) into --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from baselines import PlainLK, RigidFit  # benchmarks/baselines.py
from common import ROOT
from permask.config import QueryConfig
from permask.demo.hard import HARD_CASES, hard_case_path, make_hard_case
from permask.inputs.load import load_scene
from permask.metrics import gt_metrics, overall, true_visibility
from permask.queries import build_queries
from permask.trackers.lk import LKTracker
from permask.trackers.static import StaticTracker

TRACKERS = ("lk", "lk, no rigid prior", "plain LK", "multi-view LK + rigid fit",
            "rigid fit, 5 px LK", "rigid fit, 5 px LK, snapped", "static")


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def evaluate_case(name: str, seed: int, lk_overrides: dict, trackers: dict | None = None) -> dict:
    """{tracker: {"overall": figures, "instances": {iid: figures}, "seconds": s}} for one case,
    with `trackers` (label -> an object with `track`; default the table's seven, `lk` with
    `lk_overrides`)."""
    case = make_hard_case(name, seed)
    scene = load_scene(hard_case_path(case))
    if trackers is None:
        trackers = {"lk": LKTracker(**lk_overrides),
                    "lk, no rigid prior": LKTracker(**{**lk_overrides, "rigid_prior": False}),
                    "plain LK": PlainLK(),
                    "multi-view LK + rigid fit": RigidFit(),
                    "rigid fit, 5 px LK": RigidFit(win=5),
                    "rigid fit, 5 px LK, snapped": RigidFit(win=5, snap=True),
                    "static": StaticTracker()}
    out = {k: {"instances": {}, "seconds": 0.0} for k in trackers}
    for iid in scene.instance_ids:
        queries = build_queries(scene, iid, QueryConfig(max_points=300))
        if len(queries) == 0:
            continue
        truth = case.truth(iid, queries.points.astype(np.float64))
        truth_visible = true_visibility(scene, iid, truth)
        for label, tracker in trackers.items():
            t0 = time.perf_counter()
            result = tracker.track(scene, queries)
            out[label]["seconds"] += time.perf_counter() - t0
            figures = gt_metrics(result.tracks, result.visible, truth, truth_visible, queries.frame)
            out[label]["instances"][iid] = {"points": len(queries), **figures}
    for label in out:
        out[label]["overall"] = overall(out[label]["instances"])
    return out


def markdown(results: dict, command: str) -> str:
    lines = ["# Hard cases: AJ (3D, 1-20 cm) per scene, higher is better", "",
             f"`{command}`", "",
             "| case | " + " | ".join(TRACKERS) + " |", "|---|" + "---:|" * len(TRACKERS)]
    for name, per in results.items():
        values = [100 * per[k]["overall"].get("AJ", np.nan) for k in TRACKERS]
        best = int(np.nanargmax(values))
        cells = [f"**{v:.1f}**" if i == best else f"{v:.1f}" for i, v in enumerate(values)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Per instance (AJ; the non-rigid ones are `arm` instance_0 and `sheet` instance_0):",
              "", "| case | instance | points | " + " | ".join(TRACKERS) + " |",
              "|---|---|---:|" + "---:|" * len(TRACKERS)]
    for name, per in results.items():
        for iid, figures in per["lk"]["instances"].items():
            values = [100 * per[k]["instances"][iid]["AJ"] for k in TRACKERS]
            lines.append(f"| {name} | {iid} | {figures['points']} | "
                         + " | ".join(f"{v:.1f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(HARD_CASES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("overrides", nargs="*", help="LKConfig settings for lk, key=value")
    args = ap.parse_args()
    lk_overrides = {k: parse_value(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    results = {}
    for name in args.cases.split(","):
        results[name] = evaluate_case(name, args.seed, lk_overrides)
        row = "  ".join(f"{k} {100 * results[name][k]['overall'].get('AJ', np.nan):5.1f}"
                        f" ({results[name][k]['seconds']:.1f}s)" for k in TRACKERS)
        print(f"{name:13s} {row}", flush=True)
    command = "python benchmarks/hard_cases.py " + " ".join(
        [f"--cases {args.cases}"] * (args.cases != ",".join(HARD_CASES)) + args.overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hard_cases.json").write_text(json.dumps(results, indent=1, default=float))
    (args.out / "hard_cases.md").write_text(markdown(results, command.strip()))
    print(markdown(results, command.strip()))


if __name__ == "__main__":
    main()
