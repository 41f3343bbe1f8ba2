"""Per-mask tracking with the learned trackers costs one video encoding (issue 12, part 3).

The real upstream architectures (`../shared/upstream`, built by `tests/upstream_models.py` with
random weights: the released models' shapes and compute) run on the CPU, for `cotracker3_offline`
and `mvtracker`, on demo scenes with 8 objects at each of `--sizes` (96x128: small objects, 4 to
300 query points each; 192x256: every instance at the default query budget of 300 points):

1. per mask: the `track` calls of N = 1, 4, 8 instances on one tracker object (the encoder's
   output reused across them: the default) against ONE `track` call on all their points (a
   synthetic instance whose mask is the union of theirs). Each pass starts with an empty cache,
   so it pays its encodings; best of `--repeats`. Per mask without the reuse (every call encodes
   the video again, as before; `tracker.encoder_cache_mb=0`) is the same pass plus, for each
   reused encoding, the mean time an encoding took in it (`tests/test_upstream.py` shows the
   tracks are the same bit for bit; running it would add N - 1 encodings per view).
2. the cost of one call that reuses the encoding, fitted as seconds = fixed + per point x points
   over every such call of the passes: the fixed part (upstream's support grid and virtual
   tracks, paid by every call) is what per mask pays N times and one call once.
3. processes: one `python run.py` for N instances against N processes with
   `instances=[instance_k]` (the old way: each imports torch, loads the model and encodes), on
   the last scene size.

    python benchmarks/learned_per_mask.py --frames 8 --mvtracker-size 96x128   # ~15 min, quiet 2 cores
    python benchmarks/learned_per_mask.py --quick     # N = 1, 4; one size; no processes; ~2 min

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
from perf_processes import one_run_vs_processes  # noqa: E402
from perf_report import table  # noqa: E402
from perf_tracking import instance_queries  # noqa: E402
from permask.trackers.cotracker import CoTrackerTracker  # noqa: E402
from permask.trackers.joint import track_jointly  # noqa: E402
from permask.trackers.mvtracker import MVTrackerTracker  # noqa: E402
from tests import upstream_models as um  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET = 1.3  # per mask, N = 8, against one call on all their points


@dataclass
class Row:
    """Seconds for N instances: per mask with and without reuse, one call on all their points."""

    tracker: str
    scene: str  # HxW of the demo scene
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
class Call:
    """Best seconds of one per-mask call that reused the video encoding, and its query points."""

    tracker: str
    points: int
    seconds: float


@dataclass
class ProcessRow:
    """Wall seconds of one `run.py` for N instances and of N single-instance runs."""

    tracker: str
    scene: str
    instances: int
    one_run_s: float
    processes_s: float


@dataclass
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    rows: list[Row] = field(default_factory=list)
    processes: list[ProcessRow] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


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

def bench_per_mask(name: str, kw: dict, scene, size: str, counts: list[int], repeats: int
                   ) -> tuple[list[Row], list[Call]]:
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
            cache.clear()  # one call on all points: what `tracking=joint` runs
            one[n] = min(one[n], timed(track_jointly, tracker, scene, dict(queries[:n]))[0])
    rows = []
    for n in counts:
        per_mask = float(sum(calls[:n]))
        points = sum(len(q) for _, q in queries[:n])
        row = Row(name, size, n, points, per_mask, per_mask + skipped[n - 1] * encode_s, one[n])
        rows.append(row)
        print(f"  {name} {size} N={n}: per mask {row.per_mask_s:6.1f} s ({row.ratio:.2f}x), without "
              f"reuse {row.per_mask_no_reuse_s:6.1f} s ({row.ratio_no_reuse:.2f}x), one call "
              f"{row.one_call_s:6.1f} s, {row.points} points; one encoding {encode_s:.1f} s",
              flush=True)
    reused = [Call(name, len(q), calls[k]) for k, (_, q) in enumerate(queries)
              if k > 0]  # the first call of a pass encodes, the others reuse
    return rows, reused


def call_cost(calls: list[Call]) -> tuple[float, float]:
    """(fixed seconds, seconds per point) of a least-squares line through the calls."""
    points = np.array([c.points for c in calls], float)
    design = np.stack([np.ones_like(points), points], axis=1)
    fixed, per_point = np.linalg.lstsq(design, [c.seconds for c in calls], rcond=None)[0]
    return float(fixed), float(per_point)


def bench_processes(name: str, kw: dict, demo: list[str], size: str, counts: list[int],
                    work: Path) -> list[ProcessRow]:
    base = [*demo, *overrides(name, kw), "record.enabled=false"]
    rows = []
    for n in counts:
        one, old = one_run_vs_processes(base, n, work / f"{name}_n{n}")
        rows.append(ProcessRow(name, size, n, one, old))
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
    rows = [[r.tracker, r.scene, r.instances, r.points, f"{r.per_mask_s:.1f} s",
             f"{r.one_call_s:.1f} s", f"**{r.ratio:.2f}x**", f"{r.per_mask_no_reuse_s:.1f} s",
             f"{r.ratio_no_reuse:.2f}x"] for r in results.rows]
    text = [f"# Learned trackers: per mask against one call\n\n`{command}`\n\n",
            f"Scenes: demo, {s['views']} views (CoTracker3: {s['cotracker_views']}; per view, "
            f"every figure scales with the views), {s['frames']} frames, 8 objects, at "
            f"{', '.join(s['sizes'])} pixels; default queries (first frame, at most 300 per "
            f"instance). {s['model_sizes']}. Real upstream architectures, random weights, CPU; "
            f"best of {s['repeats']}.\n\n",
            table(["tracker", "scene", "N", "points", "per mask (reuse)", "one call", "ratio",
                   "per mask, no reuse (est.)", "ratio"], rows),
            f"\nTarget: per mask with N = 8 at most {TARGET}x one call.\n"]
    costs = [[name, f"{fixed:.2f} s", f"{1000 * per_point:.1f} ms", len(calls)]
             for name, calls in calls_by_tracker(results).items()
             for fixed, per_point in [call_cost(calls)]]
    text += ["\n## One call that reuses the encoding: fixed + per point\n\n",
             "Least squares over every per-mask call after the first of a pass (all sizes):\n\n",
             table(["tracker", "fixed per call", "per query point", "calls"], costs)]
    if results.processes:
        prow = [[p.tracker, p.scene, p.instances, f"{p.one_run_s:.1f} s",
                 f"{p.processes_s:.1f} s", f"{p.processes_s / p.one_run_s:.2f}x faster"]
                for p in results.processes]
        text += ["\n## One run against one process per instance (the old way)\n\n",
                 table(["tracker", "scene", "N", "one run.py", "N processes", "one run"], prow)]
    text.append("\n## Machine\n\n" + "".join(f"- {k}: {v}\n" for k, v in results.machine.items()))
    text.append(f"- load average at end: {load_average()}\n")
    return "".join(text)


def calls_by_tracker(results: Results) -> dict[str, list[Call]]:
    names = dict.fromkeys(c.tracker for c in results.calls)
    return {name: [c for c in results.calls if c.tracker == name] for name in names}


def plot(results: Results, path: Path) -> Path:
    """Per tracker: the ratio to one call against N per scene size (with and without the reuse),
    and the seconds of each reused call against its points with the fitted line."""
    names = list(dict.fromkeys(r.tracker for r in results.rows))
    sizes = list(dict.fromkeys(r.scene for r in results.rows))
    fig, axes = plt.subplots(2, len(names), figsize=(5.2 * len(names), 7.2), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for col, name in enumerate(names):
        ax = axes[0][col]
        for size, colour in zip(sizes, colours):
            rows = [r for r in results.rows if r.tracker == name and r.scene == size]
            n = [r.instances for r in rows]
            ax.plot(n, [r.ratio_no_reuse for r in rows], "s--", color=colour, alpha=0.5,
                    label=f"{size}: each call encodes (before)")
            ax.plot(n, [r.ratio for r in rows], "o-", color=colour,
                    label=f"{size}: one encoding per scene")
        ax.axhline(TARGET, ls=":", color="grey", label=f"target {TARGET}x")
        ax.axhline(1.0, lw=0.8, color="black")
        top = max([TARGET] + [r.ratio_no_reuse for r in results.rows if r.tracker == name])
        ax.set(title=f"{name}: per mask / one call on all points", xlabel="instances N",
               ylabel="ratio", xticks=sorted({r.instances for r in results.rows}),
               ylim=(0, 1.25 * top))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        ax = axes[1][col]
        calls = calls_by_tracker(results).get(name, [])
        if calls:
            fixed, per_point = call_cost(calls)
            x = np.array([0, max(c.points for c in calls)])
            ax.plot([c.points for c in calls], [c.seconds for c in calls], "o", color="tab:blue",
                    label="one per-mask call (encoding reused)")
            ax.plot(x, fixed + per_point * x, "-", color="tab:orange",
                    label=f"{fixed:.2f} s + {1000 * per_point:.1f} ms x points")
        ax.set(title=f"{name}: seconds of one call", xlabel="query points of the instance",
               ylabel="seconds (CPU)", xlim=(0, None), ylim=(0, None))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Per-mask tracking, real upstream architectures (random weights, CPU)",
                 fontsize=10)
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
    ap.add_argument("--sizes", default="96x128,192x256", help="scenes HxW, comma separated")
    ap.add_argument("--mvtracker-size", default="384x512", help="tracker.input_size (HxW)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--process-counts", default="4", help="N for item 3 ('' to skip)")
    ap.add_argument("--process-trackers", default="cotracker3_offline,mvtracker",
                    help="trackers for item 3")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    counts = [1, 4] if args.quick else [1, 4, 8]
    process_counts = [] if args.quick or not args.process_counts else [
        int(n) for n in args.process_counts.split(",")]
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    sizes = args.sizes.split(",")[:1] if args.quick else args.sizes.split(",")
    mv_size = [int(x) for x in args.mvtracker_size.split("x")]

    def demo(views: int, size: str) -> dict[str, int]:
        H, W = (int(x) for x in size.split("x"))
        return dict(num_views=views, num_frames=args.frames, height=H, width=W, num_objects=8)

    def views_of(name: str) -> int:
        return args.cotracker_views if name.startswith("cotracker") else args.views

    command = "python " + " ".join([f"benchmarks/{Path(__file__).name}", *sys.argv[1:]])
    results = Results(machine_info(), {
        "views": args.views, "cotracker_views": args.cotracker_views, "frames": args.frames,
        "sizes": sizes, "repeats": args.repeats,
        "model_sizes": f"CoTracker3 resizes every frame to 384x512 itself; MVTracker sees "
                       f"tracker.input_size = {mv_size[0]}x{mv_size[1]}"})
    with tempfile.TemporaryDirectory() as tmp:
        ckpts = checkpoints(Path(tmp))
        for name in args.trackers.split(","):
            kw = settings_of(name, ckpts[name], mv_size)
            for size in sizes:
                scene = demo_scene(**demo(views_of(name), size))
                rows, calls = bench_per_mask(name, kw, scene, size, counts, args.repeats)
                results.rows += rows
                results.calls += calls
            if process_counts and name in args.process_trackers.split(","):
                params = [f"input.demo.{k}={v}" for k, v in demo(views_of(name), sizes[-1]).items()]
                results.processes += bench_processes(name, kw, params, sizes[-1],
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
