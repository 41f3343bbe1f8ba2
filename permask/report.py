"""The end-of-run table and the list of outputs, printed for a person."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from permask.pipeline import RunReport

COLUMNS = [("points", "points", "{:d}"), ("visible_at_end", "visible@end", "{:.0%}"),
           ("AJ", "AJ", "{:.3f}"), ("delta_avg", "delta_avg", "{:.3f}"), ("OA", "OA", "{:.3f}"),
           ("median_error_cm", "median err (cm)", "{:.1f}")]


def _fmt(value, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return pattern.format(int(value) if pattern == "{:d}" else value)


def print_report(report: RunReport, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{report.base_name}: tracker {report.tracker}, per instance")
    table.add_column("instance")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for instance_id, outcome in report.outcomes.items():
        table.add_row(instance_id, *[_fmt(outcome.metrics.get(k), p) for k, _, p in COLUMNS])
    if report.outcomes:
        table.add_row("overall", *[_fmt(report.overall.get(k), p) for k, _, p in COLUMNS],
                      style="bold")
    for instance_id, why in report.skipped.items():
        table.add_row(instance_id, f"skipped: {why}", *[""] * (len(COLUMNS) - 1), style="yellow")
    console.print(table)
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
        console.print(f"view all instances: [bold]bash {report.files['view_script']}[/bold]  "
                      f"or: rerun {report.files.get('combined_rrd')}")
