"""Typed config schema, registered in Hydra's ConfigStore.

The YAML files under `conf/` extend these schemas, so a mistyped key or a value of the wrong type
fails at start with Hydra's own message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DemoConfig:
    """The built-in demo scene, used when `input.npz` is not set."""

    num_views: int = 4
    num_frames: int = 40
    height: int = 192
    width: int = 256
    num_objects: int = 3
    seed: int = 0
    depth_density: float = 1.0
    mask_scale: int = 1
    cache_dir: Optional[str] = None


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
class TrackerConfig:
    _target_: str = MISSING
    name: str = MISSING


@dataclass
class StaticTrackerConfig(TrackerConfig):
    _target_: str = "permask.trackers.static.StaticTracker"
    name: str = "static"


@dataclass
class LKTrackerConfig(TrackerConfig):
    """Multi-view pyramidal Lucas-Kanade tracker (permask/trackers/lk.py)."""

    _target_: str = "permask.trackers.lk.LKTracker"
    name: str = "lk"
    win_size: int = 15  # pixels
    max_level: int = 3  # pyramid levels above the base
    fb_threshold: float = 1.0  # pixels, forward-backward error limit
    anchor: bool = True  # refine each step against the seed frame (less drift)
    anchor_max_px: float = 2.0  # accept the anchored estimate within this of the chained one
    depth_window: int = 2  # radius (px) of the robust depth read
    depth_tolerance: float = 0.04  # metres (+ depth_tolerance_rel * z) for depth consistency
    depth_tolerance_rel: float = 0.03
    fuse_tolerance: float = 0.03  # metres; a view's 3D estimate further than this is an outlier
    use_masks: bool = True  # a view sees a point only inside its (dilated) instance mask
    mask_dilate_px: int = 1
    rigid_prior: bool = True  # carry occluded points with the instance's robust rigid motion
    rigid_outlier_tolerance: float = 0.06  # metres; fused points this far off the rigid fit are dropped
    min_rigid_points: int = 6


@dataclass
class DepthConfig:
    name: str = "gt"


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
class MetricsConfig:
    thresholds: list[float] = field(default_factory=lambda: [0.01, 0.02, 0.05, 0.10, 0.20])


@dataclass
class PermaskConfig:
    input: InputConfig = field(default_factory=InputConfig)
    tracker: Any = MISSING
    depth: DepthConfig = field(default_factory=DepthConfig)
    query: QueryConfig = field(default_factory=QueryConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    base_name: str = "demo"
    output_dir: str = MISSING
    sweep_dir: str = MISSING
    temporal_stride: int = 1
    spatial_downsample: int = 1
    instances: list[str] = field(default_factory=list)  # empty: every instance
    progress: bool = True


def register_configs() -> None:
    """Register the schemas; YAML files name them in their defaults lists."""
    cs = ConfigStore.instance()
    cs.store(name="permask_schema", node=PermaskConfig)
    cs.store(group="schema/tracker", name="static", node=StaticTrackerConfig)
    cs.store(group="schema/tracker", name="lk", node=LKTrackerConfig)
    cs.store(group="schema/depth", name="depth", node=DepthConfig)
    cs.store(group="schema/query", name="query", node=QueryConfig)
