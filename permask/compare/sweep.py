"""`compare`: the comparison of the runs at or below some folders (a sweep folder, or run folders),
every file written: CSV, Markdown, plots and merged recordings (see `permask.compare`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from permask.compare.modes import separate_modes
from permask.compare.recordings import write_recordings
from permask.compare.runs import assign_labels, find_runs, load_run
from permask.compare.table import Comparison, build, csv_text, markdown_text
from permask.files.atomic import save_text
from permask.files.layout import ComparisonLayout


def compare(paths: Iterable[str | Path], out: str | Path, *, recording: bool = True,
            plots: bool = True, video: bool | None = None) -> Comparison:
    """Aggregate the runs at or below `paths` into `out` (the files: see `permask.compare`).
    video: the side-by-side videos (`permask.compare.videos`); None: when the runs wrote videos."""
    out = Path(out)
    layout = ComparisonLayout(out)
    runs = [load_run(p) for p in find_runs(paths)]
    runs = [r for r in runs if r.instances] or runs
    assign_labels(runs)
    shared_modes = separate_modes(runs)  # figures of different modes never share a column
    comp = build(runs)
    comp.modes = shared_modes
    files: dict[str, Path] = {"csv": save_text(layout.csv(), csv_text(comp, out))}
    if plots and comp.rows:
        from permask.compare.plots import plot_bars, plot_over_time

        for kind, fn in (("bars", plot_bars), ("over_time", plot_over_time)):
            path = fn(comp, layout.plot(kind))
            if path is not None:
                files[kind] = path
    if recording:
        files.update(write_recordings(runs, layout))
    from permask.compare.videos import runs_wrote_videos, write_sweep_videos

    if video or (video is None and runs_wrote_videos(runs)):
        files.update(write_sweep_videos(runs, layout))
    files["markdown"] = save_text(layout.markdown(), markdown_text(comp, out, files))
    comp.files = files
    return comp
