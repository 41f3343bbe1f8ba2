"""`tracker=cotracker3_offline` / `tracker=cotracker3_online`: CoTracker3 (facebookresearch/
co-tracker), a learned 2D point tracker, run per view on each instance's queries and lifted to 3D
with depth (`LiftedTracker`). The upstream calls it relies on, the lifting and the settings:
docs/learned_trackers.md.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass, field
from typing import List

from permask.data import Queries, Scene, TrackResult
from permask.errors import TrackerError
from permask.fetch.spec import WeightFile
from permask.trackers.encoder_cache import EncoderCache
from permask.trackers.hub import UpstreamSource
from permask.trackers.lifted import LiftedTracker, LiftedTrackerConfig
from permask.trackers.lifting import fuse_over_time, lift_pixels

# the newest public commit; the older 20d1b6c crashes with backward_tracking=True
UPSTREAM = "facebookresearch/co-tracker:82e02e8029753ad4ef13cf06be7f4fc5facdda4d"
_REPO = "https://github.com/facebookresearch/co-tracker"
_WEIGHTS = "https://huggingface.co/facebook/cotracker3/resolve/main/"
OFFLINE_SOURCE = UpstreamSource(_REPO, _WEIGHTS + "scaled_offline.pth", "scaled_offline.pth")
ONLINE_SOURCE = UpstreamSource(_REPO, _WEIGHTS + "scaled_online.pth", "scaled_online.pth")
# the files hubconf's entries load (facebook/cotracker3 on the Hugging Face Hub)
OFFLINE_WEIGHTS = [WeightFile("facebook/cotracker3", "scaled_offline.pth", licence="CC BY-NC 4.0")]
ONLINE_WEIGHTS = [WeightFile("facebook/cotracker3", "scaled_online.pth", licence="CC BY-NC 4.0")]


@dataclass
class CoTrackerConfig(LiftedTrackerConfig):
    """`tracker=cotracker3_offline`: CoTracker3 offline (whole clip at once), 2D per view, lifted
    to 3D."""

    _target_: str = "permask.trackers.cotracker.CoTrackerTracker"
    name: str = "cotracker3_offline"
    # MiB of stored encoder inputs + outputs (model device) reused across a scene's instances
    # (`EncoderCache`); 0: encode the video again for every instance (and view)
    encoder_cache_mb: int = 4096
    upstream: str = UPSTREAM
    entry: str = "cotracker3_offline"
    weights: List[WeightFile] = field(default_factory=lambda: list(OFFLINE_WEIGHTS))
    online: bool = False
    backward_tracking: bool = False  # upstream option; frames before a query are dropped anyway
    add_support_grid: bool = True  # online only (offline adds it by itself)


@dataclass
class CoTrackerOnlineConfig(CoTrackerConfig):
    """`tracker=cotracker3_online`: sliding windows of 16 frames, step 8 (less memory on long
    clips)."""

    name: str = "cotracker3_online"
    entry: str = "cotracker3_online"
    weights: List[WeightFile] = field(default_factory=lambda: list(ONLINE_WEIGHTS))
    online: bool = True


class CoTrackerTracker(LiftedTracker):
    """CoTracker3 offline or online, lifted to 3D (see the module docstring)."""

    Config = CoTrackerConfig
    config: CoTrackerConfig

    def __init__(self, config: CoTrackerConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        self.source = ONLINE_SOURCE if self.config.online else OFFLINE_SOURCE
        self.encoders = EncoderCache(self.config.encoder_cache_mb)

    def _build(self, device):
        """The upstream predictor, its feature encoder (`model.fnet`) routed through the cache:
        each view's frames are encoded once per scene, not once per instance."""
        predictor = super()._build(device)
        self.encoders.attach_at(predictor, "model.fnet")
        return predictor

    def _start_scene(self, scene: Scene) -> None:
        self.encoders.for_scene(scene)

    def _view_call(self, scene: Scene):
        def visible_pixels(v, txy):
            uv, vis = self._track_view(scene, v, txy)
            uv[~vis] = np.nan
            return uv

        return visible_pixels

    def _fuse(self, scene: Scene, queries: Queries, tracks_2d: np.ndarray,
              masks: np.ndarray | None) -> TrackResult:
        """One instance's 2D tracks [V,T,N,2] (NaN: not tracked) lifted and fused."""
        N = len(queries)

        def estimate(t, previous, started):
            out = np.full((scene.num_views, N, 3), np.nan)
            for v in range(scene.num_views):
                sel = np.nonzero(started & ~np.isnan(tracks_2d[v, t, :, 0]))[0]
                if len(sel):
                    out[v, sel] = lift_pixels(scene, v, t, tracks_2d[v, t, sel], previous[sel],
                                              masks, self.config)
            return out

        return fuse_over_time(scene.num_frames, queries, estimate, self.config)

    def _track_view(self, scene: Scene, view: int, txy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CoTracker on one view for queries [M,3] (t, u, v): tracks [T,M,2], visible [T,M]."""
        import torch

        T = scene.num_frames
        video = torch.from_numpy(np.ascontiguousarray(scene.rgbs[view])).to(self.device)
        video = video.permute(0, 3, 1, 2)[None].float()  # [1,T,3,H,W], 0..255
        uv = np.full((T, len(txy), 2), np.nan)
        vis = np.zeros((T, len(txy)), bool)
        for part in self.batches(len(txy)):
            q = torch.as_tensor(txy[part], dtype=torch.float32, device=self.device)[None]
            with self.inference():
                tracks, visible = self._online(video, q) if self.config.online else self._offline(video, q)
            tracks = tracks[0].float().cpu().numpy()
            visible = visible[0].cpu().numpy()
            visible = visible[..., 0] if visible.ndim == 3 else visible
            n = min(T, len(tracks))
            uv[:n, part] = tracks[:n]
            vis[:n, part] = visible[:n].astype(bool)
        return uv, vis

    def _offline(self, video, queries):
        """The upstream offline predictor; co-tracker commits before 82e02e8 crash in its
        backward pass (`inv_tracks, inv_visibilities, __ = self.model(...)` unpacks 3 of 4)."""
        try:
            return self._model(video, queries=queries, backward_tracking=self.config.backward_tracking)
        except ValueError as err:
            if self.config.backward_tracking and "unpack" in str(err):
                raise TrackerError(
                    f"the co-tracker code at {self.hub_repo or self.config.upstream} crashes with "
                    f"backward tracking ({err}); fixed upstream in 82e02e8",
                    key="tracker.backward_tracking",
                    fix="update the clone to 82e02e8029753ad4ef13cf06be7f4fc5facdda4d (git "
                        "checkout 82e02e8), or set tracker.backward_tracking=false") from None
            raise

    def _online(self, video, queries):
        """The upstream online loop: reset with the queries, then chunks of 2*step frames."""
        model = self._model
        T = video.shape[1]
        model(video_chunk=video[:, :1], is_first_step=True, queries=queries,
              add_support_grid=self.config.add_support_grid)
        step = int(model.step)
        tracks = visible = None
        for start in range(0, max(T - step, 1), step):
            tracks, visible = model(video_chunk=video[:, start:start + 2 * step],
                                    add_support_grid=self.config.add_support_grid)
        return tracks, visible
