"""depth=gt vs depth=gt_filled on the demo scene with sparse depth: query coverage and lk accuracy.

    python benchmarks/depth_fill.py [--densities 0.3,0.5] [--tracker lk] [--variants ...]
                                    [hydra overrides...]

For each depth density, the demo scene is loaded through the pipeline's own `load_input` once per
variant (default: depth=gt; depth=gt_filled; depth=gt_filled with tracker.depth_window=0, since
filled depth no longer needs lk's search window around holes) and, per instance, it prints
- candidates: mask pixels that survive the query filters (valid depth in range, erosion, depth
  edges) in the query frames, i.e. how many pixels queries can be drawn from;
- queries: the points actually sampled (capped by query.max_points);
- the tracker's accuracy against ground truth (AJ, delta_avg, OA, median error, survival);
plus the fill itself: share of holes filled and its error against the dense render (same seed).
Overrides after the options are Hydra overrides applied to every run (e.g. query=contact_window).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import hydra.utils
import numpy as np
from hydra import compose, initialize_config_dir

from permask.config import register_configs
from permask.demo.params import SENSOR_MAX_DEPTH
from permask.pipeline import instance_metrics, load_input
from permask.queries import build_queries, lift_mask_pixels, query_frames

CONF = str(Path(__file__).resolve().parents[1] / "conf")
FIGURES = ("AJ", "delta_avg", "OA", "median_error_cm", "survival")


def candidates(scene, instance_id, query_cfg) -> int:
    frames = query_frames(scene, instance_id, query_cfg)
    return sum(len(lift_mask_pixels(scene, instance_id, v, t, query_cfg)[0])
               for v, ts in enumerate(frames) for t in ts)


def evaluate(scene, cfg, tracker) -> dict[str, dict[str, float]]:
    out = {}
    for iid in scene.instance_ids:
        q = build_queries(scene, iid, cfg.query)
        res = tracker.track(scene, q)
        m = instance_metrics(scene, q, res, list(cfg.metrics.distances))
        out[iid] = {"candidates": candidates(scene, iid, cfg.query), "queries": len(q),
                    **{k: float(m.get(k, np.nan)) for k in FIGURES}}
    return out


def fill_quality(filled_scene, dense_depths) -> str:
    measured = filled_scene.depth_measured
    truth = np.where(dense_depths <= SENSOR_MAX_DEPTH, dense_depths, 0)
    holes = ~measured & (truth > 0)
    got = holes & (filled_scene.depths > 0)
    err = np.abs(filled_scene.depths[got] - truth[got])
    return (f"fill: {got.sum() / max(holes.sum(), 1):.1%} of the holes filled; error vs dense "
            f"render: mean {err.mean() * 100:.2f} cm, median {np.median(err) * 100:.2f} cm, "
            f"> 5 cm {np.mean(err > 0.05):.3%}, > 10 cm {np.mean(err > 0.10):.3%}")


VARIANTS = "depth=gt;depth=gt_filled;depth=gt_filled,tracker.depth_window=0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--densities", default="0.3,0.5")
    parser.add_argument("--tracker", default="lk")
    parser.add_argument("--variants", default=VARIANTS,
                        help="';'-separated runs, each a ','-separated list of overrides "
                             f"(default: {VARIANTS})")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    register_configs()
    variants = [v.split(",") for v in args.variants.split(";")]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        base = [f"tracker={args.tracker}", *args.overrides]
        dense = load_input(compose(config_name="config", overrides=base + ["depth=gt"]))
        for density in (float(d) for d in args.densities.split(",")):
            print(f"\n=== input.demo.depth_density={density} ===")
            rows = []
            for variant in variants:
                cfg = compose(config_name="config", overrides=[
                    *base, f"input.demo.depth_density={density}", *variant])
                t0 = time.perf_counter()
                scene = load_input(cfg)
                load_s = time.perf_counter() - t0
                if scene.depth_measured is not None:
                    print(f"{' '.join(variant)}: load + depth {load_s:.2f}s; "
                          + fill_quality(scene, dense.depths))
                tracker = hydra.utils.instantiate(cfg.tracker)
                rows.append((" ".join(variant), evaluate(scene, cfg, tracker)))
            report(rows)


def report(rows) -> None:
    cols = ["candidates", "queries", *FIGURES]
    print(f"{'variant':44s} {'instance':11s} " + " ".join(f"{c[:10]:>10s}" for c in cols))
    for name, per_instance in rows:
        ids = list(per_instance)
        for iid in [*ids, "mean"]:
            vals = [np.mean([per_instance[i][c] for i in ids]) if iid == "mean"
                    else per_instance[iid][c] for c in cols]
            cells = [f"{v:10.0f}" if c in ("candidates", "queries") else f"{v:10.3f}"
                     for c, v in zip(cols, vals)]
            print(f"{name:44s} {iid:11s} " + " ".join(cells))


if __name__ == "__main__":
    main()
