"""Performance of permask, each figure a ratio against a baseline measured in the same run.

    python benchmarks/perf.py            # full: ~5 min on a 2-core CPU -> benchmarks/results/
    python benchmarks/perf.py --quick    # smoke version, < 3 min -> benchmarks/results/quick/
    python benchmarks/perf.py --items 1,3  # only some of the measurements
    python benchmarks/perf.py --items 1,3 --lk win_min=15  # lk with other settings (items 1, 3, 4)

1. batching: per-mask tracking of N=8 instances (the sum of N `lk` `track` calls) against ONE
   `track` call on all their query points at once (given a synthetic instance whose mask is the
   union of theirs); best of `repeats`. Target: at most 1.0x.
2. processes: one `python run.py` for N instances against N processes with `instances=[instance_k]`
   (the old way), N = 1, 4, 8, 16; wall time, same settings (recordings on) for both.
3. OpenCV: share of the per-instance `track` calls' time spent inside OpenCV functions (cProfile,
   cross-checked with plain timers around the cv2 functions, which add no profiler overhead;
   fastest of `repeats` passes).
   Target: outside OpenCV < 20%. The top functions outside OpenCV are printed and written.
4. recording: `record.write_instance_recording` (columns) against a naive writer that logs the same
   content with one `rr.set_time` + `rr.log` per entity and frame; merging: the combined file
   (`record.write_combined_recording`) against `rerun rrd merge` of the per-instance files.
5. memory: peak working memory of a run against the decoded scene, N = 1 and 16
   (`benchmarks/memory.py`). Target: about 2x at most.
6. scaling: tracking time (the run's `track` calls) and whole-run time (`pipeline.run` in process:
   load, queries, track, record, combine, metrics) against instances, points per instance, frames
   and views -> scaling.png.

Writes perf.md (machine + tables), perf.json (raw figures) and PNG plots into the output folder.
Demo scenes are generated (and cached) before anything is timed. This script runs the items and
collects their figures; each item lives in its own module (`perf_tracking`: 1 and 3,
`perf_processes`: 2, `perf_recording`: 4, `memory`: 5, `perf_scaling`: 6), `perf_report` writes
the outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# the modules beside this script (its folder is on sys.path)
import memory
from common import demo_scene
from hard_cases import parse_value
from perf_machine import load_average, machine_info
from perf_processes import ProcessRow, bench_processes
from perf_recording import Recording, bench_recording, print_recording
from perf_report import write_outputs
from perf_scaling import SweepPoint, bench_scaling
from perf_settings import FULL, QUICK, TARGET_BATCHING, Settings
from perf_tracking import (Batching, OpenCVShare, bench_batching, bench_opencv, instance_queries,
                           print_opencv, track_all)
from permask.trackers.lk import LKTracker


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


def parse_args() -> tuple[Settings, set[int], bool, dict]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke version (< 3 min)")
    ap.add_argument("--items", default="1,2,3,4,5,6", help="comma-separated items to run")
    ap.add_argument("--out", type=Path, help="output folder (default benchmarks/results[/quick])")
    ap.add_argument("--lk", nargs="*", default=[], metavar="KEY=VALUE",
                    help="LKConfig settings for the lk of items 1, 3 and 4 (default: lk's own)")
    args = ap.parse_args()
    settings = QUICK if args.quick else FULL
    if args.out:
        settings = dataclasses.replace(settings, out_dir=args.out)
    lk = {k: parse_value(v) for k, v in (o.split("=", 1) for o in args.lk)}
    return settings, {int(i) for i in args.items.split(",")}, args.quick, lk


def main() -> None:
    settings, items, quick, lk = parse_args()
    started = time.perf_counter()
    results = Results(machine_info(), {k: (str(v) if isinstance(v, Path) else v)
                                       for k, v in dataclasses.asdict(settings).items()} | {"lk": lk})
    tracker = LKTracker(**lk)
    with tempfile.TemporaryDirectory(prefix="permask_perf_") as tmp:
        work = Path(tmp)
        if items & {1, 3, 4}:
            scene = demo_scene(num_objects=settings.batch_instances)
            queries = instance_queries(scene)
        if 1 in items or 4 in items:
            if 1 in items:
                print(f"1. batching: {settings.batch_instances} instances, per mask vs one call",
                      flush=True)
                results.batching, tracked = bench_batching(scene, queries, settings.repeats, tracker)
                b = results.batching
                print(f"  per mask {b.per_mask_s:.2f} s, one call {b.one_call_s:.2f} s "
                      f"-> {b.ratio:.2f}x (target <= {TARGET_BATCHING}x)", flush=True)
                print(f"  points handed to LK: per mask {b.per_mask_lk_points}, one call "
                      f"{b.one_call_lk_points}; per such point {b.ratio_per_lk_point:.2f}x",
                      flush=True)
            else:
                tracked = track_all(scene, queries, tracker)
        if 2 in items:
            print("2. one process vs one process per instance", flush=True)
            results.processes = bench_processes(settings.process_counts, work / "processes")
        if 3 in items:
            print("3. lk inside vs outside OpenCV", flush=True)
            results.opencv = bench_opencv(scene, queries, tracker, settings.repeats)
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


if __name__ == "__main__":
    main()
