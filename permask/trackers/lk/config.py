"""`LKConfig`: every setting of `tracker=lk`, with its default (shown in conf/tracker/lk.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from permask.trackers.base import TrackerConfig
from permask.trackers.lifting import LiftingParams


@dataclass
class LKConfig(LiftingParams, TrackerConfig):
    """`tracker=lk`: the lifting settings (`LiftingParams`) plus the LK ones below. Values and
    what they do, grouped by idea: conf/tracker/lk.yaml."""

    _target_: str = "permask.trackers.lk.LKTracker"
    name: str = "lk"
    # pixels; the largest LK window
    win_size: int = 15
    # pixels; the smallest (adaptive) LK window
    win_min: int = 5
    # window = this share of the instance's typical thickness in a view (mask area / longer box
    # side; odd, within [win_min, win_size]): a window covering a small or thin object whole
    # tracks its silhouette, not the texture moving inside it
    win_fraction: float = 0.2
    # pyramid levels above the base image
    max_level: int = 3
    # pixels; forward-backward error limit: a track that does not come back this close is
    # dropped and carried (cheaper than a drifting measurement)
    fb_threshold: float = 0.5
    # LK starts where the point's last 3D motion carries it (constant velocity, projected into
    # each view): fast motion leaves LK only the residual
    predict_motion: bool = True
    # a point no view measured moves with the instance's fitted motion plus what its this many
    # nearest measured points moved beyond it (0: the fitted motion alone)
    carry_neighbours: int = 10
    # videos only (one view, a constant-depth stand-in): a point no view measured that the carry
    # put outside the instance's mask moves to the mask's nearest pixel
    pull_into_mask: bool = True
    # real 3D only (not on a constant-depth stand-in): metres off the instance's rigid motion
    # that count as drifted
    rigid_drift_tolerance: float = 0.02
    # real 3D only: the share of points within rigid_drift_tolerance that keeps an instance
    # rigid once its rigid model is in use, of those in sight (measured points drift off a rigid
    # object's motion where LK lags on fine or aliased texture: a stricter share drops the model
    # midway and restarts its common frame; a looser one keeps a model whose exact-pixel
    # visibility test then hides points it is a few centimetres off)
    rigid_min_inliers: float = 0.6
    # real 3D only: the share needed from a fresh common frame (the first, or one restarted from
    # the current positions after the test failed) before the rigid model is used: a deforming
    # object fails within a few frames of every restart, a drifted rigid one comes back
    rigid_enter_share: float = 0.9
    # real 3D only: frames rigid_enter_share must hold from a fresh common frame
    rigid_probation: int = 2
    # metres; a fused point further than max(this, 3 x the median) off the frame-to-frame fit
    # is an outlier (at most rigid_outlier_tolerance; 0: always rigid_outlier_tolerance)
    rigid_outlier_floor: float = 0.015
    # real 3D only: the rigid fit uses points at least this share of the instance's thickness
    # inside its mask (and half the LK window) when there are enough: near the rim an LK window
    # sees the silhouette, which stands still while a turning texture moves
    rigid_interior_fraction: float = 0.2
    # real 3D only: a rigid instance's measured points sit where its fitted motion puts them
    # (the fit averages every point's pixel and depth noise; deforming instances never snap)
    rigid_snap: bool = True
    # real 3D only, metres; a point counts visible only where some view measured depth within
    # this of it at its very pixel (inside the mask): the far side of a turning object is
    # hidden even where the tracking's tolerant depth read agrees (0: off)
    visibility_tolerance: float = 0.02
