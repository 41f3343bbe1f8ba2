"""Figures as tables and rankings use them: which way is better (`direction`), the point-weighted
mean over instances (`overall`), the figures every run has (`summary_figures`), curves as JSON
lists (`as_list`)."""

from __future__ import annotations

import numpy as np


def summary_figures(tracks: np.ndarray, visible: np.ndarray) -> dict[str, float]:
    """Figures that need no ground truth.

    Args:
      tracks: [T,N,3] tracked positions.
      visible: [T,N] bool.

    Returns:
      {points: N, visible_at_end: share of points visible at the last frame (NaN for N = 0)}.
    """
    return {"points": int(tracks.shape[1]),
            "visible_at_end": float(visible[-1].mean()) if tracks.shape[1] else float("nan")}


def overall(per_instance: dict[str, dict[str, float]]) -> dict[str, float]:
    """Figures over a run's instances.

    Args:
      per_instance: instance id -> {figure: value}, each with its `points`.

    Returns:
      {points: the total, every numeric figure: its point-weighted mean over the instances
      where it is not NaN}; nested curves are left out.
    """
    if not per_instance:
        return {}
    keys = sorted({k for m in per_instance.values() for k, v in m.items()
                   if k != "points" and is_number(v)})  # skips nested curves (per_frame)
    weights = np.array([m.get("points", 1) for m in per_instance.values()], float)
    out: dict[str, float] = {"points": int(weights.sum())}
    for k in keys:
        vals = np.array([m.get(k, np.nan) if is_number(m.get(k)) else np.nan
                         for m in per_instance.values()], float)
        ok = ~np.isnan(vals)
        out[k] = float(np.average(vals[ok], weights=weights[ok])) if ok.any() and weights[ok].sum() else float("nan")
    return out


def is_number(value) -> bool:
    """A scalar figure (int, float, numpy number; not bool, not a nested curve)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


# Which way is better, for tables and rankings: +1 higher is better, -1 lower is better.
DIRECTION: dict[str, int] = {
    "AJ": 1, "delta_avg": 1, "OA": 1, "median_error_cm": -1, "survival": 1,
    "mask_adherence": 1, "motion_adherence": 1, "depth_err_cm": -1, "depth_within_2cm": 1,
    "tracked_at_end": 1, "jitter_mm": -1, "visible_at_end": 1,
}


PROTOCOL_PREFIXES = ("tapvid3d_", "tapvid2d_", "mvtracker_")  # permask/protocols/modes.py


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither (counts, references).
    A published protocol's figure (`tapvid3d_AJ`, `tapvid2d_OA@cam_00`, `mvtracker_MTE`, ...)
    goes the way its plain name goes, as does a figure renamed by mode (`NAME [MODE]`)."""
    metric = metric.split(" [", 1)[0]
    if metric.startswith(PROTOCOL_PREFIXES):
        plain = metric.split("_", 1)[1].split("@", 1)[0]
        return {"APD": 1, "MTE": -1, "ATE": -1, "FDE": -1, "n": 0}.get(plain, direction(plain))
    if metric in DIRECTION:
        return DIRECTION[metric]
    if metric.startswith(("pts_within_", "jaccard_")):
        return 1
    if metric.startswith("median_error_"):
        return -1
    return 0


def as_list(values: np.ndarray) -> list[float]:
    """JSON-ready curve: floats rounded to 6 significant digits (keeps metrics.json small)."""
    return [float(f"{x:.6g}") for x in np.asarray(values, np.float64)]
