"""`tracker=spatialtrackerv2`: SpatialTrackerV2 (henry123-boy/SpaTrackerV2), a learned monocular
3D tracker, run per view on posed RGB-D video and fused across views (`LiftedTracker`); on CUDA
or, its `.cuda()` calls sent to the model's device, on the CPU. The upstream calls it relies on
(poses, query identity) and the settings: docs/learned_trackers.md.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from permask.choices import Choice, Precision
from permask.data import Queries, Scene, TrackResult
from permask.errors import ConfigError, TrackerError
from permask.fetch.spec import WeightFile
from permask.geometry import camera_to_world_matrix
from permask.fetch.code import fetch_code
from permask.trackers.cuda_redirect import cuda_calls_to
from permask.trackers.upstream_env import ModuleSwap, has_attribute, torchvision_write_video
from permask.trackers.hub import (UpstreamSource, autocast, check_checkpoint, check_clone,
                                  import_torch, split_upstream)
from permask.trackers.lifted import LiftedTracker, LiftedTrackerConfig
from permask.trackers.lifting import fuse_over_time

# an upstream merge by the author (2025-09-27)
UPSTREAM = "henry123-boy/SpaTrackerV2:da6a92d3d889e4f80556367dd0dea86b7e4fee12"
HF_REPO = "Yuxihenry/SpatialTrackerV2-Offline"
SOURCE = UpstreamSource("https://github.com/henry123-boy/SpaTrackerV2", f"hf:{HF_REPO}",
                        "SpatialTrackerV2-Offline")
PREDICTOR_MODULE = "models.SpaTrackV2.models.predictor"
MARKER = "models/SpaTrackV2/models/predictor.py"
# its own utils3d pin (requirements.txt); MoGe's 3fab839 lacks utils3d.torch.depth_edge
UTILS3D = "EasternJournalist/utils3d:d3a577acf0a9ad7e513a1416449a07b6f47d967f"
LICENCE = "CC BY-NC 4.0"
WEIGHTS = [WeightFile(HF_REPO, "config.json", licence=LICENCE),
           WeightFile(HF_REPO, "model.safetensors", licence=LICENCE)]

log = logging.getLogger(__name__)


class CameraPoses(Choice):
    input = "input"  # the file's calibrated poses (fixed_cam)
    predicted = "predicted"  # the model's own poses


@dataclass
class SpatialTrackerV2Config(LiftedTrackerConfig):
    """`tracker=spatialtrackerv2`: monocular 3D per view, fused across views. hub_repo: a
    clone (null: fetched); checkpoint: a local Yuxihenry/SpatialTrackerV2-Offline folder (null:
    `weights` fetched)."""

    _target_: str = "permask.trackers.spatialtracker.SpatialTrackerV2Tracker"
    name: str = "spatialtrackerv2"
    upstream: str = UPSTREAM
    entry: str = "Predictor"  # class in models.SpaTrackV2.models.predictor
    weights: List[WeightFile] = field(default_factory=lambda: list(WEIGHTS))
    # its pinned utils3d, used (for its calls only) where the installed one lacks depth_edge;
    # null: always the installed one. utils3d_dir: a local copy (the folder holding utils3d/)
    utils3d: Optional[str] = UTILS3D
    utils3d_dir: Optional[str] = None
    precision: Precision = Precision.bf16  # as upstream's inference script (on CUDA; CPU: fp32)
    vo_points: int = 756  # model.spatrack.track_num: support points
    iters_track: int = 4
    camera_poses: CameraPoses = CameraPoses.input
    fixed_cam: bool = True  # only read with camera_poses=predicted
    query_no_BA: bool = True
    stage: int = 1
    replace_ratio: float = 0.2
    depth_validity: bool = True  # pass depth > 0 as the depth-reliability mask (unc_metric)
    visibility_threshold: float = 0.5
    # pixels; a returned row is a query's own when its 2D track at the query's frame lies this
    # close to the query pixel; rows that match no query are dropped
    identity_tolerance_px: float = 4.0


class SpatialTrackerV2Tracker(LiftedTracker):
    Config = SpatialTrackerV2Config
    config: SpatialTrackerV2Config
    source = SOURCE
    _utils3d = ModuleSwap("utils3d", None)  # set by _build

    def _build(self, device):
        if self.config.camera_poses not in ("input", "predicted"):
            raise ConfigError(f"unknown camera_poses '{self.config.camera_poses}'",
                              key="tracker.camera_poses", fix="tracker.camera_poses=input or predicted")
        if self.config.identity_tolerance_px <= 0:
            raise ConfigError("must be > 0 (pixels)", key="tracker.identity_tolerance_px")
        _, ref = split_upstream(self.config.upstream)
        clone = check_clone(self.code_folder(MARKER), MARKER, SOURCE, ref)
        weights = str(check_checkpoint(self.weights_path(), SOURCE, ref, directory=True))
        self._utils3d = ModuleSwap("utils3d", self._utils3d_folder())
        with self._utils3d.active(), torchvision_write_video():
            predictor_cls = import_predictor(clone, self.config.entry, ref)
        try:
            with cuda_calls_to(device), self._utils3d.active():
                model = predictor_cls.from_pretrained(weights)
        except Exception as err:  # noqa: BLE001 - wrong folder, missing packages
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            raise TrackerError(f"cannot load SpatialTrackerV2 weights from {weights} ({reason})",
                               key="tracker.checkpoint", fix=SOURCE.fix(ref)) from None
        spatrack = getattr(model, "spatrack", None)
        if spatrack is not None and hasattr(spatrack, "track_num"):
            spatrack.track_num = self.config.vo_points
        return model

    def _utils3d_folder(self) -> str | None:
        """Where SpatialTrackerV2's utils3d comes from: `utils3d_dir`; else the installed one
        when it has what upstream calls (or `utils3d` is null); else the pin, fetched."""
        if self.config.utils3d_dir:
            return str(self.config.utils3d_dir)
        if not self.config.utils3d or has_attribute("utils3d.torch", "depth_edge"):
            return None
        return str(fetch_code(self.config.utils3d, key="tracker.utils3d_dir", choice=self.choice,
                              marker="utils3d/__init__.py", pin_key="tracker.utils3d"))

    @contextlib.contextmanager
    def inference(self):
        """no_grad, autocast (none on the CPU, see the module docstring), upstream's `.cuda()`
        calls sent to the model's device and its own utils3d, for one forward pass."""
        torch = import_torch()
        precision = self.config.precision
        if self.device.type == "cpu" and precision != "fp32":
            if not getattr(self, "_said_fp32", False):
                log.warning("spatialtrackerv2: on the CPU the forward pass runs in fp32 "
                            "(tracker.precision=%s has no CPU kernel upstream)", precision)
                self._said_fp32 = True
            precision = "fp32"
        with (torch.no_grad(), autocast(self.device, precision), cuda_calls_to(self.device),
              self._utils3d.active()):
            yield

    view_width = 3  # world points

    def _view_call(self, scene: Scene):
        return lambda v, txy: self._track_view(scene, v, txy)

    def _fuse(self, scene: Scene, queries: Queries, world: np.ndarray,
              masks: np.ndarray | None) -> TrackResult:
        """One instance's world points [V,T,N,3] per view (NaN: invisible) fused over views."""
        def estimate(t, previous, started):
            return world[:, t]

        return fuse_over_time(scene.num_frames, queries, estimate, self.config)

    def _track_view(self, scene: Scene, view: int, txy: np.ndarray) -> np.ndarray:
        """SpatialTrackerV2 on one view for queries [M,3] (t, u, v): world points [T,M,3], NaN
        where it calls the point invisible."""
        import torch

        T = scene.num_frames
        video = torch.from_numpy(np.ascontiguousarray(scene.rgbs[view])).permute(0, 3, 1, 2).float()
        depth = scene.depths[view].astype(np.float32)
        intrs = scene.intrs[view].astype(np.float32)
        c2w = np.stack([camera_to_world_matrix(E) for E in scene.extrs[view]]).astype(np.float32)
        unc = (depth > 0).astype(np.float32) if self.config.depth_validity else None
        fixed = True if self.config.camera_poses == "input" else self.config.fixed_cam
        out = np.full((T, len(txy), 3), np.nan)
        for part in self.batches(len(txy)):
            queries = txy[part].astype(np.float32)
            with self.inference():
                result = self._model.forward(
                    video, depth=depth, intrs=intrs, extrs=c2w, queries=queries,
                    fps=1, full_point=False, iters_track=self.config.iters_track,
                    query_no_BA=self.config.query_no_BA, fixed_cam=fixed, stage=self.config.stage,
                    unc_metric=unc, support_frame=T - 1, replace_ratio=self.config.replace_ratio)
            out[:, part] = self._to_world(result, queries, c2w, T)
        return out

    def _to_world(self, result, queries: np.ndarray, c2w: np.ndarray, T: int) -> np.ndarray:
        """Upstream's outputs for queries [M,3] -> world points [T,M,3] (NaN: invisible, or no
        returned row is that query's). c2w [T,4,4]: the view's calibrated camera-to-world."""
        c2w_out, track3d, track2d, vis = result[0], result[4], result[5], result[6]
        cam = _numpy(track3d)[:T, :, :3]
        if self.config.camera_poses == "input":
            poses = c2w.astype(np.float64)
        else:  # upstream's poses are relative to the clip's first camera
            poses = c2w[0].astype(np.float64) @ _numpy(c2w_out)[:T].astype(np.float64)
        rot, shift = poses[:, :3, :3], poses[:, None, :3, 3]
        pts = np.einsum("tij,tnj->tni", rot, cam) + shift  # camera -> world, per frame
        v = _numpy(vis)[:T]
        v = v[..., 0] if v.ndim == 3 else v
        pts[~(v > self.config.visibility_threshold)] = np.nan
        rows = match_rows(_numpy(track2d)[:T, :, :2], queries, self.config.identity_tolerance_px)
        mapped = np.full((T, len(queries), 3), np.nan)
        found = rows >= 0
        mapped[:, found] = pts[:, rows[found]]
        return mapped


def match_rows(track2d: np.ndarray, queries: np.ndarray, tolerance: float) -> np.ndarray:
    """Which returned row is each query's: track2d [T,R,2] pixels (R rows returned), queries
    [M,3] (t, x, y) -> rows [M] (-1: none). Query n's row is the one whose 2D track at n's frame
    is nearest n's pixel, within `tolerance` pixels (upstream may reorder or duplicate rows); its
    own row n where that is as near (ties: duplicates); else none."""
    M = len(queries)
    rows = np.full(M, -1, np.int64)
    if track2d.shape[1] == 0 or M == 0:
        return rows
    frames = np.clip(queries[:, 0].astype(np.int64), 0, len(track2d) - 1)
    at_frame = track2d[frames]  # [M,R,2]: every row at each query's frame
    dist = np.linalg.norm(at_frame - queries[:, None, 1:3], axis=-1)
    dist[~np.isfinite(dist)] = np.inf
    own = np.arange(M) < track2d.shape[1]
    own_dist = np.full(M, np.inf)
    own_dist[own] = dist[np.arange(M)[own], np.arange(M)[own]]
    nearest = np.argmin(dist, axis=1)
    best = dist[np.arange(M), nearest]
    within = best <= tolerance
    rows[within] = nearest[within]
    # its own row when that is as near as the nearest (duplicates of a query tie with it)
    own_best = within & (own_dist <= best + 1e-6)
    rows[own_best] = np.arange(M)[own_best]
    return rows


def import_predictor(clone: Path, entry: str, ref: str):
    """The upstream `Predictor` class from the clone (its root goes first on sys.path)."""
    root = str(clone)
    loaded = sys.modules.get("models")
    where = getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", [])), "")
    if loaded is not None and not str(where).startswith(root):
        raise TrackerError(f"another package named 'models' is already imported ({loaded!r}); "
                           "SpatialTrackerV2's code lives in a top-level 'models' package",
                           key="tracker.hub_repo", fix="run spatialtrackerv2 in its own process")
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(PREDICTOR_MODULE)
    except Exception as err:  # noqa: BLE001 - a missing upstream dependency, typically
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        fix = (f"pip install -r {clone}/requirements.txt" if isinstance(err, ImportError)
               else SOURCE.fix(ref))
        raise TrackerError(f"cannot import {PREDICTOR_MODULE} from {clone} ({reason})",
                           key="tracker.hub_repo", fix=fix) from None
    cls = getattr(module, entry, None)
    if cls is None:
        raise TrackerError(f"{PREDICTOR_MODULE} has no '{entry}'", key="tracker.entry",
                           fix="tracker.entry=Predictor")
    return cls


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, np.float64)
