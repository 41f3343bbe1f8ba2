"""The comparison itself: runs x masks cells of figures (`Comparison`, `build`), and the text
files it is written as (long-format CSV, Markdown tables with the best of each row in bold)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from permask import metrics as met
from permask import tables
from permask.compare.modes import run_modes
from permask.compare.runs import Run, names_run, override_key, scene_key
from permask.protocols.modes import protocol_of
from permask.versions import COMPARISON_FORMAT, stamp

# the last two columns: the comparison format and the permask that wrote it (same on every row)
CSV_COLUMNS = ("run", "label", "tracker", "scene", "instance", "metric", "value", "mode",
               "format_version", "permask_version")


@dataclass
class Comparison:
    """Runs (labelled), the table cells and what was written."""

    runs: list[Run]
    columns: list[str]
    rows: list[str]
    cells: dict[str, dict[str, dict]]  # row -> column -> instance figures (incl. per_frame)
    files: dict[str, Path] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)  # protocol -> the mode all runs share

    def value(self, row: str, column: str, metric: str) -> float:
        v = self.cells.get(row, {}).get(column, {}).get(metric)
        return float(v) if met.is_number(v) else float("nan")

    def overall_row(self) -> dict[str, dict[str, float]]:
        """Per column: the point-weighted mean over its rows (as a run's `overall`); a column of
        one run takes that run's own protocol figures, which score every instance as one video."""
        out = {}
        for col in self.columns:
            per = {row: {k: v for k, v in self.cells[row][col].items() if met.is_number(v)}
                   for row in self.rows if col in self.cells[row]}
            out[col] = met.overall(per)
            runs = [r for r in self.runs if r.label == col]
            if len(runs) == 1:
                own = runs[0].metrics.get("overall") or {}
                out[col].update({k: float(v) for k, v in own.items()
                                 if met.is_number(v) and protocol_of(k) not in (None, "permask")})
        return out

    def has(self, metric: str) -> bool:
        return any(not math.isnan(self.value(r, c, metric)) for r in self.rows for c in self.columns)


def _row_names(runs: Sequence[Run]) -> dict[tuple[str, str], str]:
    """(scene key, instance) -> row name: the instance alone for one scene, else prefixed."""
    scenes = sorted({scene_key(r) for r in runs})
    bases = [s.split("\n")[0] for s in scenes]
    prefix = {}
    for s, b in zip(scenes, bases):
        if len(scenes) == 1:
            prefix[s] = ""
        elif bases.count(b) == 1:
            prefix[s] = f"{b}/"
        else:
            prefix[s] = f"{b}[{s.split(chr(10))[1][:8]}]/"
    from permask.ids import sort_instance_ids

    names = {}
    for s in scenes:
        ids = sort_instance_ids(sorted({i for r in runs if scene_key(r) == s for i in r.instances}))
        for iid in ids:
            names[(s, iid)] = prefix[s] + iid
    return names


def build(runs: Sequence[Run]) -> Comparison:
    """Cells row x column from labelled runs (a later-written run wins a cell it shares)."""
    ordered = sorted(runs, key=lambda r: (r.path / "metrics.json").stat().st_mtime)
    names = _row_names(runs)
    cells: dict[str, dict[str, dict]] = {}
    for run in ordered:
        for iid, figures in run.instances.items():
            cells.setdefault(names[(scene_key(run), iid)], {})[run.label] = figures
    from permask.ids import natural_key

    # natural order: `frames_after=5` before `frames_after=10`
    columns = sorted(dict.fromkeys(r.label for r in runs), key=natural_key)
    rows = [n for n in names.values() if n in cells]
    runs = sorted(runs, key=lambda r: (natural_key(r.label), natural_key(str(r.path))))
    return Comparison(runs, columns, rows, cells)


def key_metrics(comp: Comparison) -> list[str]:
    """The metrics with a table, in order; a figure split by mode gives one table per mode."""
    present = {k for row in comp.cells.values() for figures in row.values() for k in figures}
    keys = []
    for m in (*tables.GT_KEY_METRICS, *tables.PROTOCOL_KEY_METRICS, *tables.GT_FREE_KEY_METRICS):
        keys += [k for k in [m, *sorted(p for p in present if p.startswith(m + " ["))]
                 if comp.has(k)]
    return keys


def csv_text(comp: Comparison, relative_to: Path | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    version = list(stamp(COMPARISON_FORMAT).values())
    for run in comp.runs:
        name = _display_path(run.path, relative_to)
        modes = run_modes(run)
        groups = [*run.instances.items(), ("overall", run.metrics.get("overall", {}) or {})]
        for iid, figures in groups:
            for metric, value in figures.items():
                if met.is_number(value):
                    writer.writerow([name, run.label, run.tracker, run.base_name, iid, metric,
                                     repr(float(value)) if not isinstance(value, int) else value,
                                     modes.get(protocol_of(metric) or "", ""), *version])
    return buf.getvalue()


def _display_path(path: Path, relative_to: Path | None) -> str:
    if relative_to is not None:
        try:
            return str(path.resolve().relative_to(relative_to.resolve())) or "."
        except ValueError:
            pass
    return str(path)


def markdown_text(comp: Comparison, out: Path, files: dict[str, Path]) -> str:
    lines = [f"# Comparison of {len(comp.runs)} run(s)", ""]
    run_rows = [[r.label, r.tracker, r.base_name, f"`{_display_path(r.path, out)}`",
                 " ".join(f"`{o}`" for o in r.overrides if names_run(override_key(o))) or "-"]
                for r in comp.runs]
    lines.append(tables.markdown(["column", "tracker", "scene", "run folder", "overrides"],
                                 run_rows, numeric_from=99))
    overall = comp.overall_row()
    shown = key_metrics(comp)
    for metric in shown:
        cells = {row: {c: comp.value(row, c, metric) for c in comp.columns} for row in comp.rows}
        cells["overall"] = {c: overall[c].get(metric, float("nan")) for c in comp.columns}
        desc = tables.DESCRIPTIONS.get(metric, "")
        lines += [f"## {tables.with_mode(metric, comp.modes)}" + (f": {desc}" if desc else ""),
                  "", tables.comparison_table(metric, cells, [*comp.rows, "overall"], comp.columns)]
    lines.append(tables.legend(shown))
    if comp.modes and any(protocol_of(m) for m in shown):
        lines.append(tables.modes_text(comp.modes))
    lines.append("Best per row in **bold**.")
    for kind, path in files.items():
        if path.suffix == ".png":
            lines += ["", f"![{kind}]({path.name})"]
    rrds = [p for p in files.values() if p.suffix == ".rrd"]
    if rrds:
        lines += ["", "Every run's tracks in one recording: " +
                  ", ".join(f"`rerun {p.name}`" for p in rrds)]
    written = stamp(COMPARISON_FORMAT)
    lines += ["", f"Written by permask {written['permask_version']} (comparison format "
              f"{written['format_version']})."]
    return "\n".join(lines) + "\n"
