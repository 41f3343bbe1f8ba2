"""Per-mask tracking with the learned trackers costs one video encoding (issue 12, part 3).

The real upstream architectures (`../shared/upstream`, built by `tests/upstream_models.py` with
random weights: the released models' shapes and compute) run on the CPU, for `cotracker3_offline`
and `mvtracker`, on a demo scene with 8 objects:

1. per mask: the `track` calls of N = 1, 4, 8 instances on one tracker object (the encoder's
   output reused across them: the default) against ONE `track` call on all their points (a
   synthetic instance whose mask is the union of theirs). Each pass starts with an empty cache,
   so it pays its encodings; best of `--repeats`. Per mask without the reuse (every call encodes
   the video again, as before; `tracker.encoder_cache_mb=0`) is the same pass plus, for each
   reused encoding, the mean time an encoding took in it (`tests/test_upstream.py` shows the
   tracks are the same bit for bit; running it would add N - 1 encodings per view).
2. processes: one `python run.py` for N instances against N processes with
   `instances=[instance_k]` (the old way: each imports torch, loads the model and encodes).

    python benchmarks/learned_per_mask.py --frames 8 --mvtracker-size 96x128   # ~30 min, loaded 2 cores
    python benchmarks/learned_per_mask.py --quick     # N = 1, 4; no processes; ~4 min

Needs the upstream environment (see docs/learned_trackers.md, `.ci/run`). Writes
learned_per_mask.md / .json / .png into benchmarks/results/ (`--quick`: results/quick/).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after use)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import demo_scene, timed  # noqa: E402 (benchmarks/ is on sys.path)
from perf_machine import git, load_average  # noqa: E402
from perf_processes import run_cli  # noqa: E402
from perf_report import table  # noqa: E402
from perf_tracking import instance_queries, union_scene  # noqa: E402
from permask.trackers.cotracker import CoTrackerTracker  # noqa: E402
from permask.trackers.mvtracker import MVTrackerTracker  # noqa: E402
from tests import upstream_models as um  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET = 1.3  # per mask, N = 8, against one call on all their points


@dataclass
class Row:
    """Seconds for N instances: per mask with and without reuse, one call on all their points."""

    tracker: str
    instances: int
    points: int
    per_mask_s: float
    per_mask_no_reuse_s: float
    one_call_s: float

    @property
    def ratio(self) -> float:
        return self.per_mask_s / self.one_call_s

    @property
    def ratio_no_reuse(self) -> float:
        return self.per_mask_no_reuse_s / self.one_call_s


@dataclass
class ProcessRow:
    """Wall seconds of one `run.py` for N instances and of N single-instance runs."""

    tracker: str
    instances: int
    one_run_s: float
    processes_s: float


@dataclass
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    rows: list[Row] = field(default_factory=list)
    processes: list[ProcessRow] = field(default_factory=list)


# ------------------------------------------------------------------------------- trackers

def checkpoints(work: Path) -> dict[str, Path]:
    """Random-weight checkpoints of the real upstream models, saved as their loaders read them."""
    return {"cotracker3_offline": um.save_cotracker(work, online=False),
            "mvtracker": um.save_mvtracker(work)}


def settings_of(name: str, ckpt: Path, input_size: list[int]) -> dict[str, object]:
    """The tracker's settings (as keyword arguments; the same as run.py overrides)."""
    repo = um.folder("cotracker" if name.startswith("cotracker") else "mvtracker")
    kw: dict[str, object] = dict(hub_repo=str(repo), checkpoint=str(ckpt), device="cpu")
    if name == "mvtracker":
        kw["input_size"] = list(input_size)
    return kw


def make_tracker(name: str, kw: dict[str, object], **extra):
    cls = CoTrackerTracker if name.startswith("cotracker") else MVTrackerTracker
    tracker = cls(**kw, **extra)
    tracker.load()
    return tracker


def overrides(name: str, kw: dict[str, object]) -> list[str]:
    return [f"tracker={name}"] + [f"tracker.{k}={v}".replace(" ", "") for k, v in kw.items()]


# ------------------------------------------------------------------------------- measurements

def bench_per_mask(name: str, kw: dict, scene, counts: list[int], repeats: int) -> list[Row]:
    """Rows for N in counts: per-mask passes (one encoding per scene) against one call.

    One pass tracks the first max(counts) instances in order from an empty cache; its first N
    calls are exactly a pass over N instances (same order, same cache states), so their sum is
    the per-mask time for N. Without the reuse, each call would encode again: that figure adds,
    per reused encoding, the mean seconds one encoding took in the pass (tests/test_upstream.py
    shows the tracks are bit for bit the same either way)."""
    tracker = make_tracker(name, kw)
    cache = tracker.encoders
    queries = list(instance_queries(scene).items())[:max(counts)]
    calls = [np.inf] * len(queries)  # best seconds of the k-th call of a pass
    skipped = [0] * len(queries)  # encodings the first k+1 calls reused
    one = dict.fromkeys(counts, np.inf)
    encode_s = 0.0
    for _ in range(repeats):
        cache.clear()
        cache.hits = cache.misses = 0
        cache.encode_s = 0.0
        for k, (_, q) in enumerate(queries):
            calls[k] = min(calls[k], timed(tracker.track, scene, q)[0])
            skipped[k] = cache.hits
        encode_s = cache.encode_s / max(cache.misses, 1)
        for n in counts:
            scene_all, everything = union_scene(scene, dict(queries[:n]))
            cache.clear()
            one[n] = min(one[n], timed(tracker.track, scene_all, everything)[0])
    rows = []
    for n in counts:
        per_mask = float(sum(calls[:n]))
        points = sum(len(q) for _, q in queries[:n])
        row = Row(name, n, points, per_mask, per_mask + skipped[n - 1] * encode_s, one[n])
        rows.append(row)
        print(f"  {name} N={n}: per mask {row.per_mask_s:6.1f} s ({row.ratio:.2f}x), without "
              f"reuse {row.per_mask_no_reuse_s:6.1f} s ({row.ratio_no_reuse:.2f}x), one call "
              f"{row.one_call_s:6.1f} s, {row.points} points; one encoding {encode_s:.1f} s",
              flush=True)
    return rows


def bench_processes(name: str, kw: dict, demo: list[str], counts: list[int], work: Path
                    ) -> list[ProcessRow]:
    base = [*demo, *overrides(name, kw), "record.enabled=false"]
    rows = []
    for n in counts:
        chosen = ",".join(f"instance_{k}" for k in range(n))
        one = run_cli([*base, f"instances=[{chosen}]"], work / f"{name}_n{n}_one")
        old = sum(run_cli([*base, f"instances=[instance_{k}]"], work / f"{name}_n{n}_{k}")
                  for k in range(n))
        rows.append(ProcessRow(name, n, one, old))
        print(f"  {name} N={n}: one run {one:6.1f} s, {n} processes {old:6.1f} s -> "
              f"{old / one:.2f}x faster", flush=True)
    return rows


# ------------------------------------------------------------------------------- outputs

def machine_info() -> dict[str, str]:
    import platform

    import torch
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"platform": platform.platform(), "CPUs usable": str(usable),
            "torch": f"{torch.__version__}, {torch.get_num_threads()} threads",
            "python": platform.python_version(),
            "git": git("rev-parse", "--short", "HEAD"),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load average at start": load_average()}


def markdown(results: Results, command: str) -> str:
    s = results.settings
    rows = [[r.tracker, r.instances, r.points, f"{r.per_mask_s:.1f} s", f"{r.one_call_s:.1f} s",
             f"**{r.ratio:.2f}x**", f"{r.per_mask_no_reuse_s:.1f} s", f"{r.ratio_no_reuse:.2f}x"]
            for r in results.rows]
    text = [f"# Learned trackers: per mask against one call\n\n`{command}`\n\n",
            f"Scene: demo, {s['views']} views (CoTracker3: {s['cotracker_views']}; per view, "
            f"every figure scales with the views), {s['frames']} frames, {s['height']}x{s['width']} "
            f"pixels, 8 objects, default queries (first frame, at most 300 per instance). "
            f"{s['model_sizes']}. Real upstream architectures, random weights, CPU; best of "
            f"{s['repeats']}.\n\n",
            table(["tracker", "N", "points", "per mask (reuse)", "one call", "ratio",
                   "per mask, no reuse (est.)", "ratio"], rows),
            f"\nTarget: per mask with N = 8 at most {TARGET}x one call.\n"]
    if results.processes:
        prow = [[p.tracker, p.instances, f"{p.one_run_s:.1f} s", f"{p.processes_s:.1f} s",
                 f"{p.processes_s / p.one_run_s:.2f}x faster"] for p in results.processes]
        text += ["\n## One run against one process per instance (the old way)\n\n",
                 table(["tracker", "N", "one run.py", "N processes", "one run"], prow)]
    text.append("\n## Machine\n\n" + "".join(f"- {k}: {v}\n" for k, v in results.machine.items()))
    text.append(f"- load average at end: {load_average()}\n")
    return "".join(text)


def plot(results: Results, path: Path) -> Path:
    names = sorted({r.tracker for r in results.rows})
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = [r for r in results.rows if r.tracker == name]
        n = [r.instances for r in rows]
        ax.plot(n, [r.per_mask_no_reuse_s for r in rows], "s--", color="tab:red",
                label="per mask, each call encodes (before)")
        ax.plot(n, [r.per_mask_s for r in rows], "o-", color="tab:blue",
                label="per mask, one encoding per scene")
        ax.plot(n, [r.one_call_s for r in rows], "^-", color="tab:green",
                label="one call on all their points")
        ax.plot(n, [TARGET * r.one_call_s for r in rows], ":", color="grey",
                label=f"target: {TARGET}x one call")
        ax.set(title=name, xlabel="instances N", ylabel="seconds (CPU)", xticks=n, ylim=(0, None))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Per-mask tracking, real upstream architectures (random weights)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 1, 4, no processes")
    ap.add_argument("--trackers", default="cotracker3_offline,mvtracker")
    ap.add_argument("--views", type=int, default=2, help="views (mvtracker)")
    ap.add_argument("--cotracker-views", type=int, default=1,
                    help="views for the per-view CoTracker3 (every figure scales with it)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="96x128", help="scene HxW")
    ap.add_argument("--mvtracker-size", default="384x512", help="tracker.input_size (HxW)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--process-counts", default="4", help="N for item 2 ('' to skip)")
    ap.add_argument("--process-trackers", default="mvtracker", help="trackers for item 2")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    counts = [1, 4] if args.quick else [1, 4, 8]
    process_counts = [] if args.quick or not args.process_counts else [
        int(n) for n in args.process_counts.split(",")]
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    H, W = (int(x) for x in args.size.split("x"))
    mv_size = [int(x) for x in args.mvtracker_size.split("x")]

    def demo(views: int) -> list[str]:
        return [f"input.demo.num_views={views}", f"input.demo.num_frames={args.frames}",
                f"input.demo.height={H}", f"input.demo.width={W}", "input.demo.num_objects=8"]

    def views_of(name: str) -> int:
        return args.cotracker_views if name.startswith("cotracker") else args.views

    command = "python " + " ".join([f"benchmarks/{Path(__file__).name}", *sys.argv[1:]])
    results = Results(machine_info(), {
        "views": args.views, "cotracker_views": args.cotracker_views, "frames": args.frames, "height": H, "width": W,
        "repeats": args.repeats,
        "model_sizes": f"CoTracker3 resizes every frame to 384x512 itself; MVTracker sees "
                       f"tracker.input_size = {mv_size[0]}x{mv_size[1]}"})
    with tempfile.TemporaryDirectory() as tmp:
        ckpts = checkpoints(Path(tmp))
        for name in args.trackers.split(","):
            kw = settings_of(name, ckpts[name], mv_size)
            scene = demo_scene(num_views=views_of(name), num_frames=args.frames, height=H,
                               width=W, num_objects=8)
            results.rows += bench_per_mask(name, kw, scene, counts, args.repeats)
            if process_counts and name in args.process_trackers.split(","):
                results.processes += bench_processes(name, kw, demo(views_of(name)),
                                                     process_counts, Path(tmp))
    out.mkdir(parents=True, exist_ok=True)
    (out / "learned_per_mask.md").write_text(markdown(results, command))
    data = asdict(results)
    for row, raw in zip(results.rows, data["rows"]):
        raw.update(ratio=row.ratio, ratio_no_reuse=row.ratio_no_reuse)
    (out / "learned_per_mask.json").write_text(json.dumps(data, indent=1))
    print(f"wrote {plot(results, out / 'learned_per_mask.png')} and the .md / .json beside it")


if __name__ == "__main__":
    main()
