"""The best-per-mask folder: the winners of a selection (`permask.compare.select`) assembled into
one run folder, `<comparison folder>/best/` (`best/{scene}/` per scene when several were compared):

    selection.json, selection.md         per instance: the winning job (label, tracker, folder),
                                         its score, the runner-up and the margin between them
    {base}_best_{instance}_tracked.npz   the winner's tracked file, copied byte for byte (its
                                         `tracker` key names the winning tracker)
    metrics.json, metrics.md             the winner's figures per instance (+ `selected_from`),
                                         overall = point-weighted mean, as in a run
    {base}_best_combined.rrd             the scene once + every winner's tracks under
                                         world/tracks/best/{instance} (when the runs recorded)
    {base}_best_{camera}.mp4             the winners drawn over each camera (when the runs wrote
                                         videos)

The folder is not itself a run of the sweep: a comparison searching below a folder skips it (it
holds `selection.json`), so comparing the sweep again does not count the winners twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from permask import metrics as met
from permask import tables
from permask.compare.runs import Run
from permask.compare.select import SceneSelection, Selection, select_best
from permask.files.atomic import atomic_write, save_json, save_text
from permask.files.layout import BestLayout, ComparisonLayout, OutputLayout
from permask.files.tracked import read_tracked
from permask.versions import COMPARISON_FORMAT, METRICS_FORMAT, stamp

log = logging.getLogger(__name__)


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive (Windows)
        return str(path)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _copy(src: Path, dst: Path) -> Path:
    with atomic_write(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def selection_record(sel: Selection, scene: SceneSelection, layout: BestLayout) -> dict:
    """What selection.json holds (paths relative to the best folder)."""
    better = "higher" if sel.direction > 0 else "lower"
    return {"metric": sel.metric, "better": better, "base_name": scene.base_name,
            "input_fingerprint": scene.fingerprint, "instances": {
                iid: {"winner": c.winner.label, "tracker": c.winner.tracker,
                      "run": _relative(c.winner.path, layout.root), "score": _number(c.score),
                      "runner_up": c.runner_up, "runner_up_score": _number(c.runner_up_score),
                      "margin": _number(c.margin),
                      "scores": {k: _number(v) for k, v in c.scores.items()},
                      "tracked": layout.tracked(iid).name}
                for iid, c in scene.choices.items()}}


def selection_text(record: dict) -> str:
    metric = record["metric"]
    lines = [f"# Best per mask by {tables.label(metric)}{tables.arrow(metric)} "
             f"({record['better']} is better)", "",
             tables.markdown(["instance", "winner", "score", "runner-up", "margin", "from"], [
                 [iid, f"**{c['winner']}**", tables.fmt(metric, c["score"]),
                  f"{c['runner_up']} ({tables.fmt(metric, c['runner_up_score'])})"
                  if c["runner_up"] else "-", tables.fmt(metric, c["margin"]), f"`{c['run']}`"]
                 for iid, c in record["instances"].items()], numeric_from=2)]
    return "\n".join(lines) + "\n"


def write_best(runs: Sequence[Run], out: str | Path, metric: str, *, recording: bool = True,
               video: bool | None = None) -> dict[str, Path]:
    """Select per instance by `metric` and write the best folder(s) below `out` (see the module
    docstring). video None: when a winning run wrote videos. Returns {name: path} of what was
    written. Raises SelectionError (unknown metric, metric missing)."""
    sel = select_best(runs, metric)
    comparison = ComparisonLayout(Path(out))
    written: dict[str, Path] = {}
    several = len(sel.scenes) > 1
    for scene_sel in sel.scenes:
        name = f"{scene_sel.base_name}_{scene_sel.fingerprint[:8]}" if several else None
        layout = BestLayout(comparison.best(name), scene_sel.base_name)
        prefix = f"{name}_" if name else ""
        written.update({prefix + k: v for k, v in
                        _write_scene(sel, scene_sel, layout, recording, video).items()})
    return written


def _write_scene(sel: Selection, scene_sel: SceneSelection, layout: BestLayout,
                 recording: bool, video: bool | None) -> dict[str, Path]:
    files: dict[str, Path] = {}
    figures: dict[str, dict] = {}
    for iid, choice in scene_sel.choices.items():
        run = choice.winner
        src = OutputLayout(run.path, run.base_name, run.tracker).tracked(iid)
        if src.is_file():
            files[f"tracked_{iid}"] = _copy(src, layout.tracked(iid))
        else:
            log.warning("best: %s missing; %s has no tracks in the best folder", src, iid)
        figures[iid] = {**run.instances[iid], "selected_from": run.label}
    record = selection_record(sel, scene_sel, layout)
    files["selection"] = save_json(layout.selection_json(), {**stamp(COMPARISON_FORMAT), **record})
    overall = met.overall(figures)
    files["metrics"] = save_json(layout.metrics_json(), {
        **stamp(METRICS_FORMAT), "base_name": scene_sel.base_name, "tracker": layout.tracker,
        "input_fingerprint": scene_sel.fingerprint, "selected_by": sel.metric,
        "instances": figures, "overall": overall, "skipped": {}})
    files["metrics_table"] = tables.write_run_table(
        layout.metrics_table(), figures, overall,
        title=f"{scene_sel.base_name}: best per mask by {tables.label(sel.metric)}")
    winners = list({id(c.winner): c.winner for c in scene_sel.choices.values()}.values())
    wants_video = any(any(r.path.glob("*.mp4")) for r in winners) if video is None else video
    if recording or wants_video:
        files.update(_views(scene_sel, layout, winners, recording, wants_video))
    text = selection_text(record)
    shown = [f"`{p.name}`" for k, p in files.items() if p.suffix in (".rrd", ".mp4")]
    if shown:
        text += "\nOpen: " + ", ".join(shown) + "\n"
    files["selection_md"] = save_text(layout.selection_md(), text)
    return files


def _views(scene_sel: SceneSelection, layout: BestLayout, winners: list[Run], recording: bool,
           video: bool) -> dict[str, Path]:
    """The merged recording and the videos of the winners (the scene loaded as the runs did)."""
    from permask.compare.recordings import load_run_scene, run_scene_context

    try:
        cfg, scene = load_run_scene(winners[0])
    except Exception as err:  # noqa: BLE001 - the tables stand without the views
        log.warning("best: no recording or video: cannot load the scene (%s)", err)
        return {}
    results = {}
    for iid in scene_sel.choices:
        tracked = read_tracked(layout.tracked(iid), num_frames=scene.num_frames)
        if tracked is not None and iid in scene.masks:
            results[iid] = (tracked.queries, tracked.result)
    if not results:
        return {}
    files: dict[str, Path] = {}
    if recording:
        from permask.record.identity import RecordingIds
        from permask.record.write import write_combined_recording

        files["combined_rrd"] = write_combined_recording(
            layout.combined_recording(), scene, results, base=scene_sel.base_name,
            tracker=layout.tracker, ids=RecordingIds.for_scene(scene, scene_sel.base_name),
            context=run_scene_context(cfg, scene))
    if video:
        from permask.video import write_track_videos

        settings = dict(cfg.get("video_settings", {}) or {})
        files.update(write_track_videos(scene, results, layout, progress=False, **settings))
    return files


def summary_lines(files: dict[str, Path]) -> list[str]:
    """One line per instance of the selection(s) just written, for the terminal."""
    lines = []
    for key, path in files.items():
        if not key.endswith("selection"):
            continue
        record = json.loads(Path(path).read_text())
        metric = record["metric"]
        lines.append(f"best per mask by {tables.label(metric)} ({record['better']} is better): "
                     f"{path.parent}")
        for iid, c in record["instances"].items():
            against = (f", {tables.fmt(metric, c['margin'])} ahead of {c['runner_up']}"
                       if c["runner_up"] else "")
            lines.append(f"  {iid}: {c['winner']} ({tables.fmt(metric, c['score'])}{against})")
    return lines
