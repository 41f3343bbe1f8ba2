"""Item 6 of `benchmarks/perf.py`: how cost grows. Tracking time (the run's `track` calls) and
whole-run time (`pipeline.run` in process: load, queries, track, record, combine, metrics) against
instances, points per instance, frames and views."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, attribute_timers, timed
from perf_settings import Settings
from permask.trackers.lk import LKTracker


@dataclass
class SweepPoint:
    """Item 6: one setting of one factor."""

    factor: str
    value: int
    points: int  # query points over all instances
    track_s: float
    run_s: float


def whole_run(overrides: Sequence[str], work: Path) -> tuple[float, float, int]:
    """(run seconds, tracking seconds, query points) of `pipeline.run` in this process, with the
    config `python run.py <overrides>` would use; the demo scene is generated before timing."""
    from hydra import compose, initialize_config_dir

    from permask.pipeline import input_path, run

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, "progress=false"])
    input_path(cfg)
    with (tempfile.TemporaryDirectory(dir=work) as out,
          attribute_timers(LKTracker, ["track"]) as spent):
        seconds, report = timed(run, cfg, out)
    points = sum(len(o.queries) for o in report.outcomes.values())
    return seconds, spent["track"], points


def sweeps(settings: Settings) -> dict[str, list[tuple[int, list[str]]]]:
    """Factor -> [(value, run.py overrides)]. Points: one instance (instance_0) of a larger image,
    uniform sampling and a 2 mm dedup radius, so that the budget, not the mask, sets the count."""
    height, width = settings.points_image
    points = [f"input.demo.height={height}", f"input.demo.width={width}", "instances=[instance_0]",
              "query.sampling=uniform", "query.dedup_radius=0.002"]
    return {
        "instances": [(n, [f"input.demo.num_objects={n}"]) for n in settings.sweep_instances],
        "points per instance": [(n, [*points, f"query.max_points={n}"])
                                for n in settings.sweep_points],
        "frames": [(n, [f"input.demo.num_frames={n}"]) for n in settings.sweep_frames],
        "views": [(n, [f"input.demo.num_views={n}"]) for n in settings.sweep_views],
    }


def bench_scaling(settings: Settings, work: Path) -> list[SweepPoint]:
    from permask.config import register_configs

    register_configs()
    rows = []
    for factor, settings_of_factor in sweeps(settings).items():
        for value, overrides in settings_of_factor:
            run_s, track_s, points = whole_run(overrides, work)
            rows.append(SweepPoint(factor, value, points, track_s, run_s))
            print(f"  {factor} = {value}: {points} points, tracking {track_s:.2f} s, "
                  f"whole run {run_s:.2f} s", flush=True)
    return rows
