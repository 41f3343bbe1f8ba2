"""Writes the results of `benchmarks/perf.py`: perf.md (machine + tables), perf.json (raw figures)
and the PNG plots (processes.png, profile.png, scaling.png)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after use)

from permask.demo.params import DemoParams  # noqa: E402
from perf_settings import TARGET_BATCHING, TARGET_MEMORY, TARGET_OUTSIDE  # noqa: E402

MiB = 2**20


def write_outputs(results, out_dir: Path, *, quick: bool) -> list[Path]:
    """Write every output for the measured items into out_dir; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "perf.md", out_dir / "perf.json"]
    paths[0].write_text(markdown(results, quick))
    paths[1].write_text(json.dumps(raw(results), indent=1))
    if results.processes:
        paths.append(plot_processes(results.processes, out_dir / "processes.png"))
    if results.opencv:
        paths.append(plot_profile(results.opencv, out_dir / "profile.png"))
    if results.scaling:
        paths.append(plot_scaling(results.scaling, out_dir / "scaling.png"))
    return paths


def raw(results) -> dict:
    """The results as plain data, with the derived ratios beside them."""
    data = dataclasses.asdict(results)
    if results.batching:
        data["batching"]["ratio"] = results.batching.ratio
    for row, out in zip(results.processes, data["processes"]):
        out["speedup"] = row.speedup
    if results.opencv:
        data["opencv"]["outside"] = results.opencv.outside
        data["opencv"]["outside_timed"] = results.opencv.outside_timed
        data["opencv"]["costs"]["floor"] = results.opencv.costs.floor
    for row, out in zip(results.memory, data["memory"]):
        out["ratio"] = row.ratio
    return data


# ------------------------------------------------------------------------------- markdown


def table(header: list[str], rows: list[list[object]], align: str = "") -> str:
    """A markdown table; `align` per column: 'l' or 'r' (default: first left, others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = [header, rule, *[[str(c) for c in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def markdown(results, quick: bool) -> str:
    command = "python benchmarks/perf.py" + (" --quick" if quick else "")
    parts = [f"# permask performance\n\n`{command}`: every figure against a baseline measured in "
             "the same run (see the docstring of `benchmarks/perf.py`). Timings are best of "
             f"{results.settings['repeats']} where in process, single runs for subprocesses and "
             "sweeps; other load on the machine shows in the load averages.\n",
             "## Machine\n\n" + table(["", ""], [[k, v] for k, v in results.machine.items()], "ll"),
             "## Summary\n\n" + summary(results)]
    for section in (batching_section, processes_section, opencv_section, recording_section,
                    memory_section, scaling_section):
        text = section(results)
        if text:
            parts.append(text)
    return "\n".join(parts)


def ratio(permask: float, baseline: float) -> str:
    """permask / baseline (lower is better), with the speed-up when permask is faster."""
    r = permask / baseline
    return f"{r:.2f}x" + (f" ({1 / r:.2f}x faster)" if r < 1 else "")


def summary(results) -> str:
    rows = []
    b = results.batching
    if b:
        rows.append(["1", f"tracking {b.instances} instances, {b.points} points: per mask "
                     f"({b.instances} `track` calls) vs one call on all points (union mask)",
                     f"{b.per_mask_s:.2f} s", f"{b.one_call_s:.2f} s", f"{b.ratio:.2f}x",
                     f"<= {TARGET_BATCHING}x", verdict(b.ratio <= TARGET_BATCHING)])
    for p in results.processes:
        rows.append(["2", f"N={p.instances}: one `run.py` vs {p.instances} `run.py "
                     "instances=[instance_k]`", f"{p.one_process_s:.1f} s",
                     f"{p.per_instance_processes_s:.1f} s",
                     ratio(p.one_process_s, p.per_instance_processes_s), "", ""])
    o = results.opencv
    if o:
        rows.append(["3", "`lk` time outside OpenCV (plain timers; under cProfile)",
                     f"{o.outside_timed:.1%}; {o.outside:.1%}", "", "", f"< {TARGET_OUTSIDE:.0%}",
                     verdict(o.outside_timed < TARGET_OUTSIDE)])
    r = results.recording
    if r:
        per = 1e6 / r.point_frames
        for name, pair in r.pairs.items():
            cols, naive = pair.columns, pair.naive
            rows.append(["4", f"writing {name}, per tracked point-frame: columns vs naive "
                         "per-frame `rr.log`", f"{cols.seconds * per:.2f} µs, "
                         f"{cols.bytes / r.point_frames:.0f} B", f"{naive.seconds * per:.2f} µs, "
                         f"{naive.bytes / r.point_frames:.0f} B",
                         ratio(cols.seconds, naive.seconds), "", ""])
        if r.cli_merge:
            rows.append(["4", f"one file of {r.instances} instances: `write_combined_recording` "
                         "vs `rerun rrd merge` of the per-instance files",
                         f"{r.combined.seconds:.2f} s, {r.combined.bytes / MiB:.0f} MiB",
                         f"{r.cli_merge.seconds:.2f} s, {r.cli_merge.bytes / MiB:.0f} MiB",
                         ratio(r.combined.seconds, r.cli_merge.seconds), "", ""])
    if results.memory:
        worst = max(m.ratio for m in results.memory)
        rows.append(["5", "working memory / decoded scene, " + ", ".join(
            f"N={m.instances}" for m in results.memory),
            " / ".join(f"{m.ratio:.2f}x" for m in results.memory), "", "",
            f"<= ~{TARGET_MEMORY:.0f}x", verdict(worst <= TARGET_MEMORY)])
    return (table(["#", "measure", "permask", "baseline", "permask / baseline", "target", ""],
                  rows, "llrrrll")
            + "\nRatios are permask's time over the baseline's: below 1 permask is faster.\n")


def batching_section(results) -> str:
    b = results.batching
    if not b:
        return ""
    rows = [[iid, f"{s:.3f}"] for iid, s in b.per_instance_s.items()]
    rows += [["sum (per mask)", f"{b.per_mask_s:.3f}"],
             [f"one call on all {b.points} points", f"{b.one_call_s:.3f}"]]
    return ("## 1. Per mask vs one call on all points\n\n"
            f"`DemoParams(num_objects={b.instances})`, default queries (`QueryConfig()`: first "
            "frame, 300 farthest points per instance), tracker `lk` with "
            + (f"`{' '.join(f'{k}={v}' for k, v in results.settings['lk'].items())}`"
               if results.settings.get("lk") else "its default config") + ". The "
            "one call tracks the concatenated queries as a synthetic instance whose mask is the "
            "union of the instances' masks. Seconds, best of the repeats:\n\n"
            + table(["track call", "seconds"], rows)
            + f"\nRatio per mask / one call: **{b.ratio:.2f}x** (target <= {TARGET_BATCHING}x).\n"
            + f"\nPoints handed to OpenCV's LK (forward and backward, one pass): per mask "
            f"{b.per_mask_lk_points}, one call {b.one_call_lk_points} "
            f"({b.per_mask_lk_points / max(b.one_call_lk_points, 1):.2f}x: the one call's single "
            "rigid model, on the union of the instances, drops the points off its motion from "
            "LK). Per point handed to LK, per mask / one call: "
            f"**{b.ratio_per_lk_point:.2f}x**.\n")


def processes_section(results) -> str:
    if not results.processes:
        return ""
    rows = [[p.instances, f"{p.one_process_s:.1f}", f"{p.per_instance_processes_s:.1f}",
             f"{p.speedup:.2f}x"] for p in results.processes]
    return ("## 2. One process vs one process per instance\n\n"
            "`python run.py input.demo.num_objects=N output_dir=D progress=false` against N "
            "processes `python run.py input.demo.num_objects=N instances=[instance_k] "
            "output_dir=D_k progress=false` (the old way); recordings on in both. Wall seconds:\n\n"
            + table(["N", "one process", "N processes", "speed-up"], rows)
            + "\n![processes](processes.png)\n")


def opencv_section(results) -> str:
    o = results.opencv
    if not o:
        return ""
    split = [["inside OpenCV (cv2 functions)", f"{o.cv2_s:.3f}", f"{o.cv2_s / o.profiled_s:.1%}"],
             ["numpy and other C builtins", f"{o.builtin_s:.3f}",
              f"{o.builtin_s / o.profiled_s:.1%}"],
             ["Python code (own time)", f"{o.python_s:.3f}", f"{o.python_s / o.profiled_s:.1%}"],
             ["total (profiled)", f"{o.profiled_s:.3f}", "100%"]]
    cv2_rows = [[f"`{h.label}`", h.calls, f"{h.tottime:.3f}"] for h in o.cv2_functions]
    hot = [[f"`{h.label}`", h.calls, f"{h.tottime:.3f}", f"{h.cumtime:.3f}"] for h in o.hotspots]
    return ("## 3. `lk` inside vs outside OpenCV\n\n"
            f"cProfile of the {o.calls} per-instance `track` calls of item 1 ({o.points} points in "
            "all; grey video already converted, as in a run). Outside OpenCV: "
            f"**{o.outside:.1%}**. The profiler inflates Python "
            f"calls (it adds a cost to every Python call, none inside C code); unprofiled "
            f"(fastest pass), the same calls took {o.wall_s:.2f} s, {o.cv2_timed_s:.2f} s of it "
            f"inside the cv2 functions (timers around them): **{o.outside_timed:.1%}** outside, "
            "the figure the target is judged on.\n\n"
            + table(["where", "seconds", "share"], split)
            + cost_model_text(o.costs)
            + "\nOpenCV functions:\n\n" + table(["function", "calls", "seconds"], cv2_rows)
            + "\nTop functions outside OpenCV by own time (tottime):\n\n"
            + table(["function", "calls", "tottime (s)", "cumtime (s)"], hot)
            + "\n![profile](profile.png)\n")


def cost_model_text(m) -> str:
    """Item 3's split per step and per point-step (`perf_tracking.CostModel`)."""
    rows = [["per step (one frame of one call)", f"{m.outside_per_step_ms:.2f} ms",
             f"{m.cv2_per_step_ms:.2f} ms"],
            ["per point-step (one point over one frame, all views)",
             f"{m.outside_per_point_us:.2f} µs", f"{m.cv2_per_point_us:.2f} µs"]]
    return ("\nWhere the time comes from: the same calls on the first "
            f"{m.small} points of each instance against all of them ({m.steps} steps in all; "
            "plain timers, fastest pass), split along a straight line into a cost per step and "
            "a cost per point-step, each side of OpenCV:\n\n"
            + table(["cost", "outside OpenCV", "inside OpenCV"], rows)
            + f"\nWith no cost per step at all, the per-point work alone would leave "
            f"**{m.floor:.0%}** outside OpenCV.\n")


def recording_section(results) -> str:
    r = results.recording
    if not r:
        return ""

    def row(name: str, w, files: int) -> list[object]:
        return [name, files, f"{w.seconds:.3f}", f"{w.bytes / MiB:.2f}",
                f"{w.seconds / r.point_frames * 1e6:.2f}", f"{w.bytes / r.point_frames:.0f}"]

    rows = []
    for name, pair in r.pairs.items():
        rows.append(row(f"{name}: columns (permask)", pair.columns, r.instances))
        rows.append(row(f"{name}: naive per-frame writer", pair.naive, r.instances))
    rows.append(row("`write_instance_recording` as in a run (+ JPEG video, depth clouds)",
                    r.default_context, r.instances))
    rows.append(row(f"`write_combined_recording`, {r.instances} instances, as in a run",
                    r.combined, 1))
    if r.cli_merge:
        rows.append(row("`rerun rrd merge` of the per-instance files above", r.cli_merge, 1))
    return ("## 4. Writing the recordings\n\n"
            f"The {r.instances} instances of item 1, {r.point_frames} tracked point-frames "
            "(visible, finite) in all. Contents: *track points* = the visible points per frame "
            "(`write_points_columns`: the `send_columns` call `record.log_instance_tracks` makes "
            "for them); *+ trails* = also the queries and the trail polylines "
            "(`log_instance_tracks(masks=False)`); *per-instance file* "
            "= `record.write_instance_recording` with a cameras-only context (no video, no depth "
            "cloud), i.e. + cameras and the instance's masks. The naive writer "
            "(`write_naive_recording` in `benchmarks/perf_recording.py`) writes the same content row by "
            "row: per frame `rec.set_time` and one `rec.log` per entity. Best of the repeats; "
            "per point-frame = everything in the files over the tracked point-frames:\n\n"
            + table(["writer", "files", "seconds", "MiB", "µs / point-frame",
                     "bytes / point-frame"], rows)
            + "\n" + ("" if r.cli_merge else "The `rerun` CLI was not found: no merge timing.\n"))


def memory_section(results) -> str:
    if not results.memory:
        return ""
    rows = [[m.instances, f"{m.scene / MiB:.1f}", f"{m.peak / MiB:.0f}", f"{m.work / MiB:.0f}",
             f"{m.ratio:.2f}x"] for m in results.memory]
    return ("## 5. Peak memory vs decoded scene\n\n"
            "`benchmarks/memory.py`: peak RSS of one `python run.py` (N = 1 runs instance_0 of a "
            "3-object scene) minus that of a process that only imports what a run imports, "
            "against rgbs + depths + masks as loaded:\n\n"
            + table(["N", "decoded scene (MiB)", "peak (MiB)", "working (MiB)",
                     "working / scene"], rows))


def sweep_shape(point) -> tuple[int, int]:
    """(frames, views) of a sweep point's scene."""
    defaults = DemoParams()
    frames = point.value if point.factor == "frames" else defaults.num_frames
    views = point.value if point.factor == "views" else defaults.num_views
    return frames, views


def scaling_section(results) -> str:
    if not results.scaling:
        return ""
    rows = []
    for p in results.scaling:
        frames, views = sweep_shape(p)
        rows.append([p.factor, p.value, p.points, f"{p.track_s:.2f}", f"{p.run_s:.2f}",
                     f"{p.track_s / (p.points * frames * views) * 1e6:.2f}"])
    return ("## 6. How cost grows\n\n"
            "`pipeline.run` in this process with the overrides of `python run.py` (default demo: "
            "4 views, 40 frames, 3 instances, 192x256, 300 points per instance); tracking = the "
            "run's `track` calls. Points per instance: instance_0 only, 384x512, "
            "`query.sampling=uniform query.dedup_radius=0.002 query.max_points=N`.\n\n"
            + table(["factor", "value", "points (all instances)", "tracking (s)", "whole run (s)",
                     "tracking µs / point-frame-view"], rows, "lrrrrr")
            + "\n![scaling](scaling.png)\n")


# ------------------------------------------------------------------------------- plots


def plot_processes(rows, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    n = [r.instances for r in rows]
    ax.plot(n, [r.one_process_s for r in rows], "o-", label="one process (per mask)")
    ax.plot(n, [r.per_instance_processes_s for r in rows], "s-",
            label="one process per instance")
    for r in rows:
        ax.annotate(f"{r.speedup:.1f}x", (r.instances, r.per_instance_processes_s),
                    textcoords="offset points", xytext=(-10, 6), fontsize=8)
    ax.set(xlabel="instances N", ylabel="wall time (s)", title="run.py: one vs N processes")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def plot_profile(share, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5),
                                      gridspec_kw={"width_ratios": [1, 4]})
    parts = [("OpenCV", share.cv2_s, "tab:blue"), ("numpy/C builtins", share.builtin_s,
                                                   "tab:orange"),
             ("Python code", share.python_s, "tab:red")]
    bottom = 0.0
    for name, seconds, color in parts:
        left.bar(0, seconds / share.profiled_s, bottom=bottom, color=color, label=name)
        bottom += seconds / share.profiled_s
    inside = share.cv2_timed_s / share.wall_s  # the unprofiled pass: OpenCV, then the rest
    left.bar(1, inside, color="tab:blue")
    left.bar(1, 1 - inside, bottom=inside, color="tab:gray", label="outside OpenCV")
    left.axhline(1 - TARGET_OUTSIDE, color="k", ls="--", lw=1)
    left.set(xticks=[0, 1], xticklabels=["cProfile", "timers"], ylabel="share of time",
             ylim=(0, 1), title="lk track")
    left.legend(fontsize=8, loc="lower left")
    top = sorted([(h, "tab:blue") for h in share.cv2_functions]
                 + [(h, "tab:red" if ".py:" in h.label else "tab:orange")
                    for h in share.hotspots], key=lambda x: x[0].tottime)[-18:]
    right.barh([h.label[-60:] for h, _ in top], [h.tottime for h, _ in top],
               color=[c for _, c in top])
    right.set(xlabel="own time (s, profiled)", title="top functions by own time")
    right.tick_params(axis="y", labelsize=7)
    return save(fig, path)


def plot_scaling(points, path: Path) -> Path:
    factors = list(dict.fromkeys(p.factor for p in points))
    fig, axes = plt.subplots(1, len(factors), figsize=(4 * len(factors), 3.5), squeeze=False)
    for ax, factor in zip(axes[0], factors):
        rows = [p for p in points if p.factor == factor]
        x = [p.points if factor == "points per instance" else p.value for p in rows]
        ax.plot(x, [p.track_s for p in rows], "o-", label="tracking")
        ax.plot(x, [p.run_s for p in rows], "s-", label="whole run")
        if factor == "points per instance":
            ax.set(xscale="log", yscale="log")
        else:
            ax.set_ylim(bottom=0)
        ax.set(xlabel=factor, ylabel="seconds", title=f"vs {factor}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save(fig, path)


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
