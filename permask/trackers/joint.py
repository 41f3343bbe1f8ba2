"""`tracking=joint`: every instance's queries tracked in one tracker call per scene, the result
split back to the instances.

The queries are the per-instance queries of a per-mask run (same sampling, same seeds), joined
in the run's instance order; what a tracker sees beyond them depends on the tracker:

- a tracker with `track_joint(scene, {instance: queries}) -> {instance: result}` decides itself
  (the learned trackers: the network sees every instance's queries in one call, per view for the
  per-view ones; masks and the rigid prior stay per instance, see their modules);
- any other tracker (`lk`, `static`, one of your own) gets one `track` call on a copy of the
  scene with one more instance, whose mask is the union of the tracked instances' masks, and
  all the queries as that instance's: for `lk` the union mask gates and crops its frames and
  one rigid model covers every point of the call.

With one instance, the union is that instance's mask and the call is its per-mask call: the
tracks are the same (tests/test_joint.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np

from permask.data import Queries, Scene, TrackResult

JOINT_ID = "joint"  # the id of the union instance (made unique against the scene's ids)


def joined_queries(queries: Mapping[str, Queries], instance_id: str) -> Queries:
    """Every instance's queries in one `Queries` [sum N_i] under `instance_id`, in the order of
    `queries` (instance by instance, each in its own order)."""
    parts = list(queries.values())
    return Queries(instance_id, *(np.concatenate([getattr(q, name) for q in parts])
                                  for name in ("points", "view", "pixel")))


def union_scene(scene: Scene, queries: Mapping[str, Queries]) -> tuple[Scene, Queries]:
    """A copy of `scene` with one more instance whose mask [V,T,Hm,Wm] is the union of the masks
    of the instances in `queries`, and their joined queries as that instance's. The copy shares
    every array with `scene` (the cached grey video too: converted once, here if not yet)."""
    union_id = JOINT_ID
    while union_id in scene.masks:
        union_id += "_"
    masks = dict(scene.masks)
    masks[union_id] = functools.reduce(np.logical_or, (scene.masks[i] for i in queries))
    scene.gray()  # the copy takes the cache along; LK trackers read it
    return dataclasses.replace(scene, masks=masks), joined_queries(queries, union_id)


def split_result(result: TrackResult, queries: Mapping[str, Queries]) -> dict[str, TrackResult]:
    """A joined call's result [T, sum N_i] back per instance, in the order of `queries`."""
    out: dict[str, TrackResult] = {}
    start = 0
    for iid, q in queries.items():
        part = slice(start, start + len(q))
        out[iid] = TrackResult(result.tracks[:, part].copy(), result.visible[:, part].copy(),
                               None if result.scores is None else result.scores[:, part].copy())
        start = part.stop
    return out


def track_jointly(tracker, scene: Scene, queries: Mapping[str, Queries]) -> dict[str, TrackResult]:
    """Every instance's queries in one call of `tracker` (see the module docstring); returns
    instance id -> its result, tracks [T,N_i,3] world metres, visible [T,N_i], scores [T,N_i]."""
    if not queries:
        return {}
    joint = getattr(tracker, "track_joint", None)
    if joint is not None:
        return joint(scene, dict(queries))
    scene_all, everything = union_scene(scene, queries)
    return split_result(tracker.track(scene_all, everything), queries)
