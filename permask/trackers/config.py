"""Typed schemas of the `tracker` config group (one dataclass per tracker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from permask.choices import Choice


class Precision(Choice):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class Views(Choice):
    visible = "visible"  # every view that sees the query at its frame
    source = "source"  # only the view the query was lifted from


class CameraPoses(Choice):
    input = "input"  # the file's calibrated poses (fixed_cam)
    predicted = "predicted"  # the model's own poses


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
    max_anchor_groups: int = 4  # per view and step, refine the tracks of this many anchor frames
    depth_window: int = 2  # radius (px) of the robust depth read
    depth_tolerance: float = 0.04  # metres (+ depth_tolerance_rel * z) for depth consistency
    depth_tolerance_rel: float = 0.03
    fuse_tolerance: float = 0.03  # metres; a view's 3D estimate further than this is an outlier
    use_masks: bool = True  # a view sees a point only inside its (dilated) instance mask
    mask_dilate_px: int = 1
    rigid_prior: bool = True  # carry occluded points with the instance's robust rigid motion
    rigid_outlier_tolerance: float = 0.06  # metres; fused points this far off the rigid fit are dropped
    min_rigid_points: int = 6
    rigid_consistency: float = 0.02  # metres; median residual below which the instance is rigid
    rigid_drift_tolerance: float = 0.02  # metres off the instance's rigid motion = drifted
    rigid_min_inliers: float = 0.8  # share of points within that tolerance for a rigid instance


# ---------------------------------------------------------------- learned trackers (torch)
# Pinned upstream revisions (what docs/learned_trackers.md tells you to clone). torch.hub downloads
# `owner/repo:<commit>` when `hub_repo` is not set, which needs network.
MVTRACKER_UPSTREAM = "ethz-vlg/mvtracker:ceea8ad2af77ed9b44148ef8e9eeba4ea3c3f072"
# co-tracker: the newest public commit; 20d1b6c (pinned before) crashes with backward_tracking=True
COTRACKER_UPSTREAM = "facebookresearch/co-tracker:82e02e8029753ad4ef13cf06be7f4fc5facdda4d"
# SpaTrackerV2: an upstream merge by the author (2025-09-27); 69cad6e (pinned before) is public nowhere
SPATRACKER_UPSTREAM = "henry123-boy/SpaTrackerV2:da6a92d3d889e4f80556367dd0dea86b7e4fee12"


@dataclass
class LearnedTrackerConfig(TrackerConfig):
    """Settings every learned tracker has (permask/trackers/hub.py)."""

    upstream: str = MISSING  # torch.hub spec owner/repo:<commit>, used when hub_repo is null
    entry: str = MISSING  # hubconf entry point (or class) that builds the predictor
    hub_repo: Optional[str] = None  # local clone of the upstream repo: no code download
    checkpoint: Optional[str] = None  # local weights; null: the entry point downloads them
    device: str = "auto"  # auto (cuda if available, else cpu) | cuda | cuda:N | cpu
    precision: Precision = Precision.fp32  # autocast around the forward pass
    max_points_per_batch: int = 0  # queries per model call (memory); 0: all of an instance at once


@dataclass
class MVTrackerConfig(LearnedTrackerConfig):
    """MVTracker, multi-view 3D (permask/trackers/mvtracker.py)."""

    _target_: str = "permask.trackers.mvtracker.MVTrackerTracker"
    name: str = "mvtracker"
    upstream: str = MVTRACKER_UPSTREAM
    entry: str = "mvtracker"  # or mvtracker_cleandepth
    # [H, W] the model sees (multiples of 16); null: the scene size rounded down to multiples of 16
    input_size: Optional[List[int]] = field(default_factory=lambda: [384, 512])
    support_grid_size: int = 4  # support points per view side, lifted from depth at t=0
    visibility_threshold: float = 0.5
    window_len: int = 12  # the model's sliding window (clips are padded so it runs)
    rgb_scale: float = 255.0  # colours go in as 0..rgb_scale (the model divides by 255)
    scene_scale: float = 1.0  # the model sees world' = scene_scale * world + scene_translation
    scene_translation: List[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


@dataclass
class LiftedTrackerConfig(LearnedTrackerConfig):
    """Per-view trackers lifted to 3D with depth and fused across views (cotracker.py)."""

    views: Views = Views.visible
    use_masks: bool = True  # a view measures a point only inside the instance's (dilated) mask
    mask_dilate_px: int = 1
    depth_window: int = 2  # radius (px) of the robust depth read
    depth_tolerance: float = 0.04  # metres (+ depth_tolerance_rel * z) for depth consistency
    depth_tolerance_rel: float = 0.03
    fuse_tolerance: float = 0.03  # metres; a view's 3D estimate further than this is an outlier
    rigid_prior: bool = True  # carry unmeasured points with the instance's robust rigid motion
    rigid_outlier_tolerance: float = 0.06
    min_rigid_points: int = 6


@dataclass
class CoTracker3OfflineConfig(LiftedTrackerConfig):
    """CoTracker3 offline (whole clip at once), 2D per view, lifted to 3D."""

    _target_: str = "permask.trackers.cotracker.CoTrackerTracker"
    name: str = "cotracker3_offline"
    upstream: str = COTRACKER_UPSTREAM
    entry: str = "cotracker3_offline"
    online: bool = False
    backward_tracking: bool = False  # upstream option; frames before a query are dropped anyway
    add_support_grid: bool = True  # online only (offline adds it by itself)


@dataclass
class CoTracker3OnlineConfig(CoTracker3OfflineConfig):
    """CoTracker3 online (sliding windows of 16 frames, step 8; less memory on long clips)."""

    name: str = "cotracker3_online"
    entry: str = "cotracker3_online"
    online: bool = True


@dataclass
class SpatialTrackerV2Config(LiftedTrackerConfig):
    """SpatialTrackerV2, monocular 3D per view, fused across views (spatialtracker.py).
    hub_repo (a clone) is required; checkpoint: a local Yuxihenry/SpatialTrackerV2-Offline folder."""

    _target_: str = "permask.trackers.spatialtracker.SpatialTrackerV2Tracker"
    name: str = "spatialtrackerv2"
    upstream: str = SPATRACKER_UPSTREAM
    entry: str = "Predictor"  # class in models.SpaTrackV2.models.predictor
    precision: Precision = Precision.bf16  # upstream's inference script runs under bf16 autocast
    vo_points: int = 756  # model.spatrack.track_num: support points
    iters_track: int = 4
    camera_poses: CameraPoses = CameraPoses.input
    fixed_cam: bool = True  # only read with camera_poses=predicted
    query_no_BA: bool = True
    stage: int = 1
    replace_ratio: float = 0.2
    depth_validity: bool = True  # pass depth > 0 as the depth-reliability mask (unc_metric)
    visibility_threshold: float = 0.5
    identity_tolerance_px: float = 4.0  # a returned row is a query's own when its 2D track at the
    # query's frame lies this close to the query pixel; rows that match no query are dropped


def register_tracker_schemas(cs: ConfigStore) -> None:
    """Schemas under `schema/tracker/<name>`; conf/tracker/<name>.yaml extends them."""
    cs.store(group="schema/tracker", name="static", node=StaticTrackerConfig)
    cs.store(group="schema/tracker", name="lk", node=LKTrackerConfig)
    cs.store(group="schema/tracker", name="mvtracker", node=MVTrackerConfig)
    cs.store(group="schema/tracker", name="cotracker3_offline", node=CoTracker3OfflineConfig)
    cs.store(group="schema/tracker", name="cotracker3_online", node=CoTracker3OnlineConfig)
    cs.store(group="schema/tracker", name="spatialtrackerv2", node=SpatialTrackerV2Config)
