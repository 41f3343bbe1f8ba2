"""The merged cross-run recording: per scene, one .rrd with the scene once and every run's tracks
of every instance under world/tracks/{label}/{instance}."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from permask.compare.runs import CompareError, Run
from permask.files.layout import ComparisonLayout, OutputLayout
from permask.files.tracked import read_tracked

log = logging.getLogger(__name__)


def _group_key(run: Run) -> tuple[str, str, int, int]:
    stride, down = run.scene_settings()
    return run.base_name, run.fingerprint, stride, down


def load_run_scene(run: Run):
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


def run_scene_context(cfg, scene):
    """The scene context (encoded frames, depth clouds) as the run's `record.*` settings made
    it; settings the run's config lacks take `prepare_scene_context`'s defaults."""
    from permask.record.context import prepare_scene_context

    record_cfg = cfg.get("record", {}) or {}
    settings = {key: record_cfg[key] for key in ("max_points_per_view", "log_video")
                if key in record_cfg}
    return prepare_scene_context(scene, **settings)


def _read_tracks(run: Run, instance_id: str, num_frames: int):
    path = OutputLayout(run.path, run.base_name, run.tracker).tracked(instance_id)
    if not path.is_file():
        log.warning("compare: %s missing, %s of %s left out of the recording", path.name,
                    instance_id, run.label)
        return None
    tracked = read_tracked(path, num_frames=num_frames)
    return None if tracked is None else (tracked.queries, tracked.result)


def scene_groups(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs by scene (base name, input fingerprint, stride, downsampling), named `{base}`, plus
    `_{fingerprint[:8]}` when one base name has several input files and `_stride{s}_down{d}`
    when one file was run at several settings."""
    groups: dict[tuple[str, str, int, int], list[Run]] = {}
    for run in runs:
        groups.setdefault(_group_key(run), []).append(run)
    named = {}
    for key, members in groups.items():
        base, fingerprint, stride, down = key
        name = base
        if len({k[1] for k in groups if k[0] == base}) > 1:  # one base name, several input files
            name += f"_{fingerprint[:8]}"
        if sum(1 for k in groups if k[:2] == key[:2]) > 1:  # one file at several settings
            name += f"_stride{stride}_down{down}"
        named[name] = members
    return named


def load_group(name: str, members: Sequence[Run], what: str):
    """(config, scene, {run label: {instance: (Queries, TrackResult)}}) of one scene group, the
    runs in the order they were written; None (with a warning naming `what` is skipped) when the
    scene cannot be loaded or changed since the runs."""
    try:
        cfg, scene = load_run_scene(members[0])
    except Exception as err:  # noqa: BLE001 - the tables stand without it
        log.warning("compare: no %s for %s: cannot load its scene (%s)", what, name, err)
        return None
    fingerprint = members[0].fingerprint
    if fingerprint and scene.fingerprint and scene.fingerprint != fingerprint:
        log.warning("compare: no %s for %s: the input file changed since the runs "
                    "(fingerprint %s, runs %s)", what, name, scene.fingerprint, fingerprint)
        return None
    results: dict[str, dict] = {}
    for run in sorted(members, key=lambda r: (r.path / "metrics.json").stat().st_mtime):
        for iid in run.instances:
            if iid not in scene.masks:
                continue
            loaded = _read_tracks(run, iid, scene.num_frames)
            if loaded is not None:
                results.setdefault(run.label, {})[iid] = loaded
    return cfg, scene, results


def loaded_groups(runs: Sequence[Run], what: str) -> Iterator[tuple]:
    """(name, runs, config, scene, results) per scene group whose scene loads and whose runs
    left tracks (`scene_groups`, `load_group`)."""
    for name, members in scene_groups(runs).items():
        loaded = load_group(name, members, what)
        if loaded is not None and loaded[2]:
            yield (name, members, *loaded)


def write_recordings(runs: Sequence[Run], layout: ComparisonLayout) -> dict[str, Path]:
    """Per scene (content fingerprint, stride, downsampling): one recording with the scene once
    and every run's tracks under world/tracks/{label}/{instance}."""
    from permask.record.identity import RecordingIds
    from permask.record.write import write_combined_recording

    written = {}
    for name, members, cfg, scene, results in loaded_groups(runs, "merged recording"):
        base = members[0].base_name
        path = write_combined_recording(layout.recording(name), scene, results,
                                        base=base, ids=RecordingIds.for_scene(scene, base),
                                        context=run_scene_context(cfg, scene))
        written[f"recording_{name}"] = path
    return written
