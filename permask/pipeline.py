"""One run: load once -> per instance (queries -> track -> record -> metrics) -> combine
(recording, videos, metrics files) -> report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra.utils
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from permask import instances as inst
from permask import metrics as met
from permask import resume
from permask import tables
from permask.data import Queries, Scene, TrackResult
from permask.config import Tracking, validate_config
from permask.errors import ConfigError, InstanceError
from permask.files.atomic import save_json, save_npz
from permask.files.layout import OutputLayout
from permask.files.lock import FolderLock
from permask.files.manifest import claim_folder
from permask.files.tracked import query_arrays, tracked_arrays, write_tracked
from permask.files.writable import ensure_writable_dir
from permask.demo.cache import demo_scene_path
from permask.demo.params import DemoParams
from permask.inputs.limits import DecodeLimits
from permask.inputs.load import load_scene
from permask.logs import bars_and_logs, bars_on
from permask.versions import METRICS_FORMAT, stamp
from permask.protocols.modes import MetricModes
from permask.protocols.modes import figures as protocol_figures
from permask.queries import NO_QUERY_POINTS, build_queries
from permask.record.identity import RecordingIds
from permask.record.live import check_address
from permask.record.paths import frame_values
from permask.record.recorder import RunRecorder, is_shared, open_live_view
from permask.trackers.base import Tracker
from permask.trackers.joint import track_jointly
from permask.video import write_track_videos

log = logging.getLogger(__name__)


@dataclass
class InstanceOutcome:
    instance_id: str
    queries: Queries
    result: TrackResult
    metrics: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)
    truth: tuple | None = None  # (true tracks [T,N,3], visibility [T,N], gt index [N] | None)


@dataclass
class RunReport:
    output_dir: Path
    base_name: str
    tracker: str
    outcomes: dict[str, InstanceOutcome]
    skipped: dict[str, str]
    files: dict[str, Path]
    overall: dict[str, float]
    reused: list[str] = field(default_factory=list)
    metric_modes: dict[str, str] = field(default_factory=dict)  # protocol -> its mode
    tracking: str = "per_mask"  # `tracking`: per_mask or joint


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a run: which instances were finished, where to resume."""

    def __init__(self, finished: list[str], output_dir: Path):
        self.finished = finished
        self.output_dir = output_dir
        super().__init__(f"interrupted after {len(finished)} finished instance(s)")


def input_path(cfg: DictConfig) -> Path:
    """The recording to run on: `input.npz`, or the cached built-in demo scene."""
    if cfg.input.npz:
        return Path(hydra.utils.to_absolute_path(cfg.input.npz))
    demo = OmegaConf.to_container(cfg.input.demo, resolve=True)
    cache_dir = demo.pop("cache_dir")
    try:
        params = DemoParams(**demo)
    except ValueError as err:
        raise ConfigError(str(err), key="input.demo") from None
    return demo_scene_path(params, cache_dir=cache_dir)


def decode_limits(cfg: DictConfig) -> DecodeLimits:
    """`input.limits` (null entries: this machine's defaults)."""
    limits = cfg.input.get("limits") or {}
    return DecodeLimits.for_this_machine(**OmegaConf.to_container(limits, resolve=True))


def reading(cfg: DictConfig) -> dict[str, Any]:
    """How a run reads its file, as `load_scene` keywords: the decoding limits, the depth unit
    and whether the configured depth source needs the file's depth (a run and `permask
    inspect` read the file alike)."""
    return {"limits": decode_limits(cfg), "depth_scale": cfg.input.depth_scale,
            "require_depth": hydra.utils.get_class(cfg.depth._target_).needs_file_depth}


def load_input(cfg: DictConfig) -> Scene:
    """The scene every stage sees: loaded once, with the configured depth source applied."""
    depth = hydra.utils.instantiate(cfg.depth)
    scene = load_scene(input_path(cfg), cfg.input.mask_key, temporal_stride=cfg.temporal_stride,
                       spatial_downsample=cfg.spatial_downsample, **reading(cfg))
    scene = depth.apply(scene)
    scene.depth_source, scene.depth_metric = depth.name, bool(depth.metric)
    return scene


def select_instances(scene: Scene, wanted: list[str]) -> list[str]:
    """The instances to run, in natural order; unknown ids are an error naming the known ones."""
    if not wanted:
        return scene.instance_ids
    unknown = [w for w in wanted if w not in scene.masks]
    if unknown:
        raise InstanceError(f"unknown instance(s) {unknown}; the file has {scene.instance_ids}",
                            file=scene.source, key="instances")
    return inst.sort_instance_ids(list(dict.fromkeys(wanted)))


def run(cfg: DictConfig, output_dir: str | Path) -> RunReport:
    """One run, every output written under the output folder's lock: load the tracker and the
    scene and plan the outputs; per instance its queries, tracks (an earlier run's where it
    finished the instance with the same settings), tracked file, recording and figures; then the
    combined recording, the videos and the metrics files. Raises Interrupted on Ctrl-C/SIGTERM."""
    validate_config(cfg)
    if cfg.record.enabled and cfg.record.get("connect"):
        check_address(cfg.record.connect)  # no viewer there: one line before any work
    out = ensure_writable_dir(output_dir)
    tracker = load_tracker(cfg)
    scene = load_input(cfg)
    reads = [Path(scene.source)] if scene.source else []
    if cfg.split.reuse_dir:  # the instance files of an earlier split
        reuse = Path(hydra.utils.to_absolute_path(cfg.split.reuse_dir))
        reads += inst.instance_files(reuse)
        scene.masks = inst.read_instance_masks(reuse, scene=scene)
    layout = OutputLayout(out, cfg.base_name, tracker.name, reads=reads)
    ids = select_instances(scene, list(cfg.instances))
    videos = (layout.videos(scene.camera_ids, ids if cfg.video_settings.per_instance else ())
              if cfg.video else {})
    plan = layout.plan(ids, record=cfg.record.enabled, split=not cfg.split.reuse_dir,
                       shared_scene=cfg.record.enabled and is_shared(cfg.record), videos=videos)
    mode, modes = Tracking(cfg.tracking), MetricModes.of(cfg.metrics, scene)
    config_text = OmegaConf.to_yaml(cfg, resolve=True)
    outcomes: dict[str, InstanceOutcome] = {}
    skipped: dict[str, str] = {}
    reused: list[str] = []
    finished: list[str] = []  # tracked file on disk: what a resume reuses
    with FolderLock(layout.lock_file(), wait=cfg.on_locked == "wait") as lock:
        lock.remove_orphaned_temporaries(layout.folders())
        claim_folder(layout, scene.fingerprint, scene.source, plan.paths(), cfg.on_existing)
        with bars_and_logs(cfg.progress), recording(cfg, scene, layout, tracker.name) as recorder:
            if not cfg.split.reuse_dir:
                for iid, files in plan.instances.items():
                    inst.write_instance_npz(files["instance"], scene, iid, cfg.split.self_contained)
            scene_files = recorder.start() if recorder is not None else {}
            started = time.perf_counter()
            try:
                for iid, queries, result, earlier, fingerprint in tqdm(
                        _tracked(cfg, scene, tracker, plan.instances, config_text, skipped),
                        total=len(ids), desc=f"{tracker.name} {mode.value.replace('_', ' ')}",
                        unit="instance", disable=not bars_on(cfg.progress)):
                    files = plan.instances[iid]
                    truth = met.ground_truth_tracks(scene, queries)
                    if recorder is not None:  # reused: its file exists, the live view only
                        recorder.instance(None if earlier else files["rrd"], queries, result)
                    if earlier:
                        reused.append(iid)
                    else:  # written last: its fingerprint marks the instance finished
                        write_tracked(files["tracked"], tracked_arrays(
                            scene, queries, result, tracker.name, config_text,
                            None if truth is None else truth[2]), fingerprint)
                    finished.append(iid)
                    figures = instance_metrics(scene, queries, result,
                                               list(cfg.metrics.distances), modes, truth)
                    log.info("%s: %d points, %s in %.1f s", iid, len(queries),
                             "reused" if earlier else "tracked", time.perf_counter() - started)
                    outcomes[iid] = InstanceOutcome(iid, queries, result, figures, files, truth)
                    started = time.perf_counter()
            except KeyboardInterrupt:
                raise Interrupted(finished, out) from None
            if reused:
                log.info("reused %d finished instance(s) from an earlier run: %s", len(reused),
                         reused)
            results = {iid: (o.queries, o.result) for iid, o in outcomes.items()}
            recording_files = {} if recorder is None or not outcomes else recorder.finish(
                results, [o.files["rrd"] for o in outcomes.values()])
            video_files = {} if not videos or not outcomes else write_track_videos(
                scene, results, layout, progress=cfg.progress, **cfg.video_settings)
            per_instance = {iid: o.metrics for iid, o in outcomes.items()}
            overall = {**met.overall(per_instance),
                       **pooled_protocol_figures(scene, modes, list(outcomes.values()))}
            metrics_files = write_metrics(layout, scene, tracker.name, mode, modes, per_instance,
                                          overall, skipped)
    files = {**scene_files, **recording_files, **metrics_files, **video_files}
    return RunReport(out, cfg.base_name, tracker.name, outcomes, skipped, files, overall, reused,
                     modes.labels(), mode.value)


def load_tracker(cfg: DictConfig) -> Tracker:
    """The tracker, built once and reused for every instance; learned models load here, so
    missing code or weights fail before any work."""
    tracker: Tracker = hydra.utils.instantiate(cfg.tracker)
    tracker.load()
    tracker.progress = cfg.progress
    return tracker


@contextmanager
def recording(cfg: DictConfig, scene: Scene, layout: OutputLayout, tracker: str
              ) -> Iterator[RunRecorder | None]:
    """The run's recorder (None with `record.enabled=false`); its live stream ends with the
    block. The scene context is encoded once, shared by every recording."""
    if not cfg.record.enabled:
        yield None
        return
    live = open_live_view(cfg.record, RecordingIds.for_scene(scene, cfg.base_name))
    recorder = RunRecorder(cfg.record, scene, layout, tracker, live)
    try:
        yield recorder
    finally:
        recorder.close()


def write_metrics(layout: OutputLayout, scene: Scene, tracker: str, mode: Tracking,
                  modes: MetricModes, per_instance: dict[str, dict], overall: dict[str, float],
                  skipped: dict[str, str]) -> dict[str, Path]:
    """metrics.json and metrics.md; returns {"metrics": path, "metrics_table": path}."""
    base = layout.base
    metrics = save_json(layout.metrics_json(), {
        **stamp(METRICS_FORMAT), "base_name": base, "tracker": tracker,
        "tracking": mode.value, "input": scene.source, "input_fingerprint": scene.fingerprint,
        "depth": {"name": scene.depth_source, "metric": scene.depth_metric},
        "metric_modes": modes.labels(),
        "instances": per_instance,
        "overall": overall, "skipped": skipped})
    title = f"{base}: tracker {tracker}" + (", joint" if mode == Tracking.joint else "")
    table = tables.write_run_table(
        layout.metrics_table(), per_instance, overall, title=title, skipped=skipped,
        modes=modes.short(), mode_labels=modes.labels())
    return {"metrics": metrics, "metrics_table": table}


def _tracked(cfg: DictConfig, scene: Scene, tracker, plan: dict[str, dict[str, Path]],
             config_text: str, skipped: dict[str, str]
             ) -> Iterator[tuple[str, Queries, TrackResult, bool, str]]:
    """Per instance in plan order: (id, queries, result, reused, fingerprint), the result tracked
    by `cfg.tracking` (one call per instance, or one call for every instance) or, where an
    earlier run finished the instance with the same fingerprint, reused. Instances without
    queries go into `skipped` with the reason.

    Joint: every instance's queries are built (and their files written) before the one call;
    an instance reused from an interrupted joint run still takes part in the call (its stored
    queries, identical to rebuilt ones), so the others see the same call as uninterrupted."""
    def prepare(instance_id: str, files: dict[str, Path]):
        if inst.is_empty(scene.masks[instance_id]):
            skipped[instance_id] = inst.EMPTY_MASK
            log.warning("skipping %s: its mask is empty in every frame", instance_id)
            return None
        fingerprint = resume.instance_fingerprint(cfg, scene, instance_id)
        earlier = resume.load_finished(files["tracked"], fingerprint,
                                       [files[k] for k in ("queries", "rrd") if k in files])
        if earlier is not None:
            return earlier[0], earlier[1], fingerprint
        queries = build_queries(scene, instance_id, cfg.query)
        if len(queries) == 0:
            why = ("no ground-truth track names it (gt_track_instance)"
                   if cfg.query.mode == "gt" else NO_QUERY_POINTS)
            skipped[instance_id] = why
            log.warning("skipping %s: %s", instance_id, why)
            return None
        save_npz(files["queries"], **query_arrays(queries, config_text))
        return queries, None, fingerprint

    if cfg.tracking != Tracking.joint:
        for instance_id, files in plan.items():
            prepared = prepare(instance_id, files)
            if prepared is not None:
                queries, earlier, fingerprint = prepared
                result = tracker.track(scene, queries) if earlier is None else earlier
                yield instance_id, queries, result, earlier is not None, fingerprint
        return
    prepared = {iid: p for iid, files in plan.items() if (p := prepare(iid, files)) is not None}
    results: dict[str, TrackResult] = {}
    if any(earlier is None for _, earlier, _ in prepared.values()):
        started = time.perf_counter()
        queries = {iid: q for iid, (q, _, _) in prepared.items()}
        results = track_jointly(tracker, scene, queries)
        log.info("joint: %d instance(s), %d points in one %s call, %.1f s", len(queries),
                 sum(map(len, queries.values())), tracker.name, time.perf_counter() - started)
    for iid, (queries, earlier, fingerprint) in prepared.items():
        yield iid, queries, results[iid] if earlier is None else earlier, earlier is not None, \
            fingerprint


def instance_metrics(scene: Scene, queries: Queries, result: TrackResult,
                     thresholds: list[float], modes: MetricModes | None = None,
                     truth: tuple | None = None) -> dict[str, float]:
    """Figures of one instance: summary, GT-free (always), ground truth (where the file has it:
    permask's own with metric depth, and with `modes` the published protocols'), and
    `per_frame` curves ({name: [T] list}, frame values under "frame") for comparisons.
    truth: `metrics.ground_truth_tracks` of the queries (None: looked up here)."""
    figures = met.summary_figures(result.tracks, result.visible)
    gt_free = met.gt_free_metrics(scene, queries.instance_id, result.tracks, result.visible,
                                  queries.points)
    figures.update(gt_free.figures)
    per_frame = {"frame": [int(f) for f in frame_values(scene)], **gt_free.per_frame}
    truth = truth if truth is not None else met.ground_truth_tracks(scene, queries)
    if truth is not None:
        gt, gt_vis, _ = truth
        if scene.depth_metric:  # permask's own 3D figures need metric depth
            figures.update(met.gt_metrics(result.tracks, result.visible, gt, gt_vis,
                                          queries.frame, thresholds))
            per_frame.update(met.gt_per_frame(result.tracks, result.visible, gt, gt_vis,
                                              queries.frame, thresholds))
        if modes is not None:
            figures.update(protocol_figures(scene, modes, queries.points, result.tracks,
                                            result.visible, gt, gt_vis))
    figures["per_frame"] = per_frame
    return figures


def pooled_protocol_figures(scene: Scene, modes: MetricModes,
                            outcomes: list[InstanceOutcome]) -> dict[str, float]:
    """The protocols' figures of every instance's tracks together, as one video (what a
    benchmark reports per video; a run's `overall` row). Instances without truth are left out."""
    scored = [o for o in outcomes if o.truth is not None]
    if not scored:
        return {}
    return protocol_figures(
        scene, modes, np.concatenate([o.queries.points for o in scored]),
        np.concatenate([o.result.tracks for o in scored], axis=1),
        np.concatenate([o.result.visible for o in scored], axis=1),
        np.concatenate([o.truth[0] for o in scored], axis=1),
        np.concatenate([o.truth[1] for o in scored], axis=1))
