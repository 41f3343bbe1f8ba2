"""Performance of permask, each figure a ratio against a baseline measured in the same run.

    python benchmarks/perf.py            # full: ~5 min on a 2-core CPU -> benchmarks/results/
    python benchmarks/perf.py --quick    # smoke version, < 3 min -> benchmarks/results/quick/
    python benchmarks/perf.py --items 1,3  # only some of the measurements

1. batching: per-mask tracking of N=8 instances (the sum of N `lk` `track` calls) against ONE
   `track` call on all their query points at once (given a synthetic instance whose mask is the
   union of theirs); best of `repeats`. Target: at most 1.15x.
2. processes: one `python run.py` for N instances against N processes with `instances=[instance_k]`
   (the old way), N = 1, 4, 8, 16; wall time, same settings (recordings on) for both.
3. OpenCV: share of the per-instance `track` calls' time spent inside OpenCV functions (cProfile,
   cross-checked with plain timers around the cv2 functions, which add no profiler overhead;
   fastest of `repeats` passes).
   Target: outside OpenCV < 25%. The top functions outside OpenCV are printed and written.
4. recording: `record.write_instance_recording` (columns) against a naive writer that logs the same
   content with one `rr.set_time` + `rr.log` per entity and frame; merging: the combined file
   (`record.write_combined_recording`) against `rerun rrd merge` of the per-instance files.
5. memory: peak working memory of a run against the decoded scene, N = 1 and 16
   (`benchmarks/memory.py`). Target: about 2x at most.
6. scaling: tracking time (the run's `track` calls) and whole-run time (`pipeline.run` in process:
   load, queries, track, record, combine, metrics) against instances, points per instance, frames
   and views -> scaling.png.

Writes perf.md (machine + tables), perf.json (raw figures) and PNG plots into the output folder.
Demo scenes are generated (and cached) before anything is timed.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rerun as rr

import memory  # benchmarks/memory.py (this script's folder is on sys.path)
from perf_report import write_outputs
from permask import record
from permask.config import QueryConfig
from permask.data import Queries, Scene, TrackResult
from permask.queries import build_queries
from permask.inputs.load import load_scene
from permask.demo.cache import demo_scene_path
from permask.demo.params import DemoParams
from permask.trackers.lk import LKTracker

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
UNION = "all_instances"  # the synthetic instance whose mask is the union of every instance's
BASE = "perf"


# ------------------------------------------------------------------------------- settings


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


# ------------------------------------------------------------------------------- results


@dataclass
class Batching:
    """Item 1: seconds of the per-mask tracking (sum over instances) and of one call on all."""

    instances: int
    points: int
    per_mask_s: float
    one_call_s: float
    per_instance_s: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.per_mask_s / self.one_call_s


@dataclass
class ProcessRow:
    """Item 2: wall seconds of one run for N instances and of N runs of one instance each."""

    instances: int
    one_process_s: float
    per_instance_processes_s: float

    @property
    def speedup(self) -> float:
        return self.per_instance_processes_s / self.one_process_s


@dataclass
class Hotspot:
    """One profiled function: its label, calls, own time and time including callees (s)."""

    label: str
    calls: int
    tottime: float
    cumtime: float


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

    @property
    def outside(self) -> float:
        return 1.0 - self.cv2_s / self.profiled_s

    @property
    def outside_timed(self) -> float:
        return 1.0 - self.cv2_timed_s / self.wall_s


@dataclass
class Writing:
    """Seconds and bytes of writing some files."""

    seconds: float
    bytes: int


@dataclass
class WritingPair:
    """The same content written in columns (permask) and by the naive per-frame writer."""

    columns: Writing
    naive: Writing


@dataclass
class Recording:
    """Item 4. `pairs`: content -> columns vs naive, for the track points alone, the tracks
    (points + trails) and per-instance files with a cameras-only context (+ masks; no video, no
    depth cloud). `default_context`: per-instance files as a run writes them (+ JPEG video and
    depth clouds). `combined` / `cli_merge`: one file of all instances, written by permask or
    merged from the per-instance files by `rerun rrd merge`."""

    instances: int
    point_frames: int
    pairs: dict[str, WritingPair]
    default_context: Writing
    combined: Writing
    cli_merge: Writing | None


@dataclass
class SweepPoint:
    """Item 6: one setting of one factor."""

    factor: str
    value: int
    points: int  # query points over all instances
    track_s: float
    run_s: float


@dataclass
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    batching: Batching | None = None
    processes: list[ProcessRow] = field(default_factory=list)
    opencv: OpenCVShare | None = None
    recording: Recording | None = None
    memory: list[memory.MemoryRow] = field(default_factory=list)
    scaling: list[SweepPoint] = field(default_factory=list)


# ------------------------------------------------------------------------------- helpers


def lk_tracker() -> LKTracker:
    """The `lk` tracker with its default config (as `tracker=lk` builds it)."""
    return LKTracker()


def demo_scene(**params) -> Scene:
    """The (cached) demo scene with these DemoParams, loaded as a run loads it."""
    return load_scene(demo_scene_path(DemoParams(**params)))


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def instance_queries(scene: Scene) -> dict[str, Queries]:
    """Default query points (first frame, 300 per instance) of every instance."""
    return {iid: build_queries(scene, iid, QueryConfig()) for iid in scene.instance_ids}


def union_scene(scene: Scene, queries: dict[str, Queries]) -> tuple[Scene, Queries]:
    """A copy of the scene with one more instance, UNION, whose mask is the union of every
    instance's mask, and the concatenation of all the queries as UNION's queries. The copy
    shares the arrays (and the cached grey video) with `scene`."""
    masks = dict(scene.masks)
    masks[UNION] = functools.reduce(np.logical_or, scene.masks.values())
    everything = Queries(UNION, *(np.concatenate([getattr(q, name) for q in queries.values()])
                                  for name in ("points", "view", "pixel")))
    return dataclasses.replace(scene, masks=masks), everything


def tracked_point_frames(result: TrackResult) -> int:
    """Point-frames a recording shows: visible with a finite position."""
    return int((result.visible & np.isfinite(result.tracks).all(axis=-1)).sum())


def file_bytes(paths: Sequence[Path]) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def run_cli(overrides: Sequence[str], output_dir: Path) -> float:
    """Wall seconds of one `python run.py ...` subprocess (fails loudly with its stderr)."""
    cmd = [sys.executable, "run.py", *overrides, f"output_dir={output_dir}", "progress=false"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


# ------------------------------------------------------------------------------- 1. batching


def bench_batching(scene: Scene, queries: dict[str, Queries], repeats: int
                   ) -> tuple[Batching, dict[str, TrackResult]]:
    """Per-mask `track` calls against one call on the union; best of `repeats`, interleaved so
    that load changes hit both alike. Returns the figures and the per-instance results."""
    tracker = lk_tracker()
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
    return Batching(len(queries), len(everything), float(sum(best.values())), float(best_all),
                    {k: float(v) for k, v in best.items()}), results


def track_all(scene: Scene, queries: dict[str, Queries]) -> dict[str, TrackResult]:
    tracker = lk_tracker()
    return {iid: tracker.track(scene, q) for iid, q in queries.items()}


# ------------------------------------------------------------------------------- 2. processes


def bench_processes(counts: Sequence[int], work: Path) -> list[ProcessRow]:
    """One run of N instances against N single-instance runs (each into its own folder)."""
    for n in counts:
        demo_scene_path(DemoParams(num_objects=n))  # generated before timing
    rows = []
    for n in counts:
        scene = [f"input.demo.num_objects={n}"]
        one = run_cli(scene, work / f"n{n}_one")
        old = sum(run_cli([*scene, f"instances=[instance_{k}]"], work / f"n{n}_instance_{k}")
                  for k in range(n))
        rows.append(ProcessRow(n, one, old))
        print(f"  N={n:2d}: one process {one:6.1f} s, {n} processes {old:6.1f} s "
              f"-> {old / one:.2f}x faster", flush=True)
    return rows


# ------------------------------------------------------------------------------- 3. OpenCV


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


@contextmanager
def cv2_timers(names: Sequence[str]) -> Iterator[dict[str, float]]:
    """Wrap `cv2.<name>` with a timer for the duration (callers look cv2 functions up on the
    module at call time); yields name -> seconds spent inside."""
    spent = dict.fromkeys(names, 0.0)
    originals = {name: getattr(cv2, name) for name in names}

    def wrap(name: str, fn: Callable) -> Callable:
        def timed_call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return timed_call

    for name, fn in originals.items():
        setattr(cv2, name, wrap(name, fn))
    try:
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(cv2, name, fn)


def bench_opencv(scene: Scene, queries: dict[str, Queries], repeats: int = 1,
                 top: int = 15) -> OpenCVShare:
    """Profile the per-instance `track` calls (the scene's grey video already converted, as in a
    run); split their time into cv2 / other C builtins (numpy) / Python code. The unprofiled
    figure is the fastest of `repeats` timed passes, with the cv2 time of that pass."""
    tracker = lk_tracker()
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
    passes = []  # (wall seconds, seconds inside cv2)
    for _ in range(repeats):
        with cv2_timers([h.label for h in cv2_rows]) as spent:
            wall = timed(lambda: [tracker.track(scene, q) for q in queries.values()])[0]
        passes.append((wall, sum(spent.values())))
    wall, inside = min(passes)
    hotspots = sorted((h for _, h in other), key=lambda h: -h.tottime)[:top]
    return OpenCVShare(len(queries), sum(len(q) for q in queries.values()),
                       cv2_s + builtin_s + python_s, cv2_s, builtin_s, python_s, wall,
                       inside, sorted(cv2_rows, key=lambda h: -h.tottime), hotspots)


# ------------------------------------------------------------------------------- 4. recording


@contextmanager
def recording_file(path: Path, ids: record.RecordingIds) -> Iterator[rr.RecordingStream]:
    """A recording stream saved to `path`, flushed and closed (footer written) on exit."""
    rec = rr.RecordingStream(ids.application_id, recording_id=ids.recording_id)
    rec.save(path)
    try:
        yield rec
        rec.flush()
    finally:
        rec.disconnect()


def write_naive_recording(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                          tracker: str, ids: record.RecordingIds,
                          context: record.SceneContext | None, masks: bool = True,
                          trails: bool = True, queries_too: bool = True,
                          trail_length: int = 8) -> Path:
    """The baseline writer: what `record.write_instance_recording` writes for one instance
    (scene context, queries, track points, trails, masks), but the temporal data row by row:
    per frame `rec.set_time` and one `rec.log` per entity (points, trails, each view's mask),
    colours and radii with every row. No blueprint, not atomic. context None: no scene context;
    masks / trails / queries_too False: leave those out."""
    iid = queries.instance_id
    color = record.instance_color(iid, scene.instance_ids)
    tracks = np.asarray(result.tracks, np.float32)
    show = result.visible & np.isfinite(tracks).all(axis=-1)
    strips, counts = record._trails(tracks, show, trail_length)  # the same trails as permask's
    counts = counts if trails else np.zeros_like(counts)
    ends = np.cumsum(counts)
    H, W = scene.image_size
    class_id = np.uint8(record.class_ids(scene.instance_ids)[iid])
    labels = [record._resize_nearest(np.asarray(m) != 0, H, W) for m in scene.masks[iid]] \
        if masks else []
    with recording_file(path, ids) as rec:
        if context is not None:
            record.log_scene_context(rec, scene, context=context)
        if queries_too:
            rec.log(record.query_path(iid), rr.Points3D(
                queries.points[:, 1:4], colors=[(*color, 160)], radii=rr.Radius.ui_points(2.0),
                labels=[iid], show_labels=True), static=True)
        for t, frame in enumerate(record.frame_values(scene)):
            rec.set_time(record.TIMELINE, sequence=int(frame))
            rec.log(record.track_path(tracker, iid), rr.Points3D(
                tracks[t, show[t]], colors=[color], radii=rr.Radius.ui_points(2.5)))
            if counts[t]:
                rec.log(record.trail_path(tracker, iid), rr.LineStrips3D(
                    strips[ends[t] - counts[t]:ends[t]], colors=[color],
                    radii=rr.Radius.ui_points(1.0)))
            for cam, label in zip(scene.camera_ids, labels):
                rec.log(record.mask_path(cam, iid), rr.SegmentationImage(
                    label[t].astype(np.uint8) * class_id, opacity=0.5, draw_order=0.0))
    return path


def write_tracks_columns(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                         tracker: str, ids: record.RecordingIds) -> Path:
    """permask's column logging of the tracks alone (queries, points, trails; no context, no
    masks): `record.log_instance_tracks(masks=False)` into a file."""
    with recording_file(path, ids) as rec:
        record.log_instance_tracks(rec, scene, queries, result, tracker=tracker, masks=False)
    return path


def write_points_columns(path: Path, scene: Scene, queries: Queries, result: TrackResult, *,
                         tracker: str, ids: record.RecordingIds) -> Path:
    """The track points alone in columns: the static colour/radius row and the one
    `send_columns` call that `record.log_instance_tracks` makes for them (it has no switch to
    leave the trails out)."""
    iid = queries.instance_id
    tracks = np.asarray(result.tracks, np.float32)
    show = result.visible & np.isfinite(tracks).all(axis=-1)
    path_in_file = record.track_path(tracker, iid)
    with recording_file(path, ids) as rec:
        rec.log(path_in_file, rr.Points3D.from_fields(
            colors=[record.instance_color(iid, scene.instance_ids)],
            radii=rr.Radius.ui_points(2.5)), static=True)
        rec.send_columns(path_in_file, indexes=[rr.TimeColumn(record.TIMELINE,
                                                              sequence=record.frame_values(scene))],
                         columns=rr.Points3D.columns(positions=tracks[show]).partition(
                             show.sum(axis=1)))
    return path


def best_writing(write: Callable[[], list[Path]], repeats: int) -> Writing:
    """Best-of-`repeats` seconds of `write()` and the bytes of the files it returns."""
    seconds, paths = min((timed(write) for _ in range(repeats)), key=lambda r: r[0])
    return Writing(seconds, file_bytes(paths))


def cli_merge(paths: Sequence[Path], out: Path, repeats: int) -> Writing | None:
    """`rerun rrd merge -o out paths...`, when the rerun CLI is installed."""
    exe = shutil.which("rerun")
    if exe is None:
        return None
    cmd = [exe, "rrd", "merge", "-o", str(out), *map(str, paths)]

    def merge() -> list[Path]:
        subprocess.run(cmd, check=True, capture_output=True)
        return [out]

    return best_writing(merge, repeats)


def bench_recording(scene: Scene, queries: dict[str, Queries], results: dict[str, TrackResult],
                    work: Path, repeats: int) -> Recording:
    ids = record.RecordingIds.for_scene(scene, BASE)
    bare = record.prepare_scene_context(scene, max_points_per_view=0, log_video=False)
    default = record.prepare_scene_context(scene)  # the run's: JPEG video + depth clouds
    work.mkdir(parents=True, exist_ok=True)

    def per_instance(write: Callable[..., Path], tag: str, **kwargs) -> Callable[[], list[Path]]:
        """A function writing every instance's file with `write(path, scene, q, result, ...)`."""
        return lambda: [write(work / f"{tag}_{iid}.rrd", scene, q, results[iid], ids=ids,
                              tracker="lk", **kwargs) for iid, q in queries.items()]

    def files(context: record.SceneContext) -> Callable[[], list[Path]]:
        return per_instance(record.write_instance_recording, "file", base=BASE, context=context)

    def combined() -> list[Path]:
        return [record.write_combined_recording(
            work / "combined.rrd", scene, {"lk": {k: (q, results[k]) for k, q in queries.items()}},
            base=BASE, ids=ids, context=default)]

    contents = {  # content -> (permask's columns, the naive writer)
        "track points": (per_instance(write_points_columns, "points"),
                         per_instance(write_naive_recording, "naive_points", context=None,
                                      masks=False, trails=False, queries_too=False)),
        "track points + trails": (per_instance(write_tracks_columns, "tracks"),
                                  per_instance(write_naive_recording, "naive_tracks",
                                               context=None, masks=False)),
        "per-instance file, cameras-only context": (
            files(bare), per_instance(write_naive_recording, "naive_file", context=bare)),
    }
    pairs = {name: WritingPair(best_writing(cols, repeats), best_writing(naive, repeats))
             for name, (cols, naive) in contents.items()}
    default_files = files(default)
    default_writing = best_writing(default_files, repeats)
    return Recording(len(queries), sum(tracked_point_frames(r) for r in results.values()), pairs,
                     default_writing, best_writing(combined, repeats),
                     cli_merge(default_files(), work / "cli_merged.rrd", repeats))


# ------------------------------------------------------------------------------- 6. scaling


@contextmanager
def method_timer(cls: type, name: str) -> Iterator[list[float]]:
    """Accumulate the seconds spent in `cls.<name>` (patched for the duration) into a list."""
    spent = [0.0]
    original = getattr(cls, name)

    @functools.wraps(original)
    def timed_method(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    setattr(cls, name, timed_method)
    try:
        yield spent
    finally:
        setattr(cls, name, original)


def whole_run(overrides: Sequence[str], work: Path) -> tuple[float, float, int]:
    """(run seconds, tracking seconds, query points) of `pipeline.run` in this process, with the
    config `python run.py <overrides>` would use; the demo scene is generated before timing."""
    from hydra import compose, initialize_config_dir

    from permask.pipeline import input_path, run

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, "progress=false"])
    input_path(cfg)
    with tempfile.TemporaryDirectory(dir=work) as out, method_timer(LKTracker, "track") as spent:
        seconds, report = timed(run, cfg, out)
    points = sum(len(o.queries) for o in report.outcomes.values())
    return seconds, spent[0], points


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


# ------------------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    import platform

    import matplotlib

    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in
              (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
              if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "permask")
    return {
        "platform": platform.platform(),
        "CPU": f"{cpu}; os.cpu_count() = {os.cpu_count()}, usable {usable}",
        "cv2 threads": str(cv2.getNumThreads()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "rerun-sdk": rr.__version__,
        "matplotlib": matplotlib.__version__,
        "git": commit + (" (permask/ has uncommitted changes)" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load average at start": load_average(),
    }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True,
                          check=False).stdout.strip()


def load_average() -> str:
    """1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------- main


def parse_args() -> tuple[Settings, set[int], bool]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke version (< 3 min)")
    ap.add_argument("--items", default="1,2,3,4,5,6", help="comma-separated items to run")
    ap.add_argument("--out", type=Path, help="output folder (default benchmarks/results[/quick])")
    args = ap.parse_args()
    settings = QUICK if args.quick else FULL
    if args.out:
        settings = dataclasses.replace(settings, out_dir=args.out)
    return settings, {int(i) for i in args.items.split(",")}, args.quick


def main() -> None:
    settings, items, quick = parse_args()
    started = time.perf_counter()
    results = Results(machine_info(), {k: (str(v) if isinstance(v, Path) else v)
                                       for k, v in dataclasses.asdict(settings).items()})
    with tempfile.TemporaryDirectory(prefix="permask_perf_") as tmp:
        work = Path(tmp)
        if items & {1, 3, 4}:
            scene = demo_scene(num_objects=settings.batch_instances)
            queries = instance_queries(scene)
        if 1 in items or 4 in items:
            if 1 in items:
                print(f"1. batching: {settings.batch_instances} instances, per mask vs one call",
                      flush=True)
                results.batching, tracked = bench_batching(scene, queries, settings.repeats)
                b = results.batching
                print(f"  per mask {b.per_mask_s:.2f} s, one call {b.one_call_s:.2f} s "
                      f"-> {b.ratio:.2f}x (target <= 1.15x)", flush=True)
            else:
                tracked = track_all(scene, queries)
        if 2 in items:
            print("2. one process vs one process per instance", flush=True)
            results.processes = bench_processes(settings.process_counts, work / "processes")
        if 3 in items:
            print("3. lk inside vs outside OpenCV", flush=True)
            results.opencv = bench_opencv(scene, queries, settings.repeats)
            print_opencv(results.opencv)
        if 4 in items:
            print("4. recordings", flush=True)
            results.recording = bench_recording(scene, queries, tracked, work / "recording",
                                                settings.repeats)
            print_recording(results.recording)
        if 5 in items:
            print("5. memory", flush=True)
            results.memory = memory.measure(counts=settings.memory_counts)
            for row in results.memory:
                print(f"  N={row.instances}: working {row.work / 2**20:.0f} MiB = "
                      f"{row.ratio:.2f}x the decoded scene", flush=True)
        if 6 in items:
            print("6. scaling", flush=True)
            results.scaling = bench_scaling(settings, work)
    results.machine["load average at end"] = load_average()
    results.machine["benchmark wall time"] = f"{time.perf_counter() - started:.0f} s"
    for path in write_outputs(results, settings.out_dir, quick=quick):
        print(f"wrote {path}")


def print_opencv(share: OpenCVShare) -> None:
    print(f"  outside OpenCV: {share.outside:.1%} (cProfile), {share.outside_timed:.1%} "
          f"(timers, no profiler) - target < 25%")
    print(f"  cv2: {share.cv2_s:.2f} s, numpy/C builtins {share.builtin_s:.2f} s, "
          f"Python code {share.python_s:.2f} s (profiled total {share.profiled_s:.2f} s)")
    print("  top functions outside OpenCV by own time (tottime):")
    for h in share.hotspots:
        print(f"    {h.tottime:7.3f} s {h.calls:7d} calls  {h.label}")


def print_recording(rec: Recording) -> None:
    per = 1e6 / rec.point_frames
    for name, pair in rec.pairs.items():
        cols, naive = pair.columns, pair.naive
        print(f"  {name}, per tracked point-frame: columns {cols.seconds * per:.2f} us "
              f"{cols.bytes / rec.point_frames:.0f} B, naive {naive.seconds * per:.2f} us "
              f"{naive.bytes / rec.point_frames:.0f} B")
    merge = f"{rec.cli_merge.seconds:.2f} s" if rec.cli_merge else "no rerun CLI"
    print(f"  one file of {rec.instances} instances: write_combined_recording "
          f"{rec.combined.seconds:.2f} s, rerun rrd merge {merge}", flush=True)


if __name__ == "__main__":
    main()
