"""The comparison's PNG plots (matplotlib objects only, no pyplot state: safe in any process).

- `plot_bars`: per mask, one bar per run, for the headline metric (AJ with ground truth, else
  mask adherence) and a second ground-truth-free one.
- `plot_over_time`: per mask, median 3D error (ground truth) or mask adherence per frame.

Made to be read at a glance: each tracker keeps its colour in every plot and sweep (`static` is
grey, `lk` blue, ...; runs of one tracker with different settings get shades and line styles of
it); one legend for the whole figure, outside the axes; frames on integer ticks; error axes
linear unless the errors span more than a decade, then a symmetric log axis (0 stays visible)
with ticks at 1-2-5 steps, labelled as plain numbers; a one-mask figure is as large as a panel
of several.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from permask import metrics as met
from permask import tables
from permask.files.atomic import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from permask.compare.table import Comparison

# Fixed colours per tracker (matplotlib's tab10 hues); other trackers get one from their name.
TRACKER_COLORS = {
    "static": "#7f7f7f",
    "lk": "#1f77b4",
    "mvtracker": "#d62728",
    "cotracker3_offline": "#2ca02c",
    "cotracker3_online": "#17becf",
    "spatialtrackerv2": "#9467bd",
}
OTHER_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#aec7e8", "#ffbb78")
LINESTYLES = ("-", "--", "-.", ":")
PANEL_W, PANEL_H = 5.2, 3.6  # inches per panel; a figure is never smaller than one panel + legend


def tracker_color(tracker: str) -> str:
    """The colour of a tracker, the same in every plot of every sweep."""
    if tracker in TRACKER_COLORS:
        return TRACKER_COLORS[tracker]
    return OTHER_COLORS[zlib.crc32(tracker.encode()) % len(OTHER_COLORS)]


def _shade(color: str, k: int, n: int):
    """The k-th of n shades of `color` (k=0: the colour itself; later ones darker/lighter)."""
    from matplotlib.colors import to_rgb

    if n <= 1 or k == 0:
        return to_rgb(color)
    rgb = np.array(to_rgb(color))
    t = 0.45 * k / (n - 1)
    target = np.zeros(3) if k % 2 else np.ones(3)
    return tuple(rgb + (target - rgb) * t)


def column_styles(comp: "Comparison") -> dict[str, dict]:
    """Per column: color (its tracker's, shaded when a tracker has several columns), linestyle,
    hatch (for bars)."""
    tracker_of = {}
    for run in comp.runs:
        tracker_of.setdefault(run.label, run.tracker)
    groups: dict[str, list[str]] = {}
    for col in comp.columns:
        groups.setdefault(tracker_of.get(col, col), []).append(col)
    styles = {}
    for tracker, cols in groups.items():
        for k, col in enumerate(cols):
            styles[col] = {"color": _shade(tracker_color(tracker), k, len(cols)),
                           "linestyle": LINESTYLES[k % len(LINESTYLES)],
                           "hatch": ("", "//", "..", "xx")[k % 4]}
    return styles


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend_below(fig, handles, labels) -> None:
    """One legend for the figure, below the axes (never over a curve or a bar), in as many
    columns as fit the figure's width; the figure widens to the longest entry if it must."""
    if not handles:
        return
    entry = [0.6 + 0.068 * len(str(label)) for label in labels]  # inches at fontsize "small"
    width = max(fig.get_figwidth(), max(entry) + 0.4)
    fig.set_figwidth(width)
    ncols = 1
    for n in range(len(labels), 0, -1):
        rows = [entry[i:i + n] for i in range(0, len(entry), n)]
        if all(sum(row) <= width - 0.4 for row in rows):
            ncols = n
            break
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize="small",
               frameon=False)
    fig.set_figheight(fig.get_figheight() + 0.22 * (math.ceil(len(labels) / ncols) - 1))


def _short(comp: "Comparison") -> dict[str, str]:
    """The shared modes, cut to fit an axis label (the Markdown has them in full)."""
    return {p: (m if len(m) <= 40 else m[:38] + "..") for p, m in comp.modes.items()}


def _save(fig, path: Path) -> Path:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def plot_bars(comp: "Comparison", path: Path) -> Path | None:
    metrics = ["AJ", "mask_adherence"] if comp.has("AJ") else ["mask_adherence", "tracked_at_end"]
    metrics = [m for m in metrics if comp.has(m)]
    if not metrics:
        return None
    rows, cols = comp.rows, comp.columns
    styles = column_styles(comp)
    panel_w = max(PANEL_W, 0.35 * len(rows) * len(cols) + 1.5)
    fig = _figure(panel_w * len(metrics), PANEL_H + 0.3)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / max(1, len(cols))
    x = np.arange(len(rows))
    handles = []
    for ax, metric in zip(axes, metrics):
        handles = []
        for j, col in enumerate(cols):
            values = np.array([comp.value(r, col, metric) for r in rows], float)
            bars = ax.bar(x + (j - (len(cols) - 1) / 2) * width, np.nan_to_num(values), width,
                          label=col, color=styles[col]["color"], hatch=styles[col]["hatch"],
                          edgecolor="white", linewidth=0.5)
            handles.append(bars)
        rotate = len(rows) > 4 or max(len(r) for r in rows) * len(rows) > 60
        ax.set_xticks(x, rows, rotation=25 if rotate else 0, ha="right" if rotate else "center")
        ax.set_ylabel(tables.with_mode(metric, _short(comp)))
        finite = [comp.value(r, c, metric) for r in rows for c in cols]
        finite = [v for v in finite if not math.isnan(v)]
        if met.direction(metric) > 0 and finite and max(finite) <= 1.0:
            ax.set_ylim(0, 1.0)
        ax.set_title(f"{tables.label(metric)} per mask")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    _legend_below(fig, handles, list(cols))
    return _save(fig, path)


SYMLOG_TICKS = [0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]


def _error_axis(ax, values: list[float]) -> None:
    """Linear from 0 when the errors stay within a decade (or under 10 cm), else symlog (linear
    below 1 cm, so 0 shows) with ticks at 0, 0.5, 1, 2, 5, 10, ... labelled as plain numbers."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    positive = [v for v in values if v > 0 and math.isfinite(v)]
    top = max(positive, default=1.0)
    low = min(positive, default=top)
    if top <= 10 or top / max(low, 1e-9) <= 10:
        ax.set_ylim(0, top * 1.08)
        return
    ax.set_yscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_ylim(0, top * 1.3)
    ax.yaxis.set_major_locator(FixedLocator([t for t in SYMLOG_TICKS if t <= top * 1.3]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


def plot_over_time(comp: "Comparison", path: Path) -> Path | None:
    from matplotlib.ticker import MaxNLocator

    def curves(metric):
        return any(metric in comp.cells[r][c].get("per_frame", {})
                   for r in comp.rows for c in comp.cells[r])

    metric = "median_error_cm" if curves("median_error_cm") else \
        "mask_adherence" if curves("mask_adherence") else None
    if metric is None:
        return None
    title = ("median 3D error over time (ground truth)" if metric == "median_error_cm"
             else "mask adherence over time")
    rows = comp.rows
    styles = column_styles(comp)
    ncols = min(3, len(rows))
    nrows = math.ceil(len(rows) / ncols)
    fig = _figure(max(PANEL_W * ncols, 7.0), PANEL_H * nrows + 0.8)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, row in zip(axes, rows):
        values = []
        for col in comp.columns:
            per_frame = comp.cells[row].get(col, {}).get("per_frame", {})
            if metric not in per_frame:
                continue
            y = np.array(per_frame[metric], float)
            x = np.array(per_frame.get("frame", np.arange(len(y))), float)
            if len(x) != len(y):
                x = np.arange(len(y))
            y = np.where(np.isfinite(y), y, np.nan)
            values += [float(v) for v in y if np.isfinite(v)]
            (line,) = ax.plot(x, y, label=col, color=styles[col]["color"],
                              linestyle=styles[col]["linestyle"], lw=1.8,
                              marker="o" if len(x) <= 12 else None, markersize=3)
            handles.setdefault(col, line)
        ax.set_title(row if len(rows) > 1 else f"{row}: {title}")
        ax.set_xlabel("frame")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(tables.with_mode(metric, _short(comp)))
        if metric == "median_error_cm":
            _error_axis(ax, values)
        else:
            ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[len(rows):]:
        ax.set_visible(False)
    _legend_below(fig, list(handles.values()), list(handles))
    if len(rows) > 1:
        fig.suptitle(title)
    return _save(fig, path)
