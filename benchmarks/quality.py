"""Tracker accuracy on the demo scene (or any file with ground truth), per instance.

    python benchmarks/quality.py [--npz FILE] [--mask-key KEY] [tracker=lk tracker.carry_neighbours=0 ...]

Overrides after the options are Hydra overrides applied to each tracker's config.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from permask.config import register_configs
from permask.pipeline import instance_metrics, load_input
from permask.queries import build_queries

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trackers", default="static,lk")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    register_configs()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        base = compose(config_name="config", overrides=args.overrides)
        scene = load_input(base)
        for name in args.trackers.split(","):
            cfg = compose(config_name="config", overrides=[*args.overrides, f"tracker={name}"])
            import hydra.utils
            tracker = hydra.utils.instantiate(cfg.tracker)
            for iid in scene.instance_ids:
                q = build_queries(scene, iid, cfg.query)
                t0 = time.perf_counter()
                res = tracker.track(scene, q)
                dt = time.perf_counter() - t0
                m = instance_metrics(scene, q, res, list(cfg.metrics.distances))
                print(f"{name:8s} {iid:12s} n={m['points']:4d} AJ={m.get('AJ', float('nan')):.3f} "
                      f"d_avg={m.get('delta_avg', float('nan')):.3f} OA={m.get('OA', float('nan')):.3f} "
                      f"med={m.get('median_error_cm', float('nan')):5.1f}cm surv={m.get('survival', float('nan')):.2f} "
                      f"vis_end={m['visible_at_end']:.2f} {dt:.2f}s")


if __name__ == "__main__":
    main()
