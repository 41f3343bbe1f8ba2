"""Everything `lk` is judged on, in one table: real footage with hand-labelled joints, the hard
cases (multi-view RGB-D), the hard cases as monocular videos, and the demo; `lk` against plain
pyramidal LK and the multi-view LK + rigid-fit baseline, with the time per point, frame and view.

    python benchmarks/lk_suite.py [--seeds 0,1] [--ablation] [--out benchmarks/results] [lk overrides]

Columns (higher is better except time):
- camel, cows, real: BADJA's PCK-T (%) on the labelled clips in ../shared/data/badja as
  published (`real_clips.py`; what `python run.py input.npz=... query=npz` tracks), and their mean;
- real variants: the mean PCK-T over the clips' 7 harder versions each (half resolution, every
  second frame, both, and the four of them backwards; `real_clips.VARIANTS`);
- hard cases: AJ (3D, 1-20 cm) over every hard case and seed, point-weighted per case; balls:
  the same over the four ball scenes (`balls`, `balls_sparse`, `balls_4views`, `balls_2views`);
- hard videos: PCK-T (%) of the hard cases seen by view 0 alone with a 1 m plane for depth
  (`hard_video.py`), over cases and seeds;
- demo: AJ (3D) on the built-in demo scene;
- us/pfv: microseconds of `track` per query point, frame after its query frame and view, over
  every call above.

`--ablation` runs `lk` once per mechanism with that mechanism off (`ABLATIONS`) instead of the
baselines, and writes `lk_ablation.{md,json}` instead of `lk_suite.{md,json}`. A mechanism earns
its place when turning it off loses on the real clips or on the synthetic cases (both kinds
count; a setting that helps one kind only is named in the README).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import real_clips
from baselines import PlainLK, RigidFit  # benchmarks/baselines.py
from common import ROOT, demo_scene
import hard_cases
import hard_video
from hard_cases import parse_value
from permask.config import QueryConfig
from permask.demo.hard import HARD_CASES
from permask.metrics import gt_metrics, true_tracks, true_visibility
from permask.queries import build_queries
from permask.trackers.lk import LKTracker
from vs_plain_lk import to_pixels

BALLS = ("balls", "balls_sparse", "balls_4views", "balls_2views")
COLUMNS = ("camel", "cows", "real", "real variants", "hard cases", "balls", "hard videos", "demo",
           "us/pfv")
# mechanism -> the lk settings that turn it off
ABLATIONS = {
    "instance masks (gate, masked video)": {"use_masks": False},
    "adaptive window (15 px always)": {"win_min": 15},
    "tight forward-backward check (1 px)": {"fb_threshold": 1.0},
    "predicted start (constant velocity)": {"predict_motion": False},
    "rigid prior (frame-to-frame fit carries lost points)": {"rigid_prior": False},
    "local carry (neighbours' residual motion)": {"carry_neighbours": 0},
    "lost points pulled into the mask (videos)": {"pull_into_mask": False},
    "adaptive outlier floor": {"rigid_outlier_floor": 0.0},
    "rigid snap (measured points sit on the rigid motion)": {"rigid_snap": False},
    "interior points for the rigid fit": {"rigid_interior_fraction": 0.0},
    "rigid hysteresis (enter 0.9 for 2 frames)": {"rigid_probation": 0, "rigid_enter_share": 0.7},
    "visibility at the exact pixel": {"visibility_tolerance": 0.0},
}


class Clock:
    """Seconds of `track` and the point-frame-views they covered."""

    def __init__(self):
        self.seconds, self.units = 0.0, 0

    def track(self, tracker, scene, queries):
        t0 = time.perf_counter()
        result = tracker.track(scene, queries)
        self.seconds += time.perf_counter() - t0
        self.units += int((scene.num_frames - 1 - queries.frame).sum()) * scene.num_views
        return result

    @property
    def us_per_unit(self) -> float:
        return 1e6 * self.seconds / max(self.units, 1)


def real_scores(tracker, clock: Clock) -> dict[str, float]:
    """PCK-T (%) per published clip, their mean, and the mean over the harder variants."""
    out, harder = {}, []
    for name in real_clips.clip_names():
        for setting in real_clips.VARIANTS:
            clip = real_clips.variant(name, *setting)
            pixels = to_pixels(clock.track(tracker, clip.scene, clip.queries).tracks, clip.scene)
            correct, counted = real_clips.pck_t(clip, pixels)
            score = 100.0 * correct / max(counted, 1)
            if setting == real_clips.PUBLISHED:
                out[name] = score
            else:
                harder.append(score)
    out["real"] = float(np.mean([out[n] for n in real_clips.clip_names()]))
    out["real variants"] = float(np.mean(harder))
    return out


def hard_scores(tracker, seeds: list[int], clock: Clock) -> dict[str, float]:
    """AJ (%) over every hard case and seed (`hard_cases.evaluate_case`), and over the ball
    scenes."""
    timed = SimpleNamespace(track=lambda scene, queries: clock.track(tracker, scene, queries))
    per_case = {(name, seed): 100.0 * hard_cases.evaluate_case(
                    name, seed, {}, {"it": timed})["it"]["overall"]["AJ"]
                for seed in seeds for name in HARD_CASES}
    return {"hard cases": float(np.mean(list(per_case.values()))),
            "balls": float(np.mean([v for (n, _), v in per_case.items() if n in BALLS]))}


def video_scores(tracker, seeds: list[int], clock: Clock, view: int = 0) -> dict[str, float]:
    """PCK-T (%) of the hard cases as one view's video on a 1 m plane
    (`hard_video.evaluate_case`), over cases and seeds."""
    def track(video, queries):
        return to_pixels(clock.track(tracker, video, queries).tracks, video)

    scores = [hard_video.evaluate_case(name, seed, view, {"it": track})["it"]
              for seed in seeds for name in HARD_CASES]
    return {"hard videos": float(np.mean(scores))}


def demo_scores(tracker, clock: Clock) -> dict[str, float]:
    """AJ (%) on the demo scene, point-weighted over its instances."""
    scene = demo_scene()
    aj, points = [], []
    for iid in scene.instance_ids:
        queries = build_queries(scene, iid, QueryConfig())
        truth = true_tracks(scene.ground_truth, queries, scene.num_frames)
        result = clock.track(tracker, scene, queries)
        figures = gt_metrics(result.tracks, result.visible, truth,
                             true_visibility(scene, iid, truth), queries.frame)
        aj.append(figures["AJ"])
        points.append(len(queries))
    return {"demo": 100.0 * float(np.average(aj, weights=points))}


def evaluate(tracker, seeds: list[int]) -> dict[str, float]:
    clock = Clock()
    row = {**real_scores(tracker, clock), **hard_scores(tracker, seeds, clock),
           **video_scores(tracker, seeds, clock), **demo_scores(tracker, clock)}
    return row | {"us/pfv": clock.us_per_unit}


def markdown(title: str, rows: dict[str, dict[str, float]], command: str, note: str) -> str:
    lines = [f"# {title}", "", f"`{command}`", "", note, "",
             "| | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for label, row in rows.items():
        lines.append(f"| {label} | " + " | ".join(f"{row[c]:.1f}" for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("overrides", nargs="*", help="LKConfig settings for lk, key=value")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    base = {k: parse_value(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    if args.ablation:
        trackers = {"lk": lambda: LKTracker(**base)} | {
            f"without {name}": (lambda off=off: LKTracker(**{**base, **off}))
            for name, off in ABLATIONS.items()}
    else:
        trackers = {"lk": lambda: LKTracker(**base), "plain LK": PlainLK,
                    "multi-view LK + rigid fit": RigidFit}
    rows = {}
    for label, make in trackers.items():
        rows[label] = evaluate(make(), seeds)
        print(f"{label:55s} " + "  ".join(f"{c} {rows[label][c]:.1f}" for c in COLUMNS), flush=True)
    name = "lk_ablation" if args.ablation else "lk_suite"
    command = " ".join(["python benchmarks/lk_suite.py", f"--seeds {args.seeds}",
                        *(["--ablation"] if args.ablation else []), *args.overrides])
    note = ("Each row turns one `lk` mechanism off (the settings in `lk_suite.ABLATIONS`); "
            "compare with the first row." if args.ablation else
            "PCK-T and AJ in %, higher is better; us/pfv: microseconds per point, frame and view.")
    title = "`lk` ablation: each mechanism off" if args.ablation else "`lk` on real and synthetic footage"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    (args.out / f"{name}.md").write_text(markdown(title, rows, command, note))
    print(markdown(title, rows, command, note))


if __name__ == "__main__":
    main()
