"""Readers of what a file says about its instances besides masks: contact frames, query points and
ground-truth object poses.

- contact frames under `<mask_key>_contact_frames` or `<prefix>_contact_frames` (prefix = mask_key
  without a trailing `_masks`): dict `{instance: {camera: frame}}` or `<key>/<instance>` int `[V]`
  (-1 = no contact frame in that camera) -> `{instance: {camera: frame}}`, frames in [0, T);
- query_points `[N,4]` (t,x,y,z) or `query_points/<instance>` `[N,4]` -> float32, t in [0, T);
- gt_object_poses `[K,T,4,4]` object-to-world + gt_instance_ids `[K]` (both or neither);
- ground truth as point tracks: gt_tracks `[N,T,3]` world metres (NaN where unknown),
  gt_visibility `[N,T]` bool, gt_track_instance `[N]` instance ids, gt_query_points `[N,4]`
  (t, x, y, z world; t in [0, T)) (all four or none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from permask.ids import sort_instance_ids
from permask.inputs.checks import Ctx, key_text, numeric, shape_error
from permask.inputs.instance_ids import ids_of, instance_id_of

QUERY_KEY = "query_points"


def contact_frame_keys(mask_key: str) -> list[str]:
    """Keys that may hold contact frames for `mask_key`, in lookup order.

    `sam2_masks` -> [`sam2_masks_contact_frames`, `sam2_contact_frames`].
    """
    keys = [f"{mask_key}_contact_frames"]
    if mask_key.endswith("_masks") and len(mask_key) > len("_masks"):
        keys.append(f"{mask_key[:-len('_masks')]}_contact_frames")
    return keys


def read_contact_frames(arrays: dict[str, Any], mask_key: str, camera_ids: list[str], T: int,
                         ctx: Ctx) -> dict[str, dict[str, int]]:
    """Contact frames -> {instance_id: {camera_id: frame}}, frames in [0, T) (original numbers)."""
    out: dict[str, dict[str, int]] = {}
    for key in contact_frame_keys(mask_key):
        if key in arrays:
            value = arrays[key]
            if not isinstance(value, dict):
                raise ctx.error(key, f"expected a dict {{instance: {{camera: frame}}}}, got "
                                     f"{type(value).__name__}")
            for iid, per_cam in ids_of(value, key, ctx).items():
                out.setdefault(iid, _per_camera(per_cam, f"{key}/{key_text(iid)}", camera_ids,
                                                T, ctx))
        prefix = key + "/"
        for member, value in arrays.items():
            if member.startswith(prefix):
                iid = instance_id_of(member[len(prefix):], member, ctx)
                out.setdefault(iid, _per_camera(value, member, camera_ids, T, ctx))
    return {iid: out[iid] for iid in sort_instance_ids(out)}


def _per_camera(value: Any, key: str, camera_ids: list[str], T: int, ctx: Ctx) -> dict[str, int]:
    """{camera: frame} dict, one frame for all cameras, or a [V] sequence (-1 = none)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        pairs = [(_camera_of(c, key, camera_ids, ctx), f) for c, f in value.items()]
    else:
        a = np.asarray(value)
        if a.ndim == 0:
            pairs = [(c, a.item()) for c in camera_ids]
        elif a.ndim == 1 and len(a) == len(camera_ids):
            pairs = [(c, f) for c, f in zip(camera_ids, a.tolist()) if f is not None and f != -1]
        else:
            expected = f"[V={len(camera_ids)}] frames, a single frame or a dict"
            raise shape_error(key, expected, a, ctx)
    return {cam: _frame(f, key, T, ctx) for cam, f in pairs if f is not None}


def _camera_of(cam: Any, key: str, camera_ids: list[str], ctx: Ctx) -> str:
    name = cam.decode() if isinstance(cam, bytes) else str(cam)
    if name in camera_ids:
        return name
    if isinstance(cam, (int, np.integer)) and 0 <= cam < len(camera_ids):
        return camera_ids[int(cam)]
    raise ctx.error(key, f"unknown camera id {name!r} (camera ids: {camera_ids})")


def _frame(value: Any, key: str, T: int, ctx: Ctx) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ctx.error(key, f"contact frame {value!r} is not a number") from None
    if not f.is_integer() or not 0 <= f < T:
        raise ctx.error(key, f"contact frame {value!r} is outside [0, {T}) or not an integer")
    return int(f)


def read_query_points(arrays: dict[str, Any], T: int,
                       ctx: Ctx) -> np.ndarray | dict[str, np.ndarray] | None:
    """query_points [N,4] or per-instance {id: [N,4]} (t,x,y,z), float32, t in [0,T)."""
    prefix = QUERY_KEY + "/"
    members = {instance_id_of(k[len(prefix):], k, ctx): v for k, v in arrays.items()
               if k.startswith(prefix)}
    value = arrays.get(QUERY_KEY)
    if isinstance(value, dict):
        members = {**ids_of(value, QUERY_KEY, ctx), **members}
    elif value is not None:
        if members:
            raise ctx.error(QUERY_KEY, "both a global array and per-instance members are present")
        return _check_queries(value, QUERY_KEY, T, ctx)
    if not members:
        return None
    return {iid: _check_queries(members[iid], f"{prefix}{iid}", T, ctx)
            for iid in sort_instance_ids(members)}


def _check_queries(value: Any, key: str, T: int, ctx: Ctx) -> np.ndarray:
    a = numeric(value, key, ctx)
    if a.size == 0:
        return np.zeros((0, 4), np.float32)
    if a.ndim != 2 or a.shape[1] != 4:
        raise shape_error(key, "[N,4] (t,x,y,z)", a, ctx)
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ctx.error(key, "contains NaN or inf")
    t = a[:, 0]
    if (t < 0).any() or (t >= T).any():
        raise ctx.error(key, f"query frame t outside [0, {T}) (min {t.min():g}, max {t.max():g})")
    odd = t[t != np.round(t)]  # a frame index, not a time: truncating it would move the query
    if len(odd):
        raise ctx.error(key, f"query frame t must be a frame index (an integer), got "
                             f"{odd[0]:g}" + (f" and {len(odd) - 1} more" if len(odd) > 1 else ""))
    return a


POINT_TRACK_KEYS = ("gt_tracks", "gt_visibility", "gt_track_instance", "gt_query_points")


@dataclass
class _GT:
    object_poses: np.ndarray
    instance_ids: list[str]


@dataclass
class _PointTracks:
    tracks: np.ndarray
    visible: np.ndarray
    instance: np.ndarray
    query_points: np.ndarray


def read_point_tracks(arrays: dict[str, Any], T: int, ctx: Ctx) -> _PointTracks | None:
    """gt_tracks [N,T,3], gt_visibility [N,T], gt_track_instance [N], gt_query_points [N,4]."""
    present = [k for k in POINT_TRACK_KEYS if arrays.get(k) is not None]
    if not present:
        return None
    missing = [k for k in POINT_TRACK_KEYS if k not in present]
    if missing:
        raise ctx.error(missing[0], f"{', '.join(present)} present but {', '.join(missing)} missing",
                        fix="ground truth as point tracks needs all of " + ", ".join(POINT_TRACK_KEYS))
    tracks = numeric(arrays["gt_tracks"], "gt_tracks", ctx, "iuf")
    if tracks.ndim != 3 or tracks.shape[1:] != (T, 3):
        raise shape_error("gt_tracks", f"[N,T={T},3]", tracks, ctx)
    N = tracks.shape[0]
    if np.isinf(tracks).any():
        raise ctx.error("gt_tracks", "contains inf (NaN marks an unknown position)")
    visible = numeric(arrays["gt_visibility"], "gt_visibility", ctx, "biuf")
    if visible.shape != (N, T):
        raise shape_error("gt_visibility", f"[N={N},T={T}]", visible, ctx)
    visible = visible.astype(bool)
    if (visible & np.isnan(tracks).any(-1)).any():
        raise ctx.error("gt_visibility", "a point is visible where its gt_tracks position is NaN")
    raw = np.asarray(arrays["gt_track_instance"]).reshape(-1)
    if raw.shape != (N,):
        raise shape_error("gt_track_instance", f"[N={N}]", np.asarray(arrays["gt_track_instance"]), ctx)
    instance = np.array([instance_id_of(x.item() if isinstance(x, np.generic) else x,
                                        "gt_track_instance", ctx) for x in raw], dtype=str)
    queries = _check_queries(arrays["gt_query_points"], "gt_query_points", T, ctx)
    if len(queries) != N:
        raise shape_error("gt_query_points", f"[N={N},4]", np.asarray(arrays["gt_query_points"]), ctx)
    return _PointTracks(tracks.astype(np.float64), visible, instance, queries.astype(np.float64))


def read_ground_truth(arrays: dict[str, Any], T: int, ctx: Ctx) -> _GT | None:
    """gt_object_poses [K,T,4,4] + gt_instance_ids [K] (both or neither)."""
    poses, ids = arrays.get("gt_object_poses"), arrays.get("gt_instance_ids")
    if poses is None and ids is None:
        return None
    if poses is None or ids is None:
        present, missing = ("gt_object_poses", "gt_instance_ids")[::1 if ids is None else -1]
        raise ctx.error(missing, f"{present} is present but {missing} is missing")
    p = numeric(poses, "gt_object_poses", ctx, "iuf")
    if p.ndim != 4 or p.shape[2:] != (4, 4) or p.shape[1] != T:
        raise shape_error("gt_object_poses", f"[K,T={T},4,4]", p, ctx)
    items = ids.reshape(-1).tolist() if isinstance(ids, np.ndarray) else list(np.ravel(ids))
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in items]
    if len(names) != p.shape[0]:
        raise ctx.error("gt_instance_ids", f"has {len(names)} ids but gt_object_poses has "
                                           f"K={p.shape[0]} pose tracks")
    if not np.isfinite(p).all():
        raise ctx.error("gt_object_poses", "contains NaN or inf")
    return _GT(p.astype(np.float64), names)
