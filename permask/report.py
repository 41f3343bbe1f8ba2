"""The end-of-run table and the list of outputs, printed for a person."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table

from permask.pipeline import RunReport

# (metrics key, header, format); ground-truth columns only appear when some instance has them
GT_FREE_COLUMNS = [("points", "points", "{:d}"), ("visible_at_end", "vis@end", "{:.0%}"),
                   ("tracked_at_end", "trk@end", "{:.0%}"),
                   ("mask_adherence", "mask", "{:.2f}")]
GT_COLUMNS = [("AJ", "AJ", "{:.3f}"), ("delta_avg", "d_avg", "{:.3f}"), ("OA", "OA", "{:.3f}"),
              ("median_error_cm", "err cm", "{:.1f}")]
# the published protocols' headline figures of the whole run: (protocol, [(key, name, format)])
PROTOCOL_LINES = [("tapvid3d", [("tapvid3d_AJ", "3D-AJ", "{:.3f}"), ("tapvid3d_APD", "APD", "{:.3f}"),
                                ("tapvid3d_OA", "OA", "{:.3f}")]),
                  ("tapvid2d", [("tapvid2d_AJ", "AJ", "{:.3f}"),
                                ("tapvid2d_delta_avg", "<d_avg", "{:.3f}"),
                                ("tapvid2d_OA", "OA", "{:.3f}")]),
                  ("mvtracker", [("mvtracker_AJ", "AJ", "{:.1f}%"),
                                 ("mvtracker_delta_avg", "d_avg", "{:.1f}%"),
                                 ("mvtracker_MTE", "MTE", "{:.2f} cm")])]
PROTOCOL_NAMES = {"tapvid3d": "TAPVid-3D", "tapvid2d": "TAP-Vid 2D", "mvtracker": "MVTracker"}
LEGEND = ("vis@end: flagged visible at the last frame; trk@end: visible there and inside its mask; "
          "mask: mask adherence; AJ, d_avg (delta_avg), OA: against ground truth; err cm: median "
          "3D error")


def _fmt(value, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return pattern.format(int(value) if pattern == "{:d}" else value)


def print_report(report: RunReport, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: room for every column
            console.width = 120
    has_gt = any("AJ" in o.metrics for o in report.outcomes.values())
    COLUMNS = GT_FREE_COLUMNS + (GT_COLUMNS if has_gt else [])
    # no vertical rules and headers never cut: every column fits an 80-column terminal
    table = Table(title=f"{report.base_name}: tracker {report.tracker}"
                  f"{', joint' if report.tracking == 'joint' else ''}, per instance",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("instance", no_wrap=True)
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for instance_id, outcome in report.outcomes.items():
        table.add_row(instance_id, *[_fmt(outcome.metrics.get(k), p) for k, _, p in COLUMNS])
    if report.outcomes:
        table.add_row("overall", *[_fmt(report.overall.get(k), p) for k, _, p in COLUMNS],
                      style="bold")
    for instance_id, why in report.skipped.items():
        table.add_row(instance_id, f"skipped: {why}", *[""] * (len(COLUMNS) - 1), style="yellow")
    console.print(table)
    console.print(LEGEND, style="dim")
    for protocol, figures in PROTOCOL_LINES:
        if not any(k in report.overall for k, _, _ in figures):
            continue
        shown = ", ".join(f"{name} {_fmt(report.overall.get(k), p)}" for k, name, p in figures)
        mode = report.metric_modes.get(protocol, "")
        console.print(f"{PROTOCOL_NAMES[protocol]} (all instances): {shown}  [dim]\\[{mode}][/dim]")
    if report.reused:
        console.print(f"reused {len(report.reused)} finished instance(s) of an earlier run in this "
                      f"folder: {', '.join(report.reused)}")
    console.print(f"outputs in [bold]{report.output_dir}[/bold]:")
    for name, path in report.files.items():
        console.print(f"  {name:14s} {path}")
    for instance_id, outcome in report.outcomes.items():
        for kind, path in outcome.files.items():
            console.print(f"  {instance_id} {kind:8s} {path}")
    if "view_script" in report.files:
        scene = f"{report.files['scene_rrd']} " if "scene_rrd" in report.files else ""
        console.print(f"view all instances: [bold]bash {report.files['view_script']}[/bold]  "
                      f"or: rerun {scene}{report.files.get('combined_rrd')}")
