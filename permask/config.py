"""Typed config schema, registered in Hydra's ConfigStore.

The YAML files under `conf/` extend these schemas, so a mistyped key or a value of the wrong type
fails at start with Hydra's own message.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from permask.choices import Choice
from permask.errors import ConfigError
from permask.files.names import safe_name
from permask.demo.params import DemoParams
from permask.help import (command as help_command, groups_text as help_groups_text,
                          usage_text as help_usage_text)
from permask.result_keys import RESULT_FREE, exact_keys
from permask.schemas import register_schemas

CONF_DIR = Path(__file__).resolve().parent / "conf"  # the configs; conf/ atop a checkout links here


def ranged(default: Any, ok: Callable[[Any], bool], must_be: str) -> Any:
    """A schema field whose values must pass `ok`, a range the type cannot say; a value that
    fails stops the run with `must be {must_be}` (`validate_config`)."""
    return field(default=default, metadata={"ok": ok, "must_be": must_be})


def _positive_or_null(value) -> bool:
    return value is None or value > 0


class QueryMode(Choice):
    first_frame = "first_frame"
    contact_window = "contact_window"
    npz = "npz"
    gt = "gt"  # the file's ground-truth point tracks' own queries (gt_query_points)


class Sampling(Choice):
    uniform = "uniform"
    grid = "grid"
    farthest = "farthest"


class OnExisting(Choice):
    resume = "resume"
    overwrite = "overwrite"
    error = "error"


class OnLocked(Choice):
    error = "error"
    wait = "wait"


class Tracking(Choice):
    """How a run calls its tracker (docs/trackers.md, "Per mask or joint?")."""

    per_mask = "per_mask"  # one call per instance, with that instance's queries only
    joint = "joint"  # one call per scene with every instance's queries, split back per instance


@dataclass
class LimitsConfig:
    """Bounds on reading the input (permask/inputs/limits.py, `DecodeLimits`); null: the default
    for this machine (at most half its memory, 8 GiB per member, 16 GiB per file)."""

    max_member_bytes: Optional[int] = ranged(None, _positive_or_null, "> 0 or null")
    max_total_bytes: Optional[int] = ranged(None, _positive_or_null, "> 0 or null")
    # 200: uncompressed/compressed, rgbs/depths over 64 MiB
    max_ratio: Optional[float] = ranged(None, lambda v: v is None or v >= 1, ">= 1 or null")
    # 64: other members over 64 MiB, x the video
    max_relative_size: Optional[float] = ranged(None, _positive_or_null, "> 0 or null")
    # 32: nesting of pickled containers
    max_depth: Optional[int] = ranged(None, lambda v: v is None or v >= 1, ">= 1 or null")
    # 1 GiB: ceiling on what a file's pickles may allocate (64x its video, at least 64 MiB)
    max_unpickled_bytes: Optional[int] = ranged(None, _positive_or_null, "> 0 or null")


@dataclass
class DemoConfig(DemoParams):
    """The built-in demo scene, used when `input.npz` is not set (fields: see DemoParams)."""

    cache_dir: Optional[str] = None  # default: $PERMASK_CACHE_DIR or ~/.cache/permask


@dataclass
class InputConfig:
    npz: Optional[str] = None  # None: the built-in demo scene
    mask_key: str = "sam2_masks"
    # metres per stored depth unit (0.001: millimetres, as uint16 depth maps store it); None:
    # float depth is metres and integer depth is refused
    depth_scale: Optional[float] = ranged(None, lambda v: v is None or (math.isfinite(v) and v > 0),
                                          "null or a finite number > 0 (metres per unit)")
    demo: DemoConfig = field(default_factory=DemoConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)


@dataclass
class QueryConfig:
    """How query points are built from each instance's mask (see permask/queries.py)."""

    mode: QueryMode = QueryMode.first_frame
    frames_before: int = ranged(3, lambda v: v >= 0, ">= 0")
    frames_after: int = ranged(10, lambda v: v >= 0, ">= 0")
    # per instance
    max_points: int = ranged(300, lambda v: v >= 1, "an integer >= 1")
    sampling: Sampling = Sampling.farthest
    # metres; below query.depth_max
    depth_min: float = ranged(0.05, lambda v: math.isfinite(v) and v >= 0,
                              "a finite number >= 0 (metres)")
    depth_max: float = ranged(50.0, lambda v: v > 0, "> 0 (metres)")
    # mask erosion at depth resolution, pixels
    erode_px: int = ranged(2, lambda v: v >= 0, ">= 0 (pixels)")
    # reject pixels whose 3x3 depth range exceeds this share of z
    edge_threshold: float = ranged(0.03, lambda v: v > 0, "> 0")
    # metres; merge points lifted twice (views, resolutions)
    dedup_radius: float = ranged(0.004, lambda v: math.isfinite(v) and v >= 0,
                                 "a finite number >= 0 (metres)")
    seed: int = ranged(0, lambda v: v >= 0, ">= 0")


@dataclass
class SplitConfig:
    reuse_dir: Optional[str] = None  # reuse the instance files of an earlier run's folder
    self_contained: bool = False  # instance files also carry the video


class SceneLayout(Choice):
    """Where a run's recordings keep the scene context (cameras' RGB frames, depth clouds)."""

    per_file = "per_file"  # every .rrd carries it: each opens alone (clouds thinned per instance)
    shared = "shared"  # once, in {base}_scene.rrd; the other files hold cameras + their data


@dataclass
class RecordConfig:
    """The Rerun recordings of a run (permask/record/, docs/outputs.md "Viewing")."""

    enabled: bool = True
    log_video: bool = True
    # depth-cloud points per view and frame in recordings
    max_points_per_view: int = ranged(5000, lambda v: v >= 0, ">= 0")
    scene: SceneLayout = SceneLayout.per_file
    # per_file: depth clouds of per-instance files at every k-th frame (the combined file keeps
    # every frame; the viewer shows a cloud until the next); 1: every frame, as the combined file
    instance_cloud_stride: int = ranged(4, lambda v: v >= 1, "an integer >= 1 (frames)")
    spawn: bool = False  # also stream the run live to a viewer started for it (`rerun`)
    # also stream live to a running viewer, e.g. rerun+http://127.0.0.1:9876/proxy (what `rerun`
    # prints it listens on)
    connect: Optional[str] = None


@dataclass
class VideoSettings:
    """How `video=true` draws (permask/video.py)."""

    per_instance: bool = False  # also one video per instance and camera
    trail: int = 5  # frames of trail behind each point
    radius: int = 0  # point radius, pixels; 0: from the image size (1 px per 120 px, at least 2)
    max_points: int = 64  # points drawn per instance (evenly spread over its queries); 0: all
    fps: float = 10.0


class Scaling(Choice):
    """TAPVid-3D's scale alignment of the predicted tracks (permask/protocols/tapvid3d.py)."""

    none = "none"
    median = "median"
    mean = "mean"
    per_trajectory = "per_trajectory"
    local_neighborhood = "local_neighborhood"
    median_on_queries = "median_on_queries"
    reproduce_2d = "reproduce_2d"


class ThresholdMode(Choice):
    """TAPVid-3D's distance thresholds: fixed metric (1, 4, 16, 64, 256 cm) or depth-adaptive."""

    fixed = "fixed"
    adaptive = "adaptive"


class MvtrackerSetting(Choice):
    """MVTracker's evaluation setting (its thresholds and survival distance)."""

    kubric = "kubric"  # 5-80 cm, survival 50 cm
    dexycb = "dexycb"  # 1-20 cm, survival 10 cm
    panoptic = "panoptic"  # 5-40 cm, survival 1 m


@dataclass
class MetricsConfig:
    """Figures against ground truth (docs/comparing.md "Metric modes"; permask/protocols/)."""

    # permask's own AJ / delta_avg / survival: distances in metres, frames after each query
    distances: list[float] = field(default_factory=lambda: [0.01, 0.02, 0.05, 0.10, 0.20])
    scaling: Optional[Scaling] = None  # TAPVid-3D; null: none with metric depth, else median
    thresholds: ThresholdMode = ThresholdMode.adaptive  # TAPVid-3D's thresholds
    camera: Optional[str] = None  # camera id whose frame TAPVid-3D uses; null: the first
    # TAPVid-3D's adaptive thresholds count pixels of an image this many pixels on its short side
    # (its evaluate_model.py: 256); null: the scene's own pixels
    short_side: Optional[int] = ranged(256, lambda v: v is None or v >= 1,
                                       "an integer >= 1 (pixels) or null")
    per_camera_2d: bool = True  # TAP-Vid 2D figures per camera (pixels at 256x256)
    mvtracker: Optional[MvtrackerSetting] = MvtrackerSetting.dexycb  # null: off


@dataclass
class PermaskConfig:
    input: InputConfig = field(default_factory=InputConfig)
    tracker: Any = MISSING
    tracking: Tracking = Tracking.per_mask
    depth: Any = MISSING
    query: QueryConfig = field(default_factory=QueryConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    video: bool = False  # MP4s of the tracks over each camera's frames (video_settings.*)
    video_settings: VideoSettings = field(default_factory=VideoSettings)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    base_name: str = "demo"
    output_dir: str = MISSING
    sweep_dir: str = MISSING
    temporal_stride: int = ranged(1, lambda v: v >= 1, "an integer >= 1")
    spatial_downsample: int = ranged(1, lambda v: v >= 1, "an integer >= 1")
    instances: list[str] = field(default_factory=list)  # empty: every instance
    progress: bool = True
    on_existing: OnExisting = OnExisting.resume  # output_dir already holds a run
    on_locked: OnLocked = OnLocked.error  # another run is writing into output_dir: error | wait


def job_dirname(override_dirname: str) -> str:
    """A sweep job's folder name from its overrides: `input.npz=/data/a.npz` becomes `input=a`,
    other slashes become `_` (no nested folders), and no overrides gives `job`."""
    name = re.sub(r"input\.npz=([^,]*)", lambda m: "input=" + Path(m.group(1)).stem,
                  override_dirname)
    name = name.replace("/", "_").replace("\0", "_")
    return "job" if name in ("", ".", "..") else name


def register_resolvers() -> None:
    """`${permask_job_dir:...}` names sweep folders and `${permask_result_free_keys:...}` lists
    what they leave out; `${safe_name:...}` makes `base_name` and the tracker's name safe in
    folder names; `${pid:}` keeps default folders unique when two runs start in the same
    second."""
    OmegaConf.register_new_resolver("permask_job_dir", job_dirname, replace=True)
    OmegaConf.register_new_resolver("safe_name", lambda text: safe_name(str(text)), replace=True)
    OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("permask_help_groups", help_groups_text, replace=True)
    OmegaConf.register_new_resolver("permask_help_usage", help_usage_text, replace=True)
    OmegaConf.register_new_resolver("permask_command", help_command, replace=True)
    OmegaConf.register_new_resolver("permask_result_free_keys", job_name_excluded, replace=True)


def job_name_excluded(*more: str) -> list[str]:
    """The override keys a sweep job's folder name leaves out: every key that never changes a
    result (`permask.result_keys.RESULT_FREE`, spelled out to the schema's fields) and `more`."""
    return exact_keys(RESULT_FREE, PermaskConfig) + list(more)


def register_configs() -> None:
    """Register the schemas and resolvers; YAML files name the schemas in their defaults lists."""
    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="permask_schema", node=PermaskConfig)
    register_schemas(cs)
    cs.store(group="schema/query", name="query", node=QueryConfig)


def ranges(schema: type = None, prefix: str = "") -> Iterator[tuple[str, Callable, str]]:
    """(key, test, what it must be) of every `ranged` field of the run's schema, nested
    schemas included."""
    for f in dataclasses.fields(schema or PermaskConfig):
        if "ok" in f.metadata:
            yield prefix + f.name, f.metadata["ok"], f.metadata["must_be"]
        elif dataclasses.is_dataclass(f.default_factory):
            yield from ranges(f.default_factory, f"{prefix}{f.name}.")


_ABSENT = object()  # OmegaConf.select's answer for a key the config does not have


def validate_config(cfg: Any) -> None:
    """Refuse out-of-range values before any work (names and types are Hydra's job)."""
    for key, ok, what in ranges():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is _ABSENT:
            continue
        if not ok(value):
            raise ConfigError(f"must be {what}, got {value}", key=key)
    if cfg.query.depth_min >= cfg.query.depth_max:
        raise ConfigError(f"must be below query.depth_max ({cfg.query.depth_max}), got "
                          f"{cfg.query.depth_min}", key="query.depth_min")
    distances = list(cfg.metrics.distances)
    if not distances or any(not (t > 0 and math.isfinite(t)) for t in distances):
        raise ConfigError(f"must be positive distances in metres, got {distances}",
                          key="metrics.distances")
