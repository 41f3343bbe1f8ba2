"""The runs of a comparison: run folders found at or below the given paths, read back
(`metrics.json`, `.hydra/`), and labelled.

A run's *label* (its column) is built from its Hydra overrides (`.hydra/overrides.yaml`) that are
not shared by all runs compared, leaving out what never changes a result (`output_dir`, `video`,
..., `permask.result_keys`) and the recordings' settings (`record.*`), which scene
(`input.*`, `base_name`: scenes are rows) and `instances` (instances are rows): a sweep over
trackers gives labels `lk` and `static`; a sweep over instances with one tracker gives one column.
When two runs fill the same cell (the same command run twice into two folders), their labels get
the folder name appended. The tracking mode (`tracking`, from metrics.json) is part of a run's
identity: when any run compared is `joint`, every label names its mode (`lk joint`,
`lk per_mask`), so a sweep `tracker=lk,static tracking=per_mask,joint` has tracker x mode columns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from permask.files.layout import SELECTION_JSON
from permask.result_keys import RESULT_FREE, covers
from permask.versions import METRICS_FORMAT, check_readable

log = logging.getLogger(__name__)

# Override keys that never name a run: those that never change a result (`RESULT_FREE`), Hydra's
# own, and the recordings' settings (a recording never changes a figure).
IGNORED_PREFIXES = ("hydra.", "hydra/", "record.")
# Keys that say which scene or which instances: rows, not columns.
ROW_KEYS = ("base_name", "instances", "split.reuse_dir")
ROW_PREFIXES = ("input.",)


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
    def tracking(self) -> str:
        """`per_mask` or `joint` (runs of permask before the setting: per_mask)."""
        return str(self.metrics.get("tracking", "per_mask"))

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



def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders (holding metrics.json) at or below each path, in order, without duplicates.

    Hidden folders (`.hydra`, `.submitit`, ...) and best-per-mask folders (holding
    `selection.json`, `permask.compare.best`) are not searched; given by name, a best folder is
    read as a run."""

    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise CompareError(f"{path}: no such folder")
        if (path / "metrics.json").is_file():
            found[path.resolve()] = None
            continue
        below = sorted(m.parent for m in path.rglob("metrics.json")
                       if not any(part.startswith(".") for part in m.relative_to(path).parts[:-1])
                       and not (m.parent / SELECTION_JSON).is_file())
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
    check_readable(run_dir / "metrics.json", metrics.get("format_version"), METRICS_FORMAT)
    return Run(run_dir, metrics, read_overrides(run_dir))


def override_key(override: str) -> str:
    key = override.split("=", 1)[0]
    return key.lstrip("+~")


def names_run(key: str) -> bool:
    return not (covers(RESULT_FREE, key) or key.startswith(IGNORED_PREFIXES) or key in ROW_KEYS
                or key.startswith(ROW_PREFIXES))


def assign_labels(runs: Sequence[Run]) -> None:
    """Give each run its column label (see the module docstring)."""
    # the mode comes from what the run did (metrics.json), not from how it was asked for
    naming = [[o for o in r.overrides if names_run(override_key(o))
               and override_key(o) != "tracking"] for r in runs]
    common = set.intersection(*(set(n) for n in naming)) if naming else set()
    trackers = {r.tracker for r in runs}
    show_mode = any(r.tracking != "per_mask" for r in runs)
    for run, names in zip(runs, naming):
        differing = sorted(o for o in names if o not in common)
        if differing == [f"tracker={run.tracker}"] or (not differing and len(trackers) > 1):
            run.label = run.tracker
        elif differing:
            run.label = ",".join(differing)
        else:
            run.label = run.tracker
        if show_mode:
            run.label += f" {run.tracking}" if run.label == run.tracker \
                else f",tracking={run.tracking}"
    # the same cell filled twice (one command run into two folders): tell them apart by folder
    changed = True
    while changed:
        changed = False
        seen: dict[tuple[str, str, str], Run] = {}
        for run in runs:
            for iid in run.instances:
                key = (run.label, scene_key(run), iid)
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


def scene_key(run: Run) -> str:
    return f"{run.base_name}\n{run.fingerprint}"
