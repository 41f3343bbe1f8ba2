"""Best per mask: which run wins each instance on one metric (`--select METRIC`).

The metrics one may select by, and which way is better (`SELECTABLE`; names are case-insensitive,
`median_error` stands for `median_error_cm`, `depth_err` for `depth_err_cm`):

    with ground truth      aj ↑, delta_avg ↑, oa ↑, survival ↑, median_error ↓,
                           pts_within_{d}cm ↑, jaccard_{d}cm ↑; the published protocols'
                           tapvid3d_aj ↑, tapvid3d_apd ↑, tapvid3d_oa ↑, tapvid2d_aj ↑,
                           tapvid2d_delta_avg ↑, mvtracker_aj ↑, mvtracker_mte ↓ (runs in
                           different metric modes have no common figure: refused)
    without ground truth   mask_adherence ↑, motion_adherence ↑, tracked_at_end ↑,
                           depth_within_2cm ↑, depth_err ↓
    auto                   aj where every run has ground truth, else mask_adherence

`jitter_mm` is not selectable: a track standing still has none. Winners are chosen per scene and
instance among the runs that tracked it; a run without a value for that instance ranks last;
ties go to the first column in natural order. An unknown metric, or one a run lacks entirely
(e.g. `aj` on a recording without ground truth), is a `SelectionError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from permask import metrics as met
from permask.compare.runs import Run, scene_key
from permask.errors import SelectionError
from permask.ids import natural_key, sort_instance_ids

# name given -> (metrics key, needs ground truth)
SELECTABLE: dict[str, tuple[str, bool]] = {
    "aj": ("AJ", True), "delta_avg": ("delta_avg", True), "oa": ("OA", True),
    "survival": ("survival", True), "median_error": ("median_error_cm", True),
    "median_error_cm": ("median_error_cm", True),
    "mask_adherence": ("mask_adherence", False), "motion_adherence": ("motion_adherence", False),
    "tracked_at_end": ("tracked_at_end", False), "depth_within_2cm": ("depth_within_2cm", False),
    "depth_err": ("depth_err_cm", False), "depth_err_cm": ("depth_err_cm", False),
    "tapvid3d_aj": ("tapvid3d_AJ", True), "tapvid3d_apd": ("tapvid3d_APD", True),
    "tapvid3d_oa": ("tapvid3d_OA", True), "tapvid2d_aj": ("tapvid2d_AJ", True),
    "tapvid2d_delta_avg": ("tapvid2d_delta_avg", True), "mvtracker_aj": ("mvtracker_AJ", True),
    "mvtracker_mte": ("mvtracker_MTE", True),
}
_THRESHOLDED = re.compile(r"^(pts_within|jaccard)_(\d+(?:\.\d+)?)cm$")
AUTO = "auto"


def choices_text() -> str:
    names = [n for n in SELECTABLE if not n.endswith("_cm")]
    return ", ".join(f"{n} ({'higher' if met.direction(SELECTABLE[n][0]) > 0 else 'lower'} "
                     f"is better)" for n in names) + ", pts_within_<d>cm, jaccard_<d>cm, auto"


def resolve_metric(name: str, runs: Sequence[Run] = ()) -> str:
    """The metrics key for a selection name (see the module docstring); SelectionError if unknown.
    `auto` needs the runs: AJ when every run has it, else mask_adherence."""
    given = str(name).strip()
    low = given.lower()
    if low == AUTO:
        if not runs:
            return AUTO
        return "AJ" if all(_has(run, "AJ") for run in runs) else "mask_adherence"
    if low in SELECTABLE:
        return SELECTABLE[low][0]
    match = _THRESHOLDED.match(low)
    if match:
        return f"{match.group(1)}_{match.group(2)}cm"
    raise SelectionError(f"unknown selection metric {given!r}; choose one of: {choices_text()}",
                         key="select")


def _has(run: Run, metric: str) -> bool:
    return any(met.is_number(fig.get(metric)) for fig in run.instances.values())


def _value(figures: dict, metric: str) -> float:
    value = figures.get(metric)
    return float(value) if met.is_number(value) and not math.isnan(float(value)) else math.nan


@dataclass
class Choice:
    """One instance's winner. scores: run label -> value (NaN: none), in column order;
    runner_up: the next best label (None with one candidate); margin: |score - runner_up's|,
    in the metric's unit (NaN when there is no runner-up with a value)."""

    instance_id: str
    winner: Run
    score: float
    scores: dict[str, float]
    runner_up: str | None
    runner_up_score: float
    margin: float


@dataclass
class SceneSelection:
    """The winners of one scene (base name + input fingerprint), instances in natural order."""

    base_name: str
    fingerprint: str
    choices: dict[str, Choice]


@dataclass
class Selection:
    metric: str
    direction: int  # +1 higher is better, -1 lower is better
    scenes: list[SceneSelection]


def select_best(runs: Sequence[Run], name: str) -> Selection:
    """Per scene and instance, the labelled run with the best value of the metric `name`."""
    if not runs:
        raise SelectionError("no run to select from", key="select")
    metric = resolve_metric(name, runs)
    sign = met.direction(metric)
    lacking = [r for r in runs if r.instances and not _has(r, metric)]
    if lacking:
        run = lacking[0]
        hint = " (it has no ground truth; select a ground-truth-free metric such as " \
               "mask_adherence)" if SELECTABLE.get(name.lower(), ("", False))[1] else ""
        raise SelectionError(f"run {run.label!r} has no {metric}{hint}", file=str(run.path),
                             key="select")
    scenes: dict[str, list[Run]] = {}
    for run in runs:
        scenes.setdefault(scene_key(run), []).append(run)
    out = []
    for key in sorted(scenes):
        members = sorted(scenes[key], key=lambda r: natural_key(r.label))
        ids = sort_instance_ids({iid for r in members for iid in r.instances})
        choices = {}
        for iid in ids:
            candidates = [(r, _value(r.instances[iid], metric)) for r in members
                          if iid in r.instances]
            ranked = sorted(candidates, key=lambda c: (math.isnan(c[1]),
                                                       -sign * c[1] if not math.isnan(c[1]) else 0))
            best, score = ranked[0]
            if math.isnan(score):
                raise SelectionError(f"no run has a value of {metric} for {iid}",
                                     key="select", fix="select by another metric")
            second = ranked[1] if len(ranked) > 1 else None
            second_score = second[1] if second else math.nan
            choices[iid] = Choice(iid, best, score, {r.label: v for r, v in candidates},
                                  second[0].label if second else None, second_score,
                                  abs(score - second_score))
        out.append(SceneSelection(members[0].base_name, members[0].fingerprint, choices))
    return Selection(metric, sign, out)
