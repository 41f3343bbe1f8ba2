"""Markdown tables of metrics: one run's per-instance table (`metrics.md`) and the cross-run
comparison tables (`comparison.md`, best value per row in bold, aware of which way is better)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from permask.files.atomic import save_text
from permask.metrics import direction
from permask.protocols.modes import protocol_of

# Columns of a run's table, in order; only those with a value somewhere are shown.
RUN_COLUMNS = ("points", "visible_at_end", "tracked_at_end", "mask_adherence", "motion_adherence",
               "depth_err_cm", "depth_within_2cm", "jitter_mm", "AJ", "delta_avg", "OA",
               "median_error_cm", "survival", "tapvid3d_AJ", "tapvid3d_APD", "tapvid3d_OA",
               "tapvid2d_AJ", "tapvid2d_delta_avg", "tapvid2d_OA", "mvtracker_AJ",
               "mvtracker_delta_avg", "mvtracker_OA", "mvtracker_MTE", "mvtracker_survival")
# The published protocols' headline figures (permask/protocols/modes.py), in comparisons too
PROTOCOL_KEY_METRICS = ("tapvid3d_AJ", "tapvid3d_APD", "tapvid3d_OA", "tapvid2d_AJ",
                        "tapvid2d_delta_avg", "tapvid2d_OA", "mvtracker_AJ", "mvtracker_delta_avg",
                        "mvtracker_MTE", "mvtracker_survival")
PROTOCOL_NAMES = {"permask": "permask", "tapvid3d": "TAPVid-3D", "tapvid2d": "TAP-Vid 2D",
                  "mvtracker": "MVTracker"}
# Metrics a comparison shows a table for, in order (those present in at least one run).
GT_KEY_METRICS = ("AJ", "delta_avg", "OA", "median_error_cm", "survival")
GT_FREE_KEY_METRICS = ("mask_adherence", "motion_adherence", "tracked_at_end", "depth_err_cm",
                       "depth_within_2cm", "jitter_mm")

LABELS = {
    "points": "points", "visible_at_end": "visible@end", "tracked_at_end": "tracked@end",
    "mask_adherence": "mask adherence", "motion_adherence": "motion adherence",
    "static_mask_adherence": "static adherence", "depth_err_cm": "depth err (cm)",
    "depth_within_2cm": "depth within 2 cm", "jitter_mm": "jitter (mm)", "AJ": "AJ",
    "delta_avg": "delta_avg", "OA": "OA", "median_error_cm": "median err (cm)",
    "survival": "survival",
    "tapvid3d_AJ": "3D-AJ", "tapvid3d_APD": "APD", "tapvid3d_OA": "3D-OA",
    "tapvid2d_AJ": "2D-AJ", "tapvid2d_delta_avg": "2D <δ_avg", "tapvid2d_OA": "2D-OA",
    "mvtracker_AJ": "MVT AJ %", "mvtracker_delta_avg": "MVT δ_avg %", "mvtracker_OA": "MVT OA %",
    "mvtracker_MTE": "MVT MTE (cm)", "mvtracker_survival": "MVT survival %",
}
DESCRIPTIONS = {
    "AJ": "average Jaccard over the distance thresholds (ground truth)",
    "delta_avg": "share of points within each threshold, averaged (ground truth)",
    "OA": "share of (point, frame) pairs whose visibility is right (ground truth)",
    "median_error_cm": "median 3D error against the ground truth, cm",
    "survival": "share of frames before a point is first lost (ground truth)",
    "mask_adherence": "visible points inside their own mask, in the views that see them",
    "motion_adherence": "mask adherence beyond standing still: 0 = a static track, 1 = perfect",
    "tracked_at_end": "points visible and inside their mask at the last frame",
    "depth_err_cm": "median distance to the observed depth surface, cm",
    "depth_within_2cm": "visible points within 2 cm of the observed depth",
    "jitter_mm": "median second temporal difference (0 for a track standing still), mm",
    "visible_at_end": "points the tracker calls visible at the last frame",
    "tapvid3d_AJ": "TAPVid-3D average Jaccard (3D-AJ)",
    "tapvid3d_APD": "TAPVid-3D share of points within the thresholds, averaged (APD)",
    "tapvid3d_OA": "TAPVid-3D occlusion accuracy",
    "tapvid2d_AJ": "TAP-Vid average Jaccard per camera (pixels at 256x256), mean over cameras",
    "tapvid2d_delta_avg": "TAP-Vid <delta^x_avg per camera, mean over cameras",
    "tapvid2d_OA": "TAP-Vid occlusion accuracy per camera, mean over cameras",
    "mvtracker_AJ": "MVTracker's average Jaccard, mean over tracks, %",
    "mvtracker_delta_avg": "MVTracker's share within the thresholds, mean over tracks, %",
    "mvtracker_OA": "MVTracker's occlusion accuracy, %",
    "mvtracker_MTE": "MVTracker's median trajectory error (metres x100 = cm)",
    "mvtracker_survival": "MVTracker's survival (frames before the first failure), %",
}


def label(metric: str) -> str:
    """A figure's short name; one renamed by mode (`NAME [MODE]`, `compare.modes`) keeps it."""
    name, bracket, mode = metric.partition(" [")
    return LABELS.get(name, name) + (bracket + mode if bracket else "")


def with_mode(metric: str, modes: Mapping[str, str] | None) -> str:
    """The column header of a figure: its label, and its protocol's mode in brackets."""
    protocol = protocol_of(metric)
    mode = (modes or {}).get(protocol) if protocol and " [" not in metric else None
    name, bracket, own = metric.partition(" [")
    return label(name) + arrow(metric) + (f" [{mode}]" if mode else bracket + own)


def modes_text(modes: Mapping[str, str] | None) -> str:
    """One line per protocol: the mode its figures were computed in."""
    if not modes:
        return ""
    lines = ["Metric modes (docs/comparing.md, \"Metric modes\"):", ""]
    lines += [f"- {PROTOCOL_NAMES.get(p, p)}: {text}" for p, text in modes.items()]
    return "\n".join(lines) + "\n"


def arrow(metric: str) -> str:
    return {1: " ↑", -1: " ↓"}.get(direction(metric), "")


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(metric: str, value) -> str:
    """One cell: '-' for missing, integers for counts, 1 decimal for cm/mm, 3 otherwise."""
    if is_missing(value):
        return "-"
    if isinstance(value, str):
        return value
    if metric == "points":
        return f"{int(value):d}"
    if math.isinf(value):
        return "inf"
    if metric.endswith("_cm"):
        return f"{value:.2f}"
    if metric.endswith(("_mm", "_px")):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int = 1) -> str:
    """A GitHub markdown table; columns from `numeric_from` on are right-aligned."""
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |",
             "|" + "|".join("---" if i < numeric_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def run_table(per_instance: Mapping[str, Mapping[str, float]],
              overall: Mapping[str, float] | None = None, *, title: str | None = None,
              skipped: Mapping[str, str] | None = None,
              columns: Sequence[str] = RUN_COLUMNS,
              modes: Mapping[str, str] | None = None,
              mode_labels: Mapping[str, str] | None = None) -> str:
    """The per-instance table of one run (`metrics.md`): instances as rows, figures as columns;
    modes: protocol -> its short mode, written in the header of each ground-truth figure and
    listed below the table (`MetricModes.short`, `.labels`)."""
    records = list(per_instance.values()) + ([overall] if overall else [])
    shown = [c for c in columns if any(not is_missing(r.get(c)) for r in records)]
    rows = [[iid, *[fmt(c, m.get(c)) for c in shown]] for iid, m in per_instance.items()]
    if overall and per_instance:
        rows.append(["**overall**", *[fmt(c, overall.get(c)) for c in shown]])
    for iid, why in (skipped or {}).items():
        rows.append([iid, f"skipped: {why}", *[""] * (len(shown) - 1)])
    text = f"# {title}\n\n" if title else ""
    text += markdown(["instance", *[with_mode(c, modes) for c in shown]], rows)
    text += "\n" + legend(shown)
    if mode_labels and any(protocol_shown(c) for c in shown):
        text += "\n" + modes_text(mode_labels)
    return text


def protocol_shown(metric: str) -> bool:
    return protocol_of(metric) is not None


def write_run_table(path: str | Path, per_instance: Mapping[str, Mapping[str, float]],
                    overall: Mapping[str, float] | None = None, **kwargs) -> Path:
    """`run_table` written atomically to `path` (a run's `metrics.md`)."""
    return save_text(path, run_table(per_instance, overall, **kwargs))


def legend(metrics: Iterable[str]) -> str:
    """Bullet list: what each shown metric means and which way is better."""
    lines = ["↑ higher is better, ↓ lower is better.", ""]
    for m in metrics:
        if m in DESCRIPTIONS:
            lines.append(f"- {label(m)}{arrow(m)}: {DESCRIPTIONS[m]}")
    return "\n".join(lines) + "\n"


def best_columns(metric: str, values: Sequence[float], tolerance: float = 1e-9) -> set[int]:
    """Indices of the best value(s) in a row (ties all win); none when fewer than two values or
    the metric has no direction."""
    sign = direction(metric)
    present = [(i, v) for i, v in enumerate(values) if not is_missing(v)]
    if sign == 0 or len(present) < 2:
        return set()
    best = max(sign * v for _, v in present)
    return {i for i, v in present if sign * v >= best - tolerance}


def comparison_table(metric: str, cells: Mapping[str, Mapping[str, float]],
                     rows: Sequence[str], columns: Sequence[str],
                     row_header: str = "instance") -> str:
    """One metric: `rows` (instances) x `columns` (runs), cells[row][column]; best per row bold."""
    out = []
    for row in rows:
        values = [cells.get(row, {}).get(col) for col in columns]
        best = best_columns(metric, values)
        texts = [f"**{fmt(metric, v)}**" if i in best else fmt(metric, v)
                 for i, v in enumerate(values)]
        out.append([row, *texts])
    return markdown([row_header, *columns], out)
