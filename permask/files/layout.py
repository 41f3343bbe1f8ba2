"""The one place that names a run's files.

`OutputLayout(root, base, tracker)` returns every path a run writes; each is built from
`safe_name` parts and checked to resolve inside `root` (symlinked folders included). `plan`
checks a whole run's files at once: two outputs on one name (also case-insensitively, for macOS
and Windows file systems) or an output on a file the run reads is an error naming both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from permask.errors import OutputError
from permask.files.names import safe_name

STATE_DIR = ".permask"  # the lock and the manifest


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass
class OutputLayout:
    """Paths of one run. root: the output folder; base: `base_name`; tracker: the tracker's name.

    Every method returns an absolute path inside `root`. `reads` lists the files the run reads
    (input, reused instance files): `plan` refuses any output on one of them.
    """

    root: Path
    base: str
    tracker: str
    reads: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(os.path.abspath(self.root))
        self._base = safe_name(self.base)
        self._tracker = safe_name(self.tracker)

    # ------------------------------------------------------------------ per instance
    def instance_file(self, instance_id: str) -> Path:
        return self._inside("instances", instance_file_name(self.base, instance_id))

    def query_file(self, instance_id: str) -> Path:
        return self._inside("instances", instance_file_name(self.base, instance_id, "_query"))

    def tracked(self, instance_id: str) -> Path:
        return self._inside(f"{self._stem(instance_id)}_tracked.npz")

    def recording(self, instance_id: str) -> Path:
        return self._inside(f"{self._stem(instance_id)}.rrd")

    def instance_files(self, instance_id: str, record: bool = True) -> dict[str, Path]:
        """What the run writes per instance: split file, queries, tracked NPZ, recording."""
        files = {"instance": self.instance_file(instance_id),
                 "queries": self.query_file(instance_id), "tracked": self.tracked(instance_id)}
        if record:
            files["rrd"] = self.recording(instance_id)
        return files

    # ------------------------------------------------------------------ per run
    def combined_recording(self) -> Path:
        return self._inside(f"{self._base}_{self._tracker}_combined.rrd")

    def scene_recording(self) -> Path:
        """`{base}_scene.rrd`: the scene context once, with `record.scene=shared`."""
        return self._inside(f"{self._base}_scene.rrd")

    def view_script(self) -> Path:
        return self._inside(f"view_{self._base}_{self._tracker}_combined.sh")

    def video(self, camera: str, instance_id: str | None = None) -> Path:
        """`{base}_{tracker}[_{instance}]_{camera}.mp4` (permask/video.py)."""
        part = "" if instance_id is None else f"_{safe_name(instance_id)}"
        return self._inside(f"{self._base}_{self._tracker}{part}_{safe_name(camera)}.mp4")

    def videos(self, camera_ids: Iterable[str], instance_ids: Iterable[str] = ()
               ) -> dict[str, Path]:
        """The videos of a run: `video_{camera}` with every instance, per camera, and
        `video_{instance}_{camera}` for each of `instance_ids` (`video_settings.per_instance`)."""
        cameras = list(camera_ids)
        files = {f"video_{cam}": self.video(cam) for cam in cameras}
        files.update({f"video_{iid}_{cam}": self.video(cam, iid)
                      for iid in instance_ids for cam in cameras})
        return files

    def metrics_json(self) -> Path:
        return self._inside("metrics.json")

    def metrics_table(self) -> Path:
        return self._inside("metrics.md")

    def state_dir(self) -> Path:
        return self._inside(STATE_DIR)

    def lock_file(self) -> Path:
        return self._inside(STATE_DIR, "lock")

    def manifest(self) -> Path:
        return self._inside(STATE_DIR, "manifest.json")

    def run_files(self, record: bool = True, shared_scene: bool = False,
                  videos: dict[str, Path] | None = None) -> dict[str, Path]:
        """The files of the run as a whole: metrics, recordings (with `record`) and `videos`."""
        files = {"metrics": self.metrics_json(), "metrics_table": self.metrics_table()}
        if record:
            files["combined_rrd"] = self.combined_recording()
            files["view_script"] = self.view_script()
            if shared_scene:
                files["scene_rrd"] = self.scene_recording()
        files.update(videos or {})
        return files

    # ------------------------------------------------------------------ checks
    def plan(self, instance_ids: Iterable[str], *, record: bool = True, split: bool = True,
             shared_scene: bool = False, videos: dict[str, Path] | None = None) -> RunPlan:
        """Every file of the run, after checking them all at once: no two on one name
        (case-insensitively), none on a file the run reads. Raises OutputError."""
        planned = {iid: self.instance_files(iid, record) for iid in instance_ids}
        if not split:
            for files in planned.values():
                files.pop("instance")
        run_files = self.run_files(record, shared_scene, videos)
        owned = dict(run_files)
        owned.update({f"instance {iid!a} ({kind})": path
                      for iid, files in planned.items() for kind, path in files.items()})
        clash = first_clash(owned)
        if clash:
            raise OutputError(f"{clash[1]} and {clash[0]} map to the same output file",
                              file=str(owned[clash[1]]), key="instance id",
                              fix="rename one of them in the input file")
        reads = {_resolved(p): p for p in self.reads}
        for path in owned.values():
            if _resolved(path) in reads:
                raise OutputError(
                    f"an output of this run would replace the file it reads "
                    f"({reads[_resolved(path)]})", file=str(path), key="output_dir",
                    fix="choose another output_dir (or base_name)")
        return RunPlan(planned, run_files)

    def folders(self) -> list[Path]:
        """The folders this layout writes files into (where a killed run's temporaries lie)."""
        return [self.root, self._inside("instances"), self._inside(STATE_DIR)]

    def _stem(self, instance_id: str) -> str:
        return f"{self._base}_{self._tracker}_{safe_name(instance_id)}"

    def _inside(self, *parts: str) -> Path:
        return inside(self.root, *parts)


@dataclass
class RunPlan:
    """Every file one run writes. instances: instance id -> {kind: path} (instance, queries,
    tracked, rrd); run: {name: path} of the run as a whole (metrics, recordings, videos)."""

    instances: dict[str, dict[str, Path]]
    run: dict[str, Path]

    def paths(self) -> list[Path]:
        return [*(p for files in self.instances.values() for p in files.values()),
                *self.run.values()]


def instance_file_name(base: str, instance_id: str, suffix: str = "") -> str:
    """`{base}_{instance}{suffix}.npz`, both parts made safe (`safe_name`): an instance's split
    file (no suffix) and its query file (`_query`)."""
    return f"{safe_name(base)}_{safe_name(instance_id)}{suffix}.npz"


def first_clash(owned: dict[str, Path]) -> tuple[str, str] | None:
    """The first two owners whose paths are one file name (also differing only in case, as on
    macOS and Windows file systems), else None."""
    seen: dict[str, str] = {}
    for owner, path in owned.items():
        other = seen.setdefault(str(path).casefold(), owner)
        if other != owner:
            return other, owner
    return None


def inside(root: Path, *parts: str) -> Path:
    """`root/parts...`, refused unless it resolves inside `root` (symlinks followed)."""
    path = Path(root).joinpath(*parts)
    real_root = _resolved(Path(root))
    real = _resolved(path)
    if real != real_root and real_root not in real.parents:
        raise OutputError(f"would be written outside the output folder {root}",
                          file=str(path), key="output_dir")
    return path


@dataclass
class ComparisonLayout:
    """Files of a comparison (a sweep folder, or `python -m permask.compare -o DIR`)."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(os.path.abspath(self.root))

    def csv(self) -> Path:
        return inside(self.root, "comparison.csv")

    def markdown(self) -> Path:
        return inside(self.root, "comparison.md")

    def plot(self, kind: str) -> Path:
        return inside(self.root, f"comparison_{safe_name(kind)}.png")

    def recording(self, base: str) -> Path:
        return inside(self.root, f"{safe_name(base)}_comparison.rrd")

    def video(self, base: str, camera: str) -> Path:
        """The side-by-side video of every run of a scene in one camera."""
        return inside(self.root, f"{safe_name(base)}_comparison_{safe_name(camera)}.mp4")

    def best(self, scene: str | None = None) -> Path:
        """The best-per-mask folder: `best/`, or `best/{scene}/` when several scenes were compared."""
        return inside(self.root, "best") if scene is None else \
            inside(self.root, "best", safe_name(scene))

    def folders(self) -> list[Path]:
        """The folders a comparison writes into (where a killed one's temporaries lie)."""
        best = self.best()
        return [self.root, best, *(p for p in best.rglob("*") if p.is_dir())]


BEST_TRACKER = "best"  # the tracker part of a best-per-mask folder's file names


@dataclass
class BestLayout(OutputLayout):
    """Files of a best-per-mask folder (`permask.compare.best`): a run folder of the tracker
    `best` (`{base}_best_{instance}_tracked.npz`, `{base}_best_combined.rrd`, videos,
    `metrics.json`, `metrics.md`) plus the record of the choice."""

    tracker: str = BEST_TRACKER

    def selection_json(self) -> Path:
        return self._inside(SELECTION_JSON)

    def selection_md(self) -> Path:
        return self._inside("selection.md")


SELECTION_JSON = "selection.json"  # marks a best-per-mask folder (not a run of its own)
