"""One run: load once -> per instance (queries -> track -> record) -> combine -> report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
from permask.files.tracked import write_tracked
from permask.files.writable import ensure_writable_dir
from permask.demo.cache import demo_scene_path
from permask.demo.params import DemoParams
from permask.geometry import tracks_2d
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
    scene: Scene | None = None  # the scene the run saw (for outputs made after it, e.g. videos)
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


def load_input(cfg: DictConfig) -> Scene:
    """The scene every stage sees: loaded once, with the configured depth source applied."""
    depth = hydra.utils.instantiate(cfg.depth)
    scene = load_scene(input_path(cfg), cfg.input.mask_key, temporal_stride=cfg.temporal_stride,
                       spatial_downsample=cfg.spatial_downsample,
                       require_depth=depth.needs_file_depth, limits=decode_limits(cfg))
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
    validate_config(cfg)
    if cfg.record.enabled and cfg.record.get("connect"):
        check_address(cfg.record.connect)  # no viewer there: one line before any work
    out = ensure_writable_dir(output_dir)
    tracker: Tracker = hydra.utils.instantiate(cfg.tracker)  # once, reused for every instance
    tracker.load()  # learned models: fail on missing code/weights before any work
    tracker.progress = cfg.progress
    scene = load_input(cfg)
    reads = [Path(scene.source)] if scene.source else []
    if cfg.split.reuse_dir:  # the instance files of an earlier split
        reuse = Path(hydra.utils.to_absolute_path(cfg.split.reuse_dir))
        reads += inst.instance_files(reuse)
        scene.masks = inst.read_instance_masks(reuse, scene=scene)
    layout = OutputLayout(out, cfg.base_name, tracker.name, reads=reads)
    ids = select_instances(scene, list(cfg.instances))
    shared = cfg.record.enabled and is_shared(cfg.record)
    plan = layout.plan(ids, record=cfg.record.enabled, split=not cfg.split.reuse_dir,
                       shared_scene=shared)
    with FolderLock(layout.lock_file(), wait=cfg.on_locked == "wait") as lock:
        lock.remove_orphaned_temporaries(layout.folders())
        planned = [*(p for files in plan.values() for p in files.values()),
                   *layout.run_files(cfg.record.enabled, shared).values()]
        claim_folder(layout, scene.fingerprint, scene.source, planned, cfg.on_existing)
        with bars_and_logs(cfg.progress):
            return _run_instances(cfg, scene, tracker, layout, plan)


def _run_instances(cfg: DictConfig, scene: Scene, tracker, layout: OutputLayout,
                   plan: dict[str, dict[str, Path]]) -> RunReport:
    """Per instance: queries -> track -> record; then combine and report (folder locked)."""
    base = cfg.base_name
    if not cfg.split.reuse_dir:
        for iid, files in plan.items():
            inst.write_instance_npz(files["instance"], scene, iid, cfg.split.self_contained)
    config_text = OmegaConf.to_yaml(cfg, resolve=True)
    recorder = None
    if cfg.record.enabled:  # the scene context is encoded once, shared by every recording
        live = open_live_view(cfg.record, RecordingIds.for_scene(scene, base))
        recorder = RunRecorder(cfg.record, scene, layout, tracker.name, live)
    try:
        return _track_instances(cfg, scene, tracker, layout, plan, recorder, config_text)
    finally:
        if recorder is not None:
            recorder.close()


def _track_instances(cfg: DictConfig, scene: Scene, tracker, layout: OutputLayout,
                     plan: dict[str, dict[str, Path]], recorder: RunRecorder | None,
                     config_text: str) -> RunReport:
    """The instance loop, the combined recording and the metrics files."""
    out, base = layout.root, cfg.base_name
    modes = MetricModes.of(cfg.metrics, scene)
    written = recorder.start() if recorder is not None else {}  # the scene file, if shared
    outcomes: dict[str, InstanceOutcome] = {}
    skipped: dict[str, str] = {}
    reused: list[str] = []
    finished: list[str] = []  # tracked file on disk: what a resume reuses
    mode = Tracking(cfg.tracking)
    tracked = _tracked(cfg, scene, tracker, plan, config_text, skipped)
    started = time.perf_counter()
    try:
        for instance_id, queries, result, earlier, fingerprint in tqdm(
                tracked, total=len(plan), desc=f"{tracker.name} {mode.value.replace('_', ' ')}",
                unit="instance", disable=not bars_on(cfg.progress)):
            files = plan[instance_id]
            truth = met.ground_truth_tracks(scene, queries)
            if earlier:
                reused.append(instance_id)
                if recorder is not None:
                    recorder.instance(None, queries, result)  # the live view only
            else:
                if recorder is not None:
                    recorder.instance(files["rrd"], queries, result)
                arrays = tracked_arrays(scene, queries, result, tracker.name, config_text)
                if truth is not None and truth[2] is not None:
                    arrays["gt_track_index"] = truth[2]
                # written last: its fingerprint marks the instance finished
                write_tracked(files["tracked"], arrays, fingerprint)
            finished.append(instance_id)
            figures = instance_metrics(scene, queries, result, list(cfg.metrics.distances), modes,
                                       truth)
            log.info("%s: %d points, %s in %.1f s", instance_id, len(queries),
                     "reused" if earlier else "tracked", time.perf_counter() - started)
            outcomes[instance_id] = InstanceOutcome(instance_id, queries, result, figures, files,
                                                    truth)
            started = time.perf_counter()
    except KeyboardInterrupt:
        raise Interrupted(finished, out) from None
    if reused:
        log.info("reused %d finished instance(s) from an earlier run: %s", len(reused), reused)
    files = written
    if recorder is not None and outcomes:
        files.update(recorder.finish({k: (o.queries, o.result) for k, o in outcomes.items()},
                                     [o.files["rrd"] for o in outcomes.values()]))
    per_instance_figures = {k: o.metrics for k, o in outcomes.items()}
    overall = met.overall(per_instance_figures)
    overall.update(pooled_protocol_figures(scene, modes, list(outcomes.values())))
    files["metrics"] = save_json(layout.metrics_json(), {
        **stamp(METRICS_FORMAT), "base_name": base, "tracker": tracker.name,
        "tracking": mode.value, "input": scene.source, "input_fingerprint": scene.fingerprint,
        "depth": {"name": scene.depth_source, "metric": scene.depth_metric},
        "metric_modes": modes.labels(),
        "instances": per_instance_figures,
        "overall": overall, "skipped": skipped})
    title = f"{base}: tracker {tracker.name}" + (", joint" if mode == Tracking.joint else "")
    files["metrics_table"] = tables.write_run_table(
        layout.metrics_table(), per_instance_figures, overall, title=title, skipped=skipped,
        modes=modes.short(), mode_labels=modes.labels())
    return RunReport(out, base, tracker.name, outcomes, skipped, files, overall, reused, scene,
                     modes.labels(), mode.value)


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


def query_arrays(queries: Queries, config_text: str) -> dict[str, np.ndarray]:
    return {"query_points": queries.points.astype(np.float32), "query_view": queries.view,
            "query_pixel": queries.pixel, "query_frame": queries.frame,
            "instance_id": np.array(queries.instance_id), "config": np.array(config_text)}


def tracked_arrays(scene: Scene, queries: Queries, result: TrackResult, tracker: str,
                   config_text: str) -> dict[str, np.ndarray]:
    arrays = {"tracks_3d": result.tracks.astype(np.float32), "visibility": result.visible,
              "query_points": queries.points.astype(np.float32), "query_view": queries.view,
              "query_pixel": queries.pixel, "instance_id": np.array(queries.instance_id),
              "tracker": np.array(tracker), "frame_indices": scene.frame_indices,
              "camera_ids": np.array(scene.camera_ids), "config": np.array(config_text),
              "depth_metric": np.array(scene.depth_metric),
              "tracks_2d": tracks_2d(scene, result.tracks, queries.view).astype(np.float32)}
    if result.scores is not None:
        arrays["scores"] = result.scores.astype(np.float32)
    return arrays
