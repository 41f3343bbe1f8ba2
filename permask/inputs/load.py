"""Load and validate an input NPZ into a `Scene` (the one internal layout).

Accepted forms (see DESIGN.md, "Input NPZ"):
- rgbs `[V,T,3,H,W]` or `[V,T,H,W,3]` (uint8; float in [0,1] or [0,255] converted);
- depths `[V,T,1,H,W]` or `[V,T,H,W]` metres (NaN / inf -> 0 = invalid; negative is an error);
- intrs `[V,T,3,3]` or `[V,3,3]`;
- extrs `[V,T,3,4]`, `[V,3,4]`, `[V,T,4,4]`, `[V,4,4]` world-to-camera;
- camera_ids `[V]` (unicode array, object array or pickled list), optional;
- masks under `mask_key`: pickled dict `{instance_id: [V,T,Hm,Wm]}`, pickle-free
  `<mask_key>/<instance_id>` members, or an integer label map `[V,T,Hm,Wm]`
  (k > 0 -> `instance_{k}`); Hm,Wm an integer multiple or divisor of H,W;
- contact frames under `<mask_key>_contact_frames` or `<prefix>_contact_frames` (prefix = mask_key
  without a trailing `_masks`): dict `{instance: {camera: frame}}` or `<key>/<instance>` int `[V]`
  (-1 = no contact frame in that camera);
- query_points `[N,4]` (t,x,y,z) or `query_points/<instance>` `[N,4]`;
- gt_object_poses `[K,T,4,4]` + gt_instance_ids `[K]`; ground truth as point tracks
  gt_tracks `[N,T,3]`, gt_visibility `[N,T]`, gt_track_instance `[N]`, gt_query_points `[N,4]`;
  timestamps (passed through).

Every problem raises `InputFormatError` naming the file, the key and the problem. This module
puts the readers together: `npz` reads the members (no pickle executed), `arrays` / `masks` /
`annotations` check each key, `resample` applies temporal_stride and spatial_downsample.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from permask.data import GroundTruth, PointTracks, Scene
from permask.inputs.annotations import (POINT_TRACK_KEYS, QUERY_KEY, contact_frame_keys,
                                        read_contact_frames, read_ground_truth,
                                        read_point_tracks, read_query_points)
from permask.inputs.arrays import (REQUIRED_KEYS, check_required, read_camera_ids, read_depths,
                                   read_extrinsics, read_intrinsics, read_rgbs, video_vthw)
from permask.inputs.checks import Ctx, positive_int
from permask.inputs.limits import DecodeLimits
from permask.inputs.masks import read_masks
from permask.inputs.npz import load_npz_safely, npz_keys
from permask.inputs.resample import (crop_sizes, resample, scale_intrinsics, stride_frame,
                                     stride_queries, stride_timestamps)

DEFAULT_MASK_KEY = "sam2_masks"
SCENE_KEYS = (*REQUIRED_KEYS, "camera_ids", "timestamps", QUERY_KEY, "gt_object_poses",
              "gt_instance_ids", *POINT_TRACK_KEYS)


def load_scene(path: str | Path, mask_key: str = DEFAULT_MASK_KEY, *, temporal_stride: int = 1,
               spatial_downsample: int = 1, require_masks: bool = True,
               require_depth: bool = True, limits: DecodeLimits | None = None,
               depth_scale: float | None = None) -> Scene:
    """Read an input NPZ (without executing pickles) and validate it into a `Scene`; the file is
    only read, never modified.

    Args:
      path: the recording (the old pipeline's format, a label map, or per-instance members).
      mask_key: the member holding the instance masks (default `sam2_masks`).
      temporal_stride: s keeps frames 0, s, 2s, ...
      spatial_downsample: d keeps every d-th pixel row and column (intrinsics scaled by 1/d).
      require_masks: refuse a file without instance masks.
      require_depth: refuse a file without depth.
      limits: decoding bounds (sizes, unpickled bytes); None: the defaults.
      depth_scale: metres per stored depth unit (0.001: millimetres); None: float depth is
        metres and integer depth is refused.

    Returns:
      The Scene: rgbs [V,T,H,W,3] uint8, depths [V,T,H,W] metres (0: no measurement), intrs
      [V,T,3,3], extrs [V,T,3,4] world-to-camera, masks per instance [V,T,Hm,Wm] bool.

    Raises:
      InputFileError, InputFormatError, UnsafePickleError or InstanceError (permask.errors; one
      line naming the file, key and problem) for a missing, wrong or hostile file.
    """
    path = Path(path)
    all_keys = npz_keys(path)
    arrays = load_npz_safely(path, keys=used_keys(mask_key), limits=limits)
    return scene_from_arrays(arrays, str(path), mask_key, temporal_stride=temporal_stride,
                             spatial_downsample=spatial_downsample, require_masks=require_masks,
                             fingerprint=file_fingerprint(path), consume=True,
                             require_depth=require_depth, all_keys=all_keys,
                             depth_scale=depth_scale)


def used_keys(mask_key: str):
    """Predicate on member names: the members a scene is built from (others are never read)."""
    exact = {*SCENE_KEYS, mask_key, *contact_frame_keys(mask_key)}
    prefixes = tuple(f"{k}/" for k in (mask_key, QUERY_KEY, *contact_frame_keys(mask_key)))
    return lambda key: key in exact or key.startswith(prefixes)


def scene_from_arrays(arrays: dict[str, Any], source: str, mask_key: str = DEFAULT_MASK_KEY, *,
                      temporal_stride: int = 1, spatial_downsample: int = 1,
                      require_masks: bool = True, fingerprint: str = "",
                      consume: bool = False, require_depth: bool = True,
                      all_keys: list[str] | None = None,
                      depth_scale: float | None = None) -> Scene:
    """Validate an in-memory `key -> array` dict (as `load_npz_safely` returns) into a `Scene`.

    source names the data in error messages. The result may share memory with `arrays`.
    consume: drop the raw video and depth from `arrays` as they are converted, so a channel-first
    file never holds two copies of the video at once.
    require_depth: False for depth sources that make their own (`depth=constant`, learned
    models): `depths` may then be missing (zeros are used) or hold no valid value.
    depth_scale: metres per stored depth unit (see `load_scene`).
    """
    ctx = Ctx(str(source), list(all_keys if all_keys is not None else arrays))
    stride = positive_int(temporal_stride, "temporal_stride", ctx)
    down = positive_int(spatial_downsample, "spatial_downsample", ctx)
    check_required(arrays, ctx, require_depth)

    take = arrays.pop if consume else arrays.__getitem__
    if "depths" in arrays:
        depths = read_depths(take("depths"), ctx, require_valid=require_depth, scale=depth_scale)
    else:
        depths = np.zeros(video_vthw(arrays["rgbs"], ctx), np.float32)
    V, T, H, W = depths.shape
    rgbs = read_rgbs(take("rgbs"), (V, T, H, W), ctx)
    intrs = read_intrinsics(arrays["intrs"], V, T, ctx)
    extrs = read_extrinsics(arrays["extrs"], V, T, ctx)
    camera_ids = read_camera_ids(arrays.get("camera_ids"), V, ctx)
    masks = read_masks(arrays, mask_key, (V, T, H, W), require_masks, ctx)
    contact = read_contact_frames(arrays, mask_key, camera_ids, T, ctx)
    queries = read_query_points(arrays, T, ctx)
    gt = read_ground_truth(arrays, T, ctx)
    point_tracks = read_point_tracks(arrays, T, ctx)

    frames = np.arange(0, T, stride)
    mask_hw = next(iter(masks.values())).shape[2:] if masks else None
    crop = crop_sizes((H, W), mask_hw, down, ctx)
    depths = resample(depths, stride, down, crop.image)
    if require_depth and not (depths > 0).any():
        raise ctx.error("depths", f"no valid depth left after spatial_downsample={down}",
                        fix="use a smaller input.spatial_downsample")
    return Scene(
        rgbs=resample(rgbs, stride, down, crop.image),
        depths=depths,
        intrs=scale_intrinsics(intrs[:, ::stride], down),
        extrs=np.ascontiguousarray(extrs[:, ::stride]),
        camera_ids=camera_ids,
        masks={k: resample(m, stride, down, crop.mask) for k, m in masks.items()},
        contact_frames={k: {c: stride_frame(f, stride, len(frames)) for c, f in v.items()}
                        for k, v in contact.items()},
        query_points=stride_queries(queries, stride, len(frames)),
        frame_indices=frames,
        timestamps=stride_timestamps(arrays.get("timestamps"), T, stride),
        ground_truth=ground_truth(gt, point_tracks, stride, T),
        source=str(source),
        fingerprint=fingerprint,
    )


def ground_truth(gt, point_tracks, stride: int, T: int) -> GroundTruth | None:
    """The file's poses and point tracks on the kept frames (query frames as `query_points`')."""
    if gt is None and point_tracks is None:
        return None
    poses = (np.zeros((0, len(range(0, T, stride)), 4, 4)) if gt is None
             else np.ascontiguousarray(gt.object_poses[:, ::stride]))
    tracks = None
    if point_tracks is not None:
        tracks = PointTracks(np.ascontiguousarray(point_tracks.tracks[:, ::stride]),
                             np.ascontiguousarray(point_tracks.visible[:, ::stride]),
                             point_tracks.instance,
                             stride_queries(point_tracks.query_points, stride,
                                            len(range(0, T, stride))))
    return GroundTruth(poses, [] if gt is None else gt.instance_ids, tracks)


def file_fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes, hex, first 16 characters."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
