"""Items 1 and 3 of `benchmarks/perf.py`: how `lk`'s `track` calls spend their time.

1. batching: per-mask tracking of N instances (the sum of N `track` calls) against ONE `track`
   call on all their query points at once (given a synthetic instance whose mask is the union of
   theirs); best of `repeats`.
3. OpenCV: share of the per-instance `track` calls' time spent inside OpenCV functions (cProfile,
   cross-checked with plain timers around the cv2 functions, which add no profiler overhead;
   fastest of `repeats` passes), and the top functions outside OpenCV; and where that time
   comes from (`cost_model`): the same calls on the first 30 points of each instance and on all
   of them split each side (outside, inside OpenCV) into a cost per step and a cost per point and
   step.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import re
import unittest.mock
from dataclasses import dataclass

import cv2
import numpy as np

from common import ROOT, attribute_timers, timed
from perf_settings import TARGET_OUTSIDE
from permask.config import QueryConfig
from permask.data import Queries, Scene, TrackResult
from permask.queries import build_queries
from permask.trackers.joint import union_scene
from permask.trackers.lk import LKTracker


@dataclass
class Batching:
    """Item 1: seconds of the per-mask tracking (sum over instances) and of one call on all."""

    instances: int
    points: int
    per_mask_s: float
    one_call_s: float
    per_instance_s: dict[str, float]
    # points handed to OpenCV's LK (every call, forward and backward) in one pass of each
    per_mask_lk_points: int = 0
    one_call_lk_points: int = 0

    @property
    def ratio(self) -> float:
        return self.per_mask_s / self.one_call_s

    @property
    def ratio_per_lk_point(self) -> float:
        """The ratio per point handed to LK: what each side pays for the LK work it does."""
        return ((self.per_mask_s / max(self.per_mask_lk_points, 1))
                / (self.one_call_s / max(self.one_call_lk_points, 1)))


@dataclass
class Hotspot:
    """One profiled function: its label, calls, own time and time including callees (s)."""

    label: str
    calls: int
    tottime: float
    cumtime: float


@dataclass
class CostModel:
    """Item 3's split of the per-instance calls' time into a part per step (frame of one call)
    and a part per point-step (one query point over one step, all views), each side of OpenCV,
    from the same calls on `small` and on all points per instance (plain timers, fastest pass)."""

    steps: int  # frames stepped over all calls
    small: int  # points per instance in the small run
    outside_per_step_ms: float
    outside_per_point_us: float
    cv2_per_step_ms: float
    cv2_per_point_us: float

    @property
    def floor(self) -> float:
        """The share outside OpenCV with no cost per step at all: what the per-point work alone
        leaves outside."""
        return self.outside_per_point_us / (self.outside_per_point_us + self.cv2_per_point_us)


@dataclass
class OpenCVShare:
    """Item 3. Profiled seconds: inside cv2, numpy/other C builtins, Python code (own time).
    Timed: the same calls unprofiled (wall) and the time inside the cv2 functions (timers)."""

    calls: int
    points: int
    profiled_s: float
    cv2_s: float
    builtin_s: float
    python_s: float
    wall_s: float
    cv2_timed_s: float
    cv2_functions: list[Hotspot]
    hotspots: list[Hotspot]
    costs: CostModel

    @property
    def outside(self) -> float:
        return 1.0 - self.cv2_s / self.profiled_s

    @property
    def outside_timed(self) -> float:
        return 1.0 - self.cv2_timed_s / self.wall_s


def instance_queries(scene: Scene) -> dict[str, Queries]:
    """Default query points (first frame, 300 per instance) of every instance."""
    return {iid: build_queries(scene, iid, QueryConfig()) for iid in scene.instance_ids}


def bench_batching(scene: Scene, queries: dict[str, Queries], repeats: int, tracker: LKTracker
                   ) -> tuple[Batching, dict[str, TrackResult]]:
    """Per-mask `track` calls against one call on the union; best of `repeats`, interleaved so
    that load changes hit both alike. Returns the figures and the per-instance results."""
    scene.gray()  # a run converts the video once, for every instance
    scene_all, everything = union_scene(scene, queries)
    best = dict.fromkeys(queries, np.inf)
    best_all = np.inf
    results: dict[str, TrackResult] = {}
    for _ in range(repeats):
        for iid, q in queries.items():
            seconds, results[iid] = timed(tracker.track, scene, q)
            best[iid] = min(best[iid], seconds)
        best_all = min(best_all, timed(tracker.track, scene_all, everything)[0])
    with lk_point_counter() as per_mask:
        for q in queries.values():
            tracker.track(scene, q)
    with lk_point_counter() as one_call:
        tracker.track(scene_all, everything)
    return Batching(len(queries), len(everything), float(sum(best.values())), float(best_all),
                    {k: float(v) for k, v in best.items()}, per_mask[0], one_call[0]), results


@contextlib.contextmanager
def lk_point_counter():
    """Count the points handed to `cv2.calcOpticalFlowPyrLK` while inside; yields [count]."""
    count = [0]
    lk = cv2.calcOpticalFlowPyrLK

    def counted(prev, nxt, points, *args, **kwargs):
        count[0] += len(points)
        return lk(prev, nxt, points, *args, **kwargs)

    with unittest.mock.patch.object(cv2, "calcOpticalFlowPyrLK", counted):
        yield count


def track_all(scene: Scene, queries: dict[str, Queries], tracker: LKTracker
              ) -> dict[str, TrackResult]:
    return {iid: tracker.track(scene, q) for iid, q in queries.items()}


def cv2_name(func: tuple[str, int, str]) -> str | None:
    """The cv2 function name of a cProfile entry, else None. cv2's functions carry no module,
    so cProfile names them `<calcOpticalFlowPyrLK>`; match against cv2's attributes."""
    filename, _, name = func
    match = re.fullmatch(r"<(\w+)>", name) if filename == "~" else None
    if match and type(getattr(cv2, match.group(1), None)).__name__ == "builtin_function_or_method":
        return match.group(1)
    return None


def function_label(func: tuple[str, int, str]) -> str:
    """`path:line(name)` with the path relative to the repository or site-packages."""
    filename, line, name = func
    if filename == "~":
        return name
    path = filename.replace(str(ROOT) + os.sep, "")
    path = re.sub(r".*site-packages/", "", path)
    return f"{path}:{line}({name})"


def bench_opencv(scene: Scene, queries: dict[str, Queries], tracker: LKTracker,
                 repeats: int = 1, top: int = 15) -> OpenCVShare:
    """Profile the per-instance `track` calls (the scene's grey video already converted, as in a
    run); split their time into cv2 / other C builtins (numpy) / Python code. The unprofiled
    figure is the fastest of `repeats` timed passes, with the cv2 time of that pass."""
    scene.gray()
    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries.values():
        tracker.track(scene, q)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # func -> (primitive calls, calls, tottime, cumtime, _)
    cv2_rows, other = [], []
    for func, (_, calls, tottime, cumtime, _) in stats.items():
        name = cv2_name(func)
        if name:
            cv2_rows.append(Hotspot(name, calls, tottime, cumtime))
        elif "_lsprof.Profiler" not in func[2]:
            other.append((func, Hotspot(function_label(func), calls, tottime, cumtime)))
    builtin_s = sum(h.tottime for f, h in other if f[0] == "~")
    python_s = sum(h.tottime for f, h in other if f[0] != "~")
    cv2_s = sum(h.tottime for h in cv2_rows)
    cv2_names = [h.label for h in cv2_rows]
    wall, inside = timed_split(tracker, scene, queries, repeats, cv2_names)
    hotspots = sorted((h for _, h in other), key=lambda h: -h.tottime)[:top]
    return OpenCVShare(len(queries), sum(len(q) for q in queries.values()),
                       cv2_s + builtin_s + python_s, cv2_s, builtin_s, python_s, wall,
                       inside, sorted(cv2_rows, key=lambda h: -h.tottime), hotspots,
                       cost_model(scene, queries, tracker, (wall, inside), repeats, cv2_names))


def first_points(queries: Queries, n: int) -> Queries:
    return Queries(queries.instance_id, queries.points[:n], queries.view[:n], queries.pixel[:n])


def timed_split(tracker, scene: Scene, queries: dict[str, Queries], repeats: int,
                cv2_names: list[str]) -> tuple[float, float]:
    """(wall seconds, seconds inside the cv2 functions `cv2_names`) of the per-instance calls,
    fastest of `repeats` passes."""
    passes = []
    for _ in range(repeats):
        with attribute_timers(cv2, cv2_names) as spent:
            wall = timed(lambda: [tracker.track(scene, q) for q in queries.values()])[0]
        passes.append((wall, sum(spent.values())))
    return min(passes)


def point_steps(scene: Scene, queries: dict[str, Queries]) -> int:
    """Query points times the frames each is stepped over, summed over the calls."""
    return sum(int((scene.num_frames - 1 - q.frame).sum()) for q in queries.values())


def cost_model(scene: Scene, queries: dict[str, Queries], tracker: LKTracker,
               full: tuple[float, float], repeats: int, cv2_names: list[str], small: int = 30
               ) -> CostModel:
    """Given the per-instance calls' (wall, inside cv2) seconds on all points (`full`), time
    them on the first `small` points of each instance; a straight line through the two runs,
    per step and per point-step, each side of OpenCV."""
    steps = sum(scene.num_frames - 1 - int(q.frame.min()) for q in queries.values())
    reduced = {k: first_points(q, small) for k, q in queries.items()}
    wall_s, in_s = timed_split(tracker, scene, reduced, repeats, cv2_names)
    p_s, p_a = point_steps(scene, reduced), point_steps(scene, queries)
    out_s, (wall_a, in_a) = wall_s - in_s, full
    per_point_out = (wall_a - in_a - out_s) / (p_a - p_s)
    per_point_in = (in_a - in_s) / (p_a - p_s)
    return CostModel(steps, small, 1e3 * (out_s - per_point_out * p_s) / steps,
                     1e6 * per_point_out, 1e3 * (in_s - per_point_in * p_s) / steps,
                     1e6 * per_point_in)


def print_cost_model(model: CostModel) -> None:
    print(f"  per step: {model.outside_per_step_ms:.2f} ms outside OpenCV, "
          f"{model.cv2_per_step_ms:.2f} ms inside; per point-step: "
          f"{model.outside_per_point_us:.2f} us outside, {model.cv2_per_point_us:.2f} us inside "
          f"-> {model.floor:.0%} outside with no cost per step")


def print_opencv(share: OpenCVShare) -> None:
    print(f"  outside OpenCV: {share.outside:.1%} (cProfile), {share.outside_timed:.1%} "
          f"(timers, no profiler) - target < {TARGET_OUTSIDE:.0%}")
    print_cost_model(share.costs)
    print(f"  cv2: {share.cv2_s:.2f} s, numpy/C builtins {share.builtin_s:.2f} s, "
          f"Python code {share.python_s:.2f} s (profiled total {share.profiled_s:.2f} s)")
    print("  top functions outside OpenCV by own time (tottime):")
    for h in share.hotspots:
        print(f"    {h.tottime:7.3f} s {h.calls:7d} calls  {h.label}")
