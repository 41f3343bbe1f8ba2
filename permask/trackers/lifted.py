"""`LiftedTracker`: the base of the per-view learned trackers (CoTracker3, SpatialTrackerV2):
view selection, one upstream call per view, lifting to 3D and fusion (`lifting`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.choices import Choice
from permask.data import Queries, Scene, TrackResult
from permask.trackers.hub import HubTracker, LearnedTrackerConfig
from permask.trackers.lifting import LiftingParams, fuse_over_time, instance_masks, query_views


class Views(Choice):
    visible = "visible"  # every view that sees the query at its frame
    source = "source"  # only the view the query was lifted from


@dataclass
class LiftedTrackerConfig(LiftingParams, LearnedTrackerConfig):
    """Per-view learned trackers lifted to 3D with depth and fused across views."""

    views: Views = Views.visible


class LiftedTracker(HubTracker):
    """A per-view tracker lifted to 3D: view selection, per-view calls, lifting and fusion.
    Subclasses implement `_view_call(scene)` -> `per_view(view, queries_txy [M,3])` giving
    [T,M,`view_width`] per view, and `_fuse(scene, queries, results, masks)` -> one instance's
    `TrackResult` from its per-view results."""

    config: LiftedTrackerConfig
    view_width: int = 2  # values per point and frame that `per_view` returns

    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        """One instance: its queries alone in each view's call."""
        return self.track_joint(scene, {queries.instance_id: queries})[queries.instance_id]

    def track_joint(self, scene: Scene, queries: dict[str, Queries]) -> dict[str, TrackResult]:
        """Several instances (`tracking=joint`): per view ONE upstream call with every instance's
        queries (the network sees them all); the rest stays per instance: each query's views
        chosen with its own instance's mask, lifted through that mask, each instance fused with
        its own rigid prior. Returns instance id -> TrackResult, in the order of `queries`."""
        self._start_scene(scene)
        groups = [q for q in queries.values() if len(q)]
        per_view = iter(self._track_views(scene, groups, self._view_call(scene), self.view_width)
                        if groups else [])
        return {iid: self._fuse(scene, q, *next(per_view)) if len(q)
                else fuse_over_time(scene.num_frames, q, None, self.config)
                for iid, q in queries.items()}

    def _start_scene(self, scene: Scene) -> None:
        """Called once per `track` / `track_joint` call, before any work (e.g. a cache's scene)."""

    def _view_call(self, scene: Scene):  # pragma: no cover
        raise NotImplementedError

    def _fuse(self, scene: Scene, queries: Queries, results: np.ndarray,
              masks: np.ndarray | None) -> TrackResult:  # pragma: no cover
        raise NotImplementedError

    def _select_views(self, scene: Scene, queries: Queries, masks):
        return query_views(scene, queries, masks, self.config,
                           source_only=self.config.views == Views.source)

    def _track_views(self, scene: Scene, groups: list[Queries], per_view, width: int
                     ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Load the model; each group (one instance's queries) chooses the views that see each
        of its queries at its frame, with its own instance's masks; then per view, ONE call
        `per_view(view, queries_txy [M,3]) -> [T,M,width]` (NaN: not tracked) with the chosen
        queries of every group, in group order (one group per call per mask; every instance's
        in one call with `tracking=joint`). Returns per group (results [V,T,N_i,width], NaN
        where a view does not track a point; the group's masks at depth resolution, or None)."""
        self.load()
        masks = [instance_masks(scene, q.instance_id, self.config.mask_dilate_px)
                 if self.config.use_masks else None for q in groups]
        chosen = [self._select_views(scene, q, m) for q, m in zip(groups, masks)]
        results = [np.full((scene.num_views, scene.num_frames, len(q), width), np.nan)
                   for q in groups]
        for v in range(scene.num_views):
            idx = [np.nonzero(ok[v])[0] for _, ok in chosen]
            if not any(len(i) for i in idx):
                continue
            txy = np.concatenate([np.concatenate([q.frame[i, None].astype(np.float64),
                                                  pixels[v, i]], 1)
                                  for q, (pixels, _), i in zip(groups, chosen, idx)])
            tracked = per_view(v, txy)
            start = 0
            for out, i in zip(results, idx):
                out[v][:, i] = tracked[:, start:start + len(i)]
                start += len(i)
        return list(zip(results, masks))
