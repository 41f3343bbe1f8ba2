"""What `benchmarks/perf.py` measures and how often: the full run and the `--quick` smoke run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common import ROOT  # benchmarks/common.py (the benchmarks' folder is on sys.path)

TARGET_BATCHING = 1.0  # per-mask time / one call, N = 8
TARGET_OUTSIDE = 0.20  # share of lk's time outside OpenCV
TARGET_MEMORY = 2.0  # working memory / decoded scene

RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Settings:
    """What to measure, and how often."""

    out_dir: Path
    repeats: int  # best of `repeats` for in-process timings
    batch_instances: int = 8
    process_counts: tuple[int, ...] = (1, 4, 8, 16)
    memory_counts: tuple[int, ...] = (1, 16)
    sweep_instances: tuple[int, ...] = (1, 2, 4, 8, 16)
    sweep_points: tuple[int, ...] = (100, 1000, 5000, 20000)
    sweep_frames: tuple[int, ...] = (24, 48, 120, 240)
    sweep_views: tuple[int, ...] = (1, 2, 4, 8)
    points_image: tuple[int, int] = (384, 512)  # the default 192x256 has < 20k candidates


FULL = Settings(out_dir=RESULTS, repeats=3)


QUICK = Settings(out_dir=RESULTS / "quick", repeats=1, process_counts=(1, 4),
                 sweep_instances=(1, 4), sweep_points=(100, 1000), sweep_frames=(24, 48),
                 sweep_views=(1, 2))
