"""Typed schemas of the `tracker` config group (one dataclass per tracker)."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


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


def register_tracker_schemas(cs: ConfigStore) -> None:
    """Schemas under `schema/tracker/<name>`; conf/tracker/<name>.yaml extends them."""
    cs.store(group="schema/tracker", name="static", node=StaticTrackerConfig)
    cs.store(group="schema/tracker", name="lk", node=LKTrackerConfig)
