"""The comparison in the terminal: printed at the end of a sweep (`CompareCallback`) and by
`python -m permask.compare`, so the user sees which tracker won each mask without opening
`comparison.md`.

One table per headline metric (AJ and median error with ground truth, else mask adherence and
tracked@end): masks as rows plus the point-weighted overall, runs as columns, the best of each row
in bold (ties all bold), and the number of masks each run wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from permask import tables

if TYPE_CHECKING:  # pragma: no cover
    from permask.compare.table import Comparison

GT_HEADLINE = ("AJ", "median_error_cm")
GT_FREE_HEADLINE = ("mask_adherence", "tracked_at_end")


def headline_metrics(comp: "Comparison") -> list[str]:
    """The metrics the terminal shows: ground-truth ones where there is truth, else GT-free."""
    wanted = GT_HEADLINE if comp.has("AJ") else GT_FREE_HEADLINE
    return [m for m in wanted if comp.has(m)]


def comparison_tables(comp: "Comparison") -> list[Table]:
    """One rich Table per headline metric."""
    overall = comp.overall_row()
    out = []
    for metric in headline_metrics(comp):
        table = Table(title=f"{tables.with_mode(metric, comp.modes)} per mask",
                      title_justify="left")
        table.add_column("mask", no_wrap=True)
        for col in comp.columns:
            table.add_column(col.replace(",", ",\n"), justify="right")  # one override a line
        wins = dict.fromkeys(comp.columns, 0)
        for row in comp.rows:
            values = [comp.value(row, c, metric) for c in comp.columns]
            best = tables.best_columns(metric, values)
            for i in best:
                wins[comp.columns[i]] += 1
            table.add_row(row, *[_cell(metric, v, i in best) for i, v in enumerate(values)])
        values = [overall[c].get(metric, float("nan")) for c in comp.columns]
        best = tables.best_columns(metric, values)
        table.add_row("overall", *[_cell(metric, v, i in best) for i, v in enumerate(values)],
                      end_section=True)
        if len(comp.columns) > 1:
            table.add_row("masks won", *[str(wins[c]) for c in comp.columns], style="dim")
        out.append(table)
    return out


def _cell(metric: str, value: float, best: bool) -> str:
    text = tables.fmt(metric, value)
    return f"[bold green]{text}[/]" if best else text


def print_comparison(comp: "Comparison", console: Console | None = None,
                     show_files: bool = True) -> None:
    """Print the headline tables and (show_files) where the full comparison is."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: room for every column
            console.width = 120
    for table in comparison_tables(comp):
        console.print(table)
    for metric in headline_metrics(comp):
        console.print(f"{tables.label(metric)}{tables.arrow(metric)}: "
                      f"{tables.DESCRIPTIONS.get(metric, metric)}", style="dim")
    console.print("best of each row in bold; ↑ higher is better, ↓ lower is better", style="dim")
    if show_files and comp.files:
        console.print("every metric, the plots and the merged recording:")
        for kind, path in comp.files.items():
            console.print(f"  {kind:18s} {path}", soft_wrap=True)
