"""Typed config schema, registered in Hydra's ConfigStore.

The YAML files under `conf/` extend these schemas, so a mistyped key or a value of the wrong type
fails at start with Hydra's own message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from permask.depth.config import register_depth_schemas
from permask.synthetic import DemoParams
from permask.trackers.config import register_tracker_schemas


@dataclass
class DemoConfig(DemoParams):
    """The built-in demo scene, used when `input.npz` is not set (fields: see DemoParams)."""

    cache_dir: Optional[str] = None  # default: $PERMASK_CACHE_DIR or ~/.cache/permask


@dataclass
class InputConfig:
    npz: Optional[str] = None  # None: the built-in demo scene
    mask_key: str = "sam2_masks"
    demo: DemoConfig = field(default_factory=DemoConfig)


@dataclass
class QueryConfig:
    """How query points are built from each instance's mask (see permask/queries.py)."""

    mode: str = "first_frame"  # first_frame | contact_window | npz
    frames_before: int = 3
    frames_after: int = 10
    max_points: int = 300  # per instance
    sampling: str = "farthest"  # uniform | grid | farthest
    depth_min: float = 0.05  # metres
    depth_max: float = 50.0  # metres
    erode_px: int = 2  # mask erosion at depth resolution, pixels
    edge_threshold: float = 0.03  # reject pixels whose 3x3 depth range exceeds this share of z
    dedup_radius: float = 0.004  # metres; merge points lifted twice (views, resolutions)
    seed: int = 0


@dataclass
class SplitConfig:
    reuse_dir: Optional[str] = None  # reuse instance files of an earlier run (old --skip-split)
    self_contained: bool = False  # instance files also carry the video


@dataclass
class RecordConfig:
    enabled: bool = True
    log_video: bool = True
    max_points_per_view: int = 5000  # depth-cloud points per view and frame in recordings


@dataclass
class VideoSettings:
    """How `video=true` draws (permask/video.py)."""

    per_instance: bool = False  # also one video per instance and camera
    trail: int = 5  # frames of trail behind each point
    radius: int = 0  # point radius, pixels; 0: from the image size (1 px per 120 px, at least 2)
    max_points: int = 64  # points drawn per instance (evenly spread over its queries); 0: all
    fps: float = 10.0


@dataclass
class MetricsConfig:
    thresholds: list[float] = field(default_factory=lambda: [0.01, 0.02, 0.05, 0.10, 0.20])


@dataclass
class PermaskConfig:
    input: InputConfig = field(default_factory=InputConfig)
    tracker: Any = MISSING
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
    temporal_stride: int = 1
    spatial_downsample: int = 1
    instances: list[str] = field(default_factory=list)  # empty: every instance
    progress: bool = True
    on_existing: str = "resume"  # output_dir already holds a run: resume | overwrite | error


def job_dirname(override_dirname: str) -> str:
    """A sweep job's folder name from its overrides: `input.npz=/data/a.npz` becomes `input=a`,
    other slashes become `_` (no nested folders), and no overrides gives `job`."""
    name = re.sub(r"input\.npz=([^,]*)", lambda m: "input=" + Path(m.group(1)).stem,
                  override_dirname)
    return name.replace("/", "_") or "job"


def register_resolvers() -> None:
    """`${permask_job_dir:...}` names sweep folders; `${pid:}` keeps default folders unique when
    two runs start in the same second."""
    OmegaConf.register_new_resolver("permask_job_dir", job_dirname, replace=True)
    OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True, replace=True)


def register_configs() -> None:
    """Register the schemas and resolvers; YAML files name the schemas in their defaults lists."""
    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="permask_schema", node=PermaskConfig)
    register_tracker_schemas(cs)
    register_depth_schemas(cs)
    cs.store(group="schema/query", name="query", node=QueryConfig)
