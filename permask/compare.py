"""Compare trackers (and settings) per mask across run output folders.

    python -m permask.compare DIR [DIR ...] -o OUT

Each DIR is a run's output folder (it holds `metrics.json`) or any folder above runs, e.g. a
multirun sweep folder: every folder below it holding a `metrics.json` is a run. Writes to OUT:

    comparison.csv            long format: run, label, tracker, scene, instance, metric, value
    comparison.md             per key metric an instance x run table, best per row in bold
    comparison_bars.png       (permask/plots.py) per-mask grouped bars per run (AJ with ground truth, else mask
                              adherence; and a second GT-free measure)
    comparison_over_time.png  per mask, error over time (ground truth) or mask adherence over time
    {base}_comparison.rrd     per scene: the scene once and every run's tracks of every instance
                              under world/tracks/{label}/{instance}

A run's *label* (its column) is built from its Hydra overrides (`.hydra/overrides.yaml`) that are
not shared by all runs compared, leaving out where things go (`output_dir`, ...), which scene
(`input.*`, `base_name`: scenes are rows) and `instances` (instances are rows): a sweep over
trackers gives labels `lk` and `static`; a sweep over instances with one tracker gives one column.
Runs of different scenes (input content fingerprints) become separate rows and separate
recordings, never one. When two runs fill the same cell (the same command run twice into two
folders), their labels get the folder name appended. Re-running into a folder simply replaces that
run's figures.

The Hydra callback `permask.callbacks.CompareCallback` runs `compare` over a sweep folder at the
end of every multirun.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


from permask import metrics as met
from permask import tables
from permask.files.atomic import save_text
from permask.files.layout import ComparisonLayout, OutputLayout
from permask.files.tracked import read_tracked

log = logging.getLogger(__name__)

# Override keys that never name a run: where outputs go, how chatty, hydra internals, presets.
IGNORED_KEYS = ("output_dir", "sweep_dir", "progress", "on_existing", "sweep", "record.enabled",
                "record.log_video", "record.max_points_per_view")
IGNORED_PREFIXES = ("hydra.", "hydra/")
# Keys that say which scene or which instances: rows, not columns.
ROW_KEYS = ("base_name", "instances", "split.reuse_dir")
ROW_PREFIXES = ("input.",)

CSV_COLUMNS = ("run", "label", "tracker", "scene", "instance", "metric", "value")


class CompareError(Exception):
    """Nothing to compare, or an unreadable run; the message says which folder."""


@dataclass
class Run:
    """One run's output folder, read back."""

    path: Path
    metrics: dict
    overrides: list[str]
    label: str = ""

    @property
    def tracker(self) -> str:
        return str(self.metrics.get("tracker", "?"))

    @property
    def base_name(self) -> str:
        return str(self.metrics.get("base_name", "run"))

    @property
    def fingerprint(self) -> str:
        return str(self.metrics.get("input_fingerprint", ""))

    @property
    def instances(self) -> dict[str, dict]:
        return self.metrics.get("instances", {}) or {}

    def config(self):
        """The run's `.hydra/config.yaml` (OmegaConf), or None."""
        from omegaconf import OmegaConf

        path = self.path / ".hydra" / "config.yaml"
        return OmegaConf.load(path) if path.is_file() else None

    def original_cwd(self) -> Path | None:
        """The folder the run was started from (`hydra.runtime.cwd`), or None."""
        from omegaconf import OmegaConf

        path = self.path / ".hydra" / "hydra.yaml"
        if not path.is_file():
            return None
        try:
            cwd = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.cwd")
        except Exception:  # noqa: BLE001 - an unreadable hydra.yaml only loses the cwd
            return None
        return Path(cwd) if cwd else None

    def scene_settings(self) -> tuple[int, int]:
        """(temporal_stride, spatial_downsample) of the run (1, 1 when unknown)."""
        cfg = self.config()
        if cfg is None:
            return 1, 1
        return int(cfg.get("temporal_stride", 1) or 1), int(cfg.get("spatial_downsample", 1) or 1)


# -------------------------------------------------------------------------------------------------
# finding and reading runs


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders (holding metrics.json) at or below each path, in order, without duplicates.

    Hidden folders (`.hydra`, `.submitit`, ...) are not searched."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise CompareError(f"{path}: no such folder")
        if (path / "metrics.json").is_file():
            found[path.resolve()] = None
            continue
        below = sorted(m.parent for m in path.rglob("metrics.json")
                       if not any(part.startswith(".") for part in m.relative_to(path).parts[:-1]))
        if not below:
            raise CompareError(f"{path}: no run found (no metrics.json in it or below it)")
        for run in below:
            found[run.resolve()] = None
    return list(found)


def read_overrides(run_dir: Path) -> list[str]:
    """The job's overrides from `.hydra/overrides.yaml` ([] when absent)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    from omegaconf import OmegaConf

    try:
        values = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as err:  # noqa: BLE001
        log.warning("%s: cannot read overrides (%s)", path, err)
        return []
    return [str(v) for v in values] if isinstance(values, list) else []


def load_run(run_dir: str | Path) -> Run:
    run_dir = Path(run_dir)
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError) as err:
        raise CompareError(f"{run_dir / 'metrics.json'}: unreadable ({err})") from None
    if not isinstance(metrics, dict):
        raise CompareError(f"{run_dir / 'metrics.json'}: not a metrics file")
    return Run(run_dir, metrics, read_overrides(run_dir))


def override_key(override: str) -> str:
    key = override.split("=", 1)[0]
    return key.lstrip("+~")


def _names_run(key: str) -> bool:
    return not (key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES) or key in ROW_KEYS
                or key.startswith(ROW_PREFIXES))


def assign_labels(runs: Sequence[Run]) -> None:
    """Give each run its column label (see the module docstring)."""
    naming = [[o for o in r.overrides if _names_run(override_key(o))] for r in runs]
    common = set.intersection(*(set(n) for n in naming)) if naming else set()
    trackers = {r.tracker for r in runs}
    for run, names in zip(runs, naming):
        differing = sorted(o for o in names if o not in common)
        if differing == [f"tracker={run.tracker}"] or (not differing and len(trackers) > 1):
            run.label = run.tracker
        elif differing:
            run.label = ",".join(differing)
        else:
            run.label = run.tracker
    # the same cell filled twice (one command run into two folders): tell them apart by folder
    changed = True
    while changed:
        changed = False
        seen: dict[tuple[str, str, str], Run] = {}
        for run in runs:
            for iid in run.instances:
                key = (run.label, _scene_key(run), iid)
                other = seen.get(key)
                if other is not None and other is not run:
                    for r in (other, run):
                        r.label = f"{r.label} ({r.path.name})" if r.path.name not in r.label \
                            else f"{r.label} ({r.path.parent.name})"
                    changed = True
                    break
                seen[key] = run
            if changed:
                break


def _scene_key(run: Run) -> str:
    return f"{run.base_name}\n{run.fingerprint}"


# -------------------------------------------------------------------------------------------------
# the comparison


@dataclass
class Comparison:
    """Runs (labelled), the table cells and what was written."""

    runs: list[Run]
    columns: list[str]
    rows: list[str]
    cells: dict[str, dict[str, dict]]  # row -> column -> instance figures (incl. per_frame)
    files: dict[str, Path] = field(default_factory=dict)

    def value(self, row: str, column: str, metric: str) -> float:
        v = self.cells.get(row, {}).get(column, {}).get(metric)
        return float(v) if met.is_number(v) else float("nan")

    def overall_row(self) -> dict[str, dict[str, float]]:
        """Per column: the point-weighted mean over its rows (as a run's `overall`)."""
        out = {}
        for col in self.columns:
            per = {row: {k: v for k, v in self.cells[row][col].items() if met.is_number(v)}
                   for row in self.rows if col in self.cells[row]}
            out[col] = met.overall(per)
        return out

    def has(self, metric: str) -> bool:
        return any(not math.isnan(self.value(r, c, metric)) for r in self.rows for c in self.columns)


def _row_names(runs: Sequence[Run]) -> dict[tuple[str, str], str]:
    """(scene key, instance) -> row name: the instance alone for one scene, else prefixed."""
    scenes = sorted({_scene_key(r) for r in runs})
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
        ids = sort_instance_ids(sorted({i for r in runs if _scene_key(r) == s for i in r.instances}))
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
            cells.setdefault(names[(_scene_key(run), iid)], {})[run.label] = figures
    from permask.ids import natural_key

    # natural order: `frames_after=5` before `frames_after=10`
    columns = sorted(dict.fromkeys(r.label for r in runs), key=natural_key)
    rows = [n for n in names.values() if n in cells]
    runs = sorted(runs, key=lambda r: (natural_key(r.label), natural_key(str(r.path))))
    return Comparison(runs, columns, rows, cells)


def key_metrics(comp: Comparison) -> list[str]:
    keys = [m for m in (*tables.GT_KEY_METRICS, *tables.GT_FREE_KEY_METRICS) if comp.has(m)]
    return keys


def csv_text(comp: Comparison, relative_to: Path | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in comp.runs:
        name = _display_path(run.path, relative_to)
        groups = [*run.instances.items(), ("overall", run.metrics.get("overall", {}) or {})]
        for iid, figures in groups:
            for metric, value in figures.items():
                if met.is_number(value):
                    writer.writerow([name, run.label, run.tracker, run.base_name, iid, metric,
                                     repr(float(value)) if not isinstance(value, int) else value])
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
                 " ".join(f"`{o}`" for o in r.overrides if _names_run(override_key(o))) or "-"]
                for r in comp.runs]
    lines.append(tables.markdown(["column", "tracker", "scene", "run folder", "overrides"],
                                 run_rows, numeric_from=99))
    overall = comp.overall_row()
    shown = key_metrics(comp)
    for metric in shown:
        cells = {row: {c: comp.value(row, c, metric) for c in comp.columns} for row in comp.rows}
        cells["overall"] = {c: overall[c].get(metric, float("nan")) for c in comp.columns}
        desc = tables.DESCRIPTIONS.get(metric, "")
        lines += [f"## {tables.label(metric)}{tables.arrow(metric)}" + (f": {desc}" if desc else ""),
                  "", tables.comparison_table(metric, cells, [*comp.rows, "overall"], comp.columns)]
    lines.append(tables.legend(shown))
    lines.append("Best per row in **bold**.")
    for kind, path in files.items():
        if path.suffix == ".png":
            lines += ["", f"![{kind}]({path.name})"]
    rrds = [p for p in files.values() if p.suffix == ".rrd"]
    if rrds:
        lines += ["", "Every run's tracks in one recording: " +
                  ", ".join(f"`rerun {p.name}`" for p in rrds)]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------
# the merged cross-run recording


def _group_key(run: Run) -> tuple[str, str, int, int]:
    stride, down = run.scene_settings()
    return run.base_name, run.fingerprint, stride, down


def _load_scene(run: Run):
    """The run's scene, loaded as the run loaded it (its `.hydra/config.yaml`)."""
    from omegaconf import OmegaConf, open_dict

    from permask.pipeline import load_input

    cfg = run.config()
    if cfg is None:
        raise CompareError(f"{run.path}: no .hydra/config.yaml to load the scene from")
    npz = OmegaConf.select(cfg, "input.npz")
    if npz and not Path(npz).is_absolute():
        cwd = run.original_cwd() or Path.cwd()
        with open_dict(cfg):
            cfg.input.npz = str(cwd / npz)
    return cfg, load_input(cfg)


def _read_tracks(run: Run, instance_id: str, num_frames: int):
    path = OutputLayout(run.path, run.base_name, run.tracker).tracked(instance_id)
    if not path.is_file():
        log.warning("compare: %s missing, %s of %s left out of the recording", path.name,
                    instance_id, run.label)
        return None
    tracked = read_tracked(path, num_frames=num_frames)
    return None if tracked is None else (tracked.queries, tracked.result)


def write_recordings(runs: Sequence[Run], layout: ComparisonLayout) -> dict[str, Path]:
    """Per scene (content fingerprint, stride, downsampling): one recording with the scene once
    and every run's tracks under world/tracks/{label}/{instance}."""
    from permask.record.context import prepare_scene_context
    from permask.record.identity import RecordingIds
    from permask.record.write import write_combined_recording

    groups: dict[tuple[str, str, int, int], list[Run]] = {}
    for run in runs:
        groups.setdefault(_group_key(run), []).append(run)
    written = {}
    for key, members in groups.items():
        base, fingerprint, stride, down = key
        name = base
        if len({k[1] for k in groups if k[0] == base}) > 1:  # one base name, several input files
            name += f"_{fingerprint[:8]}"
        if sum(1 for k in groups if k[:2] == key[:2]) > 1:  # one file at several settings
            name += f"_stride{stride}_down{down}"
        try:
            cfg, scene = _load_scene(members[0])
        except Exception as err:  # noqa: BLE001 - the tables stand without the recording
            log.warning("compare: no merged recording for %s: cannot load its scene (%s)", name, err)
            continue
        if fingerprint and scene.fingerprint and scene.fingerprint != fingerprint:
            log.warning("compare: no merged recording for %s: the input file changed since the "
                        "runs (fingerprint %s, runs %s)", name, scene.fingerprint, fingerprint)
            continue
        results: dict[str, dict] = {}
        for run in sorted(members, key=lambda r: (r.path / "metrics.json").stat().st_mtime):
            for iid in run.instances:
                if iid not in scene.masks:
                    continue
                loaded = _read_tracks(run, iid, scene.num_frames)
                if loaded is not None:
                    results.setdefault(run.label, {})[iid] = loaded
        if not results:
            continue
        context = prepare_scene_context(
            scene, max_points_per_view=int(cfg.get("record", {}).get("max_points_per_view", 5000)),
            log_video=bool(cfg.get("record", {}).get("log_video", True)))
        path = write_combined_recording(layout.recording(name), scene, results,
                                        base=base, ids=RecordingIds.for_scene(scene, base),
                                        context=context)
        written[f"recording_{name}"] = path
    return written


# -------------------------------------------------------------------------------------------------
# entry points


def compare(paths: Iterable[str | Path], out: str | Path, *, recording: bool = True,
            plots: bool = True) -> Comparison:
    """Aggregate the runs at or below `paths` into `out` (see the module docstring)."""
    out = Path(out)
    layout = ComparisonLayout(out)
    runs = [load_run(p) for p in find_runs(paths)]
    runs = [r for r in runs if r.instances] or runs
    assign_labels(runs)
    comp = build(runs)
    files: dict[str, Path] = {"csv": save_text(layout.csv(), csv_text(comp, out))}
    if plots and comp.rows:
        from permask.plots import plot_bars, plot_over_time

        for kind, fn in (("bars", plot_bars), ("over_time", plot_over_time)):
            path = fn(comp, layout.plot(kind))
            if path is not None:
                files[kind] = path
    if recording:
        files.update(write_recordings(runs, layout))
    files["markdown"] = save_text(layout.markdown(), markdown_text(comp, out, files))
    comp.files = files
    return comp


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m permask.compare",
        description="Compare trackers per mask across run folders (or sweep folders holding runs).")
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="a run's output folder, or a folder above runs (e.g. a sweep folder)")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="where to write (default: the single DIR given, else ./comparison)")
    parser.add_argument("--no-recording", action="store_true",
                        help="skip the merged cross-run .rrd (no scene loading)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output) if args.output else (
        Path(args.dirs[0]) if len(args.dirs) == 1 else Path("comparison"))
    try:
        comp = compare(args.dirs, out, recording=not args.no_recording, plots=not args.no_plots)
    except CompareError as err:
        print(f"permask.compare: error: {err}", file=sys.stderr)
        return 2
    from permask.compare_print import print_comparison

    print_comparison(comp, show_files=False)
    print(f"compared {len(comp.runs)} run(s): {', '.join(comp.columns)}; "
          f"{len(comp.rows)} instance(s)")
    for kind, path in comp.files.items():
        print(f"  {kind:18s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
