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
- gt_object_poses `[K,T,4,4]` + gt_instance_ids `[K]`; timestamps (passed through).

Every problem raises `InputFormatError` naming the file, the key and the problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .data import GroundTruth, Scene
from .errors import InputFormatError
from .ids import natural_key, sort_instance_ids
from .safe_pickle import DecodeLimits, load_npz_safely, npz_keys

DEFAULT_MASK_KEY = "sam2_masks"
REQUIRED_KEYS = ("rgbs", "depths", "intrs", "extrs")
QUERY_KEY = "query_points"


# --------------------------------------------------------------------------- public API


def load_scene(path: str | Path, mask_key: str = DEFAULT_MASK_KEY, *, temporal_stride: int = 1,
               spatial_downsample: int = 1, require_masks: bool = True,
               require_depth: bool = True, limits: DecodeLimits | None = None) -> Scene:
    """Read an input NPZ (without executing pickles) and validate it into a `Scene`.

    temporal_stride s keeps frames 0, s, 2s, ...; spatial_downsample d keeps every d-th pixel
    row/column (intrinsics scaled by 1/d). The file is only read, never modified.
    """
    path = Path(path)
    all_keys = npz_keys(path)
    arrays = load_npz_safely(path, keys=used_keys(mask_key), limits=limits)
    return scene_from_arrays(arrays, str(path), mask_key, temporal_stride=temporal_stride,
                             spatial_downsample=spatial_downsample, require_masks=require_masks,
                             fingerprint=file_fingerprint(path), consume=True,
                             require_depth=require_depth, all_keys=all_keys)


SCENE_KEYS = (*REQUIRED_KEYS, "camera_ids", "timestamps", QUERY_KEY, "gt_object_poses",
              "gt_instance_ids")


def used_keys(mask_key: str):
    """Predicate on member names: the members a scene is built from (others are never read)."""
    exact = {*SCENE_KEYS, mask_key, *contact_frame_keys(mask_key)}
    prefixes = tuple(f"{k}/" for k in (mask_key, QUERY_KEY, *contact_frame_keys(mask_key)))
    return lambda key: key in exact or key.startswith(prefixes)


def scene_from_arrays(arrays: dict[str, Any], source: str, mask_key: str = DEFAULT_MASK_KEY, *,
                      temporal_stride: int = 1, spatial_downsample: int = 1,
                      require_masks: bool = True, fingerprint: str = "",
                      consume: bool = False, require_depth: bool = True,
                      all_keys: list[str] | None = None) -> Scene:
    """Validate an in-memory `key -> array` dict (as `load_npz_safely` returns) into a `Scene`.

    source names the data in error messages. The result may share memory with `arrays`.
    consume: drop the raw video and depth from `arrays` as they are converted, so a channel-first
    file never holds two copies of the video at once.
    require_depth: False for depth sources that make their own (`depth=constant`, learned
    models): `depths` may then be missing (zeros are used) or hold no valid value.
    """
    ctx = _Ctx(str(source), list(all_keys if all_keys is not None else arrays))
    stride = _positive_int(temporal_stride, "temporal_stride", ctx)
    down = _positive_int(spatial_downsample, "spatial_downsample", ctx)
    _check_required(arrays, ctx, require_depth)

    take = arrays.pop if consume else arrays.__getitem__
    if "depths" in arrays:
        depths = _read_depths(take("depths"), ctx, require_valid=require_depth)
    else:
        depths = np.zeros(_video_vthw(arrays["rgbs"], ctx), np.float32)
    V, T, H, W = depths.shape
    rgbs = _read_rgbs(take("rgbs"), (V, T, H, W), ctx)
    intrs = _read_intrinsics(arrays["intrs"], V, T, ctx)
    extrs = _read_extrinsics(arrays["extrs"], V, T, ctx)
    camera_ids = _read_camera_ids(arrays.get("camera_ids"), V, ctx)
    masks = _read_masks(arrays, mask_key, (V, T, H, W), require_masks, ctx)
    contact = _read_contact_frames(arrays, mask_key, camera_ids, T, ctx)
    queries = _read_query_points(arrays, T, ctx)
    gt = _read_ground_truth(arrays, T, ctx)

    frames = np.arange(0, T, stride)
    mask_hw = next(iter(masks.values())).shape[2:] if masks else None
    crop = _crop_sizes((H, W), mask_hw, down, ctx)
    depths = _resample(depths, stride, down, crop.image)
    if require_depth and not (depths > 0).any():
        raise ctx.error("depths", f"no valid depth left after spatial_downsample={down}",
                        fix="use a smaller input.spatial_downsample")
    return Scene(
        rgbs=_resample(rgbs, stride, down, crop.image),
        depths=depths,
        intrs=_scale_intrinsics(intrs[:, ::stride], down),
        extrs=np.ascontiguousarray(extrs[:, ::stride]),
        camera_ids=camera_ids,
        masks={k: _resample(m, stride, down, crop.mask) for k, m in masks.items()},
        contact_frames={k: {c: _stride_frame(f, stride, len(frames)) for c, f in v.items()}
                        for k, v in contact.items()},
        query_points=_stride_queries(queries, stride, len(frames)),
        frame_indices=frames,
        timestamps=_stride_timestamps(arrays.get("timestamps"), T, stride),
        ground_truth=None if gt is None else GroundTruth(
            np.ascontiguousarray(gt.object_poses[:, ::stride]), gt.instance_ids),
        source=str(source),
        fingerprint=fingerprint,
    )


def file_fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes, hex, first 16 characters."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def contact_frame_keys(mask_key: str) -> list[str]:
    """Keys that may hold contact frames for `mask_key`, in lookup order.

    `sam2_masks` -> [`sam2_masks_contact_frames`, `sam2_contact_frames`].
    """
    keys = [f"{mask_key}_contact_frames"]
    if mask_key.endswith("_masks") and len(mask_key) > len("_masks"):
        keys.append(f"{mask_key[:-len('_masks')]}_contact_frames")
    return keys


def mask_ratio(mask_hw: tuple[int, int], image_hw: tuple[int, int]) -> tuple[str, int] | None:
    """How a mask resolution relates to the depth resolution.

    Returns ("same", 1), ("up", r) when masks are r times larger, ("down", r) when r times smaller
    (same integer r on both axes), or None when neither holds.
    """
    (hm, wm), (h, w) = mask_hw, image_hw
    if (hm, wm) == (h, w):
        return "same", 1
    if hm % h == 0 and wm % w == 0 and hm // h == wm // w:
        return "up", hm // h
    if hm and wm and h % hm == 0 and w % wm == 0 and h // hm == w // wm:
        return "down", h // hm
    return None


def mask_at_depth_resolution(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bring a mask `[..., Hm, Wm]` bool to depth resolution `[..., H, W]` bool.

    Downscale is conservative: a depth pixel is in the mask only if its WHOLE cell is (exact block
    test for integer ratios, cv2 INTER_AREA >= 0.999 otherwise). Upscale repeats pixels (nearest).
    """
    mask = np.asarray(mask, bool)
    hm, wm = mask.shape[-2:]
    ratio = mask_ratio((hm, wm), (height, width))
    if ratio is not None:
        kind, r = ratio
        if kind == "same":
            return mask
        if kind == "up":
            blocks = mask.reshape(*mask.shape[:-2], height, r, width, r)
            return blocks.all(axis=(-3, -1))
        return np.repeat(np.repeat(mask, r, axis=-2), r, axis=-1)
    flat = mask.reshape(-1, hm, wm)
    out = np.empty((len(flat), height, width), bool)
    for i, m in enumerate(flat):
        if hm >= height and wm >= width:
            area = cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
            out[i] = area >= 0.999
        else:
            near = cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
            out[i] = near.astype(bool)
    return out.reshape(*mask.shape[:-2], height, width)


# --------------------------------------------------------------------------- helpers


class _Ctx:
    """Carries the source name so every error names the file."""

    def __init__(self, source: str, keys: list[str] | None = None):
        self.source = source
        self.keys = keys or []  # every key of the file, for messages (arrays may be consumed)

    def error(self, key: str | None, problem: str, fix: str | None = None) -> InputFormatError:
        return InputFormatError(problem, file=self.source, key=key, fix=fix)


def _positive_int(value: Any, name: str, ctx: _Ctx) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ctx.error(None, f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _key_summary(arrays: dict[str, Any] | list[str]) -> str:
    """Top-level key names, collapsing `a/b` members to `a/*`."""
    names: list[str] = []
    for key in arrays:
        name = key.split("/", 1)[0] + "/*" if "/" in key else key
        if name not in names:
            names.append(name)
    return ", ".join(names) if names else "(none)"


def _check_required(arrays: dict[str, Any], ctx: _Ctx, require_depth: bool = True) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in arrays and (require_depth or k != "depths")]
    if missing:
        fix = ("for a video without depth use depth=constant or a learned depth source"
               if missing == ["depths"] else None)
        raise ctx.error(missing[0], f"missing required key(s) {', '.join(missing)} "
                                    f"(keys present: {_key_summary(arrays)})", fix)


def _numeric(value: Any, key: str, ctx: _Ctx, kinds: str = "biuf") -> np.ndarray:
    """`value` as a numeric ndarray (dtype kind in `kinds`), else InputFormatError."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ctx.error(key, f"not an array ({err})") from None
    if array.dtype.kind not in kinds:
        raise ctx.error(key, f"expected a numeric array, got dtype {array.dtype}")
    return array


def _shape_error(key: str, expected: str, array: np.ndarray, ctx: _Ctx) -> InputFormatError:
    return ctx.error(key, f"expected shape {expected}, got {list(array.shape)}")


def _check_vt(key: str, shape: tuple[int, ...], V: int, T: int | None, ctx: _Ctx) -> None:
    """Views (and frames, unless T is None) of `key` must agree with depths."""
    if shape[0] != V:
        raise ctx.error(key, f"has V={shape[0]} views but depths has V={V}")
    if T is not None and shape[1] != T:
        raise ctx.error(key, f"has T={shape[1]} frames but depths has T={T}")


def _video_vthw(value: Any, ctx: _Ctx) -> tuple[int, int, int, int]:
    """(V, T, H, W) of rgbs [V,T,3,H,W] or [V,T,H,W,3], for a file without depth."""
    a = _numeric(value, "rgbs", ctx, "iuf")
    if a.ndim == 5 and a.shape[-1] == 3:
        return a.shape[0], a.shape[1], a.shape[2], a.shape[3]
    if a.ndim == 5 and a.shape[2] == 3:
        return a.shape[0], a.shape[1], a.shape[3], a.shape[4]
    raise _shape_error("rgbs", "[V,T,3,H,W] or [V,T,H,W,3]", a, ctx)


def _read_depths(value: Any, ctx: _Ctx, require_valid: bool = True) -> np.ndarray:
    """depths -> [V,T,H,W] float32 metres, invalid (NaN/inf) -> 0; negative values refused."""
    a = _numeric(value, "depths", ctx, "iuf")
    if a.ndim == 5 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 4:
        raise _shape_error("depths", "[V,T,1,H,W] or [V,T,H,W]", a, ctx)
    if min(a.shape) == 0:
        raise _shape_error("depths", "[V,T,H,W] with no empty axis", a, ctx)
    d = a.astype(np.float32, copy=False)  # the freshly read array: no second copy
    negative = int((d < 0).sum())
    if negative:
        raise ctx.error("depths", f"{negative} negative depth value(s); depth is z in metres",
                        fix="mark missing depth as 0 or NaN")
    d[~np.isfinite(d)] = 0.0
    if require_valid and not (d > 0).any():
        raise ctx.error("depths", "no valid depth anywhere (all 0, NaN or inf)")
    return d


def _read_rgbs(value: Any, vthw: tuple[int, int, int, int], ctx: _Ctx) -> np.ndarray:
    """rgbs [V,T,3,H,W] or [V,T,H,W,3] -> [V,T,H,W,3] uint8 (H,W as depths)."""
    V, T, H, W = vthw
    a = _numeric(value, "rgbs", ctx, "iuf")
    if a.ndim != 5:
        raise _shape_error("rgbs", "[V,T,3,H,W] or [V,T,H,W,3]", a, ctx)
    _check_vt("rgbs", a.shape, V, T, ctx)
    if a.shape[2:] == (H, W, 3):
        pass
    elif a.shape[2:] == (3, H, W):
        a = a.transpose(0, 1, 3, 4, 2)
    else:
        raise ctx.error("rgbs", f"shape {list(a.shape)} is neither [V,T,3,H,W] nor [V,T,H,W,3] "
                                f"with H,W = {H},{W} (the depth resolution)",
                        fix="store rgb at the depth resolution")
    return np.ascontiguousarray(_to_uint8(a, ctx))


def _to_uint8(a: np.ndarray, ctx: _Ctx) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ctx.error("rgbs", f"integer colours outside [0,255] (dtype {a.dtype})",
                        fix="store rgbs as uint8")
    return a.astype(np.uint8)


def _per_frame(a: np.ndarray, key: str, tail: tuple[tuple[int, int], ...], V: int, T: int,
               ctx: _Ctx) -> np.ndarray:
    """[V,*tail] or [V,T,*tail] -> [V,T,*tail] float64 (static cameras broadcast over T)."""
    if a.ndim == 3 and a.shape[1:] in tail:
        _check_vt(key, a.shape, V, None, ctx)
        a = np.broadcast_to(a[:, None], (V, T) + a.shape[1:])
    elif a.ndim == 4 and a.shape[2:] in tail:
        _check_vt(key, a.shape, V, T, ctx)
    else:
        forms = " or ".join(f"[V,{r},{c}] / [V,T,{r},{c}]" for r, c in tail)
        raise _shape_error(key, forms, a, ctx)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ctx.error(key, "contains NaN or inf")
    return a


def _read_intrinsics(value: Any, V: int, T: int, ctx: _Ctx) -> np.ndarray:
    """intrs -> [V,T,3,3] float32 with K[2] == [0,0,1]; rejects singular / negative focal."""
    K = _per_frame(_numeric(value, "intrs", ctx), "intrs", ((3, 3),), V, T, ctx)
    last = K[..., 2, :]
    if np.abs(last[..., :2]).max() > 1e-6 or (last[..., 2] <= 0).any():
        raise ctx.error("intrs", "last row of an intrinsic matrix is not [0,0,1]",
                        fix="store pinhole intrinsics [[fx,s,cx],[0,fy,cy],[0,0,1]]")
    K = K / last[..., 2, None, None]
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    if (fx <= 0).any() or (fy <= 0).any():
        raise ctx.error("intrs", f"focal length must be > 0 (min fx={fx.min():g}, fy={fy.min():g})")
    det = np.linalg.det(K)
    if (np.abs(det) < 1e-9).any():
        raise ctx.error("intrs", "an intrinsic matrix is singular (|det| < 1e-9)")
    return K.astype(np.float32)


def _read_extrinsics(value: Any, V: int, T: int, ctx: _Ctx) -> np.ndarray:
    """extrs -> [V,T,3,4] float32 world-to-camera; the rotation part must be a rotation."""
    E = _per_frame(_numeric(value, "extrs", ctx), "extrs", ((3, 4), (4, 4)), V, T, ctx)[..., :3, :]
    R = E[..., :3]
    err = np.abs(R @ np.swapaxes(R, -1, -2) - np.eye(3)).max()
    if err > 1e-2 or (np.linalg.det(R) <= 0).any():
        raise ctx.error("extrs", f"rotation part is not a proper rotation (orthonormality error "
                                 f"{err:.3g})", fix="store world-to-camera [R|t] with R in SO(3)")
    return np.ascontiguousarray(E.astype(np.float32))


def _read_camera_ids(value: Any, V: int, ctx: _Ctx) -> list[str]:
    """camera_ids (array / list / str) -> V unique strings; default cam_00, cam_01, ..."""
    if value is None:
        return [f"cam_{i:02d}" for i in range(V)]
    if isinstance(value, np.ndarray):
        items = value.reshape(-1).tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    odd = [x for x in items if not isinstance(x, (str, bytes, int, np.generic))]
    if odd:
        raise ctx.error("camera_ids", f"entries must be strings or integers, found a "
                                      f"{type(odd[0]).__name__}")
    ids = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in items]
    if any(not x or len(x) > 200 or not x.isprintable() for x in ids):
        raise ctx.error("camera_ids", "camera ids must be printable, non-empty, at most 200 "
                                      f"characters (got {_shown(ids)})")
    if len(ids) != V:
        raise ctx.error("camera_ids", f"has {len(ids)} entries but there are V={V} views")
    if len(set(ids)) != V:
        raise ctx.error("camera_ids", f"camera ids are not unique: {ids}")
    return ids


# --------------------------------------------------------------------------- masks


def _read_masks(arrays: dict[str, Any], mask_key: str, vthw: tuple[int, int, int, int],
                require: bool, ctx: _Ctx) -> dict[str, np.ndarray]:
    """Masks in any of the 3 forms -> natural-ordered {instance_id: [V,T,Hm,Wm] bool}."""
    V, T, H, W = vthw
    raw = _mask_entries(arrays, mask_key, V, ctx)
    if raw is None:
        if not require:
            return {}
        candidates = [k for k in ctx.keys if "mask" in k.lower() and "/" not in k]
        fix = f"set input.mask_key to one of {candidates}" if candidates else None
        raise ctx.error(mask_key, f"mask key not found (keys present: {_key_summary(ctx.keys)})", fix)
    masks = {iid: _instance_mask(m, key, V, T, ctx) for iid, (key, m) in raw.items()}
    if require and not masks:
        raise ctx.error(mask_key, "holds no mask instance")
    _check_distinct_ids(list(masks), mask_key, ctx)
    _check_mask_resolution(masks, raw, mask_key, (H, W), ctx)
    if require and all(not m.any() for m in masks.values()):
        raise ctx.error(mask_key, f"every instance mask is empty in every frame ({list(masks)})")
    return {iid: masks[iid] for iid in sort_instance_ids(masks)}


MAX_ID_CHARS = 1000  # longer ids are refused (file names are cut and hashed far below this)


def _shown(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: ASCII, escaped, cut to `limit` characters."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key_text(value: Any) -> str:
    """A dict key as part of a key path in messages: as it is when plain, else escaped."""
    text = str(value) if isinstance(value, (str, int, np.integer)) else ""
    return text if text and text.isprintable() and len(text) <= 60 else _shown(value)


def instance_id_of(value: Any, key: str, ctx: _Ctx) -> str:
    """An instance id from a dict key or member name: str, int or UTF-8 bytes; printable
    (no control characters, no lone surrogates), not empty, at most MAX_ID_CHARS."""
    if isinstance(value, (bytes, np.bytes_)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ctx.error(key, f"instance id {_shown(value)} is not UTF-8 text") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        raise ctx.error(key, f"instance id {_shown(value)} is a {type(value).__name__}, "
                             "expected a string or an integer")
    text = str(value)
    if not text or len(text) > MAX_ID_CHARS:
        raise ctx.error(key, f"instance id {_shown(text)} is empty or longer than "
                             f"{MAX_ID_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ctx.error(key, f"instance id {_shown(text)} is not valid Unicode") from None
    if any(not ch.isprintable() and ch != " " for ch in text):
        raise ctx.error(key, f"instance id {_shown(text)} contains control characters")
    return text


def ids_of(mapping: dict, key: str, ctx: _Ctx) -> dict[str, Any]:
    """{raw key: value} -> {instance id: value}; two keys naming one id (0 and '0') are refused."""
    out: dict[str, Any] = {}
    raw_of: dict[str, Any] = {}
    for raw, value in mapping.items():
        iid = instance_id_of(raw, f"{key}/{_key_text(raw)}", ctx)
        if iid in out:
            raise ctx.error(key, f"keys {_shown(raw_of[iid])} and {_shown(raw)} both name "
                                 f"instance {_shown(iid)}; one would be lost",
                            fix="give every instance a distinct id")
        out[iid], raw_of[iid] = value, raw
    return out


def _check_distinct_ids(ids: list[str], mask_key: str, ctx: _Ctx) -> None:
    """Ids that sort to the same natural key (instance_1, instance_01) would collide in file
    names and order: refuse them."""
    seen: dict[tuple, str] = {}
    for iid in ids:
        other = seen.setdefault(natural_key(iid)[:-1], iid)  # without the plain-string tiebreak
        if other != iid:
            raise ctx.error(mask_key, f"instance ids {_shown(other)} and {_shown(iid)} are the same after "
                                      "natural sorting", fix="rename one of them")


def _mask_entries(arrays: dict[str, Any], mask_key: str, V: int,
                  ctx: _Ctx) -> dict[str, tuple[str, Any]] | None:
    """instance id -> (key for messages, raw mask) from all forms; None if the key is absent."""
    prefix = mask_key + "/"
    members = {instance_id_of(k[len(prefix):], k, ctx): (k, v) for k, v in arrays.items()
               if k.startswith(prefix)}
    if mask_key not in arrays:
        return members if members else None
    value = arrays[mask_key]
    if isinstance(value, dict):
        entries = {iid: (f"{mask_key}/{_key_text(iid)}", v)
                   for iid, v in ids_of(value, mask_key, ctx).items()}
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biu":
        entries = _split_label_map(value, mask_key, V, ctx)
    else:
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise ctx.error(mask_key, f"expected a dict of instance masks or an integer label map, "
                                  f"got {kind}")
    clash = sorted(set(entries) & set(members))
    if clash:
        raise ctx.error(mask_key, f"instance {clash[0]} is stored twice (dict and member)")
    return {**entries, **members}


def _split_label_map(labels: np.ndarray, key: str, V: int,
                     ctx: _Ctx) -> dict[str, tuple[str, np.ndarray]]:
    """Label map [V,T,Hm,Wm] (0 = background, k > 0 = instance_k) -> per-instance bool masks."""
    labels = _squeeze_mask(labels, V)
    if labels.ndim != 4:
        raise _shape_error(key, "[V,T,Hm,Wm] label map", labels, ctx)
    if labels.dtype == bool:
        labels = labels.view(np.uint8)
    if labels.dtype.kind == "i" and labels.size and labels.min() < 0:
        raise ctx.error(key, "label map has negative labels (0 = background, k > 0 = instance k)")
    present: set[int] = set()
    for frame in labels.reshape(-1, *labels.shape[2:]):
        present.update(int(k) for k in np.unique(frame))
    present.discard(0)
    return {f"instance_{k}": (key, labels == k) for k in sorted(present)}


def _squeeze_mask(a: np.ndarray, V: int) -> np.ndarray:
    """[V,T,1,Hm,Wm] -> [V,T,Hm,Wm]; [T,Hm,Wm] -> [1,T,Hm,Wm] when V == 1."""
    if a.ndim == 5 and a.shape[2] == 1:
        return a[:, :, 0]
    if a.ndim == 3 and V == 1:
        return a[None]
    return a


def _instance_mask(value: Any, key: str, V: int, T: int, ctx: _Ctx) -> np.ndarray:
    """One instance's mask -> [V,T,Hm,Wm] bool (float > 0.5, integers != 0)."""
    a = _squeeze_mask(_numeric(value, key, ctx), V)
    if a.ndim != 4:
        raise _shape_error(key, "[V,T,Hm,Wm]", a, ctx)
    _check_vt(key, a.shape, V, T, ctx)
    if a.dtype == bool:
        return a
    return a > 0.5 if a.dtype.kind == "f" else a != 0


def _check_mask_resolution(masks: dict[str, np.ndarray], raw: dict[str, tuple[str, Any]],
                           mask_key: str, image_hw: tuple[int, int], ctx: _Ctx) -> None:
    """All masks share one resolution, an integer multiple or divisor of (H, W)."""
    shapes = {m.shape[2:] for m in masks.values()}
    if len(shapes) > 1:
        raise ctx.error(mask_key,
                        f"instances have different mask resolutions {sorted(shapes)}")
    if shapes and mask_ratio(next(iter(shapes)), image_hw) is None:
        hm, wm = next(iter(shapes))
        raise ctx.error(next(iter(raw.values()))[0],
                        f"mask resolution {hm}x{wm} is not an integer multiple or divisor of the "
                        f"depth resolution {image_hw[0]}x{image_hw[1]} (same ratio on both axes)")


# --------------------------------------------------------------------------- contact / queries / gt


def _read_contact_frames(arrays: dict[str, Any], mask_key: str, camera_ids: list[str], T: int,
                         ctx: _Ctx) -> dict[str, dict[str, int]]:
    """Contact frames -> {instance_id: {camera_id: frame}}, frames in [0, T) (original numbers)."""
    out: dict[str, dict[str, int]] = {}
    for key in contact_frame_keys(mask_key):
        if key in arrays:
            value = arrays[key]
            if not isinstance(value, dict):
                raise ctx.error(key, f"expected a dict {{instance: {{camera: frame}}}}, got "
                                     f"{type(value).__name__}")
            for iid, per_cam in ids_of(value, key, ctx).items():
                out.setdefault(iid, _per_camera(per_cam, f"{key}/{_key_text(iid)}", camera_ids,
                                                T, ctx))
        prefix = key + "/"
        for member, value in arrays.items():
            if member.startswith(prefix):
                iid = instance_id_of(member[len(prefix):], member, ctx)
                out.setdefault(iid, _per_camera(value, member, camera_ids, T, ctx))
    return {iid: out[iid] for iid in sort_instance_ids(out)}


def _per_camera(value: Any, key: str, camera_ids: list[str], T: int, ctx: _Ctx) -> dict[str, int]:
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
            raise _shape_error(key, expected, a, ctx)
    return {cam: _frame(f, key, T, ctx) for cam, f in pairs if f is not None}


def _camera_of(cam: Any, key: str, camera_ids: list[str], ctx: _Ctx) -> str:
    name = cam.decode() if isinstance(cam, bytes) else str(cam)
    if name in camera_ids:
        return name
    if isinstance(cam, (int, np.integer)) and 0 <= cam < len(camera_ids):
        return camera_ids[int(cam)]
    raise ctx.error(key, f"unknown camera id {name!r} (camera ids: {camera_ids})")


def _frame(value: Any, key: str, T: int, ctx: _Ctx) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ctx.error(key, f"contact frame {value!r} is not a number") from None
    if not f.is_integer() or not 0 <= f < T:
        raise ctx.error(key, f"contact frame {value!r} is outside [0, {T}) or not an integer")
    return int(f)


def _read_query_points(arrays: dict[str, Any], T: int,
                       ctx: _Ctx) -> np.ndarray | dict[str, np.ndarray] | None:
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


def _check_queries(value: Any, key: str, T: int, ctx: _Ctx) -> np.ndarray:
    a = _numeric(value, key, ctx)
    if a.size == 0:
        return np.zeros((0, 4), np.float32)
    if a.ndim != 2 or a.shape[1] != 4:
        raise _shape_error(key, "[N,4] (t,x,y,z)", a, ctx)
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ctx.error(key, "contains NaN or inf")
    t = a[:, 0]
    if (t < 0).any() or (t >= T).any():
        raise ctx.error(key, f"query frame t outside [0, {T}) (min {t.min():g}, max {t.max():g})")
    return a


@dataclass
class _GT:
    object_poses: np.ndarray
    instance_ids: list[str]


def _read_ground_truth(arrays: dict[str, Any], T: int, ctx: _Ctx) -> _GT | None:
    """gt_object_poses [K,T,4,4] + gt_instance_ids [K] (both or neither)."""
    poses, ids = arrays.get("gt_object_poses"), arrays.get("gt_instance_ids")
    if poses is None and ids is None:
        return None
    if poses is None or ids is None:
        present, missing = ("gt_object_poses", "gt_instance_ids")[::1 if ids is None else -1]
        raise ctx.error(missing, f"{present} is present but {missing} is missing")
    p = _numeric(poses, "gt_object_poses", ctx, "iuf")
    if p.ndim != 4 or p.shape[2:] != (4, 4) or p.shape[1] != T:
        raise _shape_error("gt_object_poses", f"[K,T={T},4,4]", p, ctx)
    items = ids.reshape(-1).tolist() if isinstance(ids, np.ndarray) else list(np.ravel(ids))
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in items]
    if len(names) != p.shape[0]:
        raise ctx.error("gt_instance_ids", f"has {len(names)} ids but gt_object_poses has "
                                           f"K={p.shape[0]} pose tracks")
    if not np.isfinite(p).all():
        raise ctx.error("gt_object_poses", "contains NaN or inf")
    return _GT(p.astype(np.float64), names)


# --------------------------------------------------------------------------- resampling


@dataclass
class _Crop:
    image: tuple[int, int]
    mask: tuple[int, int] | None


def _crop_sizes(image_hw: tuple[int, int], mask_hw: tuple[int, int] | None, down: int,
                ctx: _Ctx) -> _Crop:
    """Rows/cols kept before slicing by `down`, so masks keep an exact integer ratio to depth.

    Same resolution: nothing is cropped. Masks r times larger: the image is cropped to a multiple
    of `down`. Masks r times smaller: the mask is cropped to a multiple of `down`. Cropping removes
    bottom/right pixels only, so intrinsics are unaffected.
    """
    if mask_hw is None or down == 1 or tuple(mask_hw) == tuple(image_hw):
        return _Crop(tuple(image_hw), None if mask_hw is None else tuple(mask_hw))
    kind, r = mask_ratio(mask_hw, image_hw)
    if kind == "up":
        image = tuple(s - s % down for s in image_hw)
        mask = tuple(s * r for s in image)
    else:
        mask = tuple(s - s % down for s in mask_hw)
        image = tuple(s * r for s in mask)
    if min(image + mask) == 0:
        raise ctx.error(None, f"spatial_downsample={down} is too large for images {image_hw} "
                              f"and masks {tuple(mask_hw)}")
    return _Crop(image, mask)


def _resample(a: np.ndarray, stride: int, down: int, hw: tuple[int, int] | None) -> np.ndarray:
    """[V,T,H,W,...] -> frames [::stride], rows/cols cropped to hw then sliced [::down]."""
    h, w = hw if hw is not None else a.shape[2:4]
    return np.ascontiguousarray(a[:, ::stride, :h:down, :w:down])


def _scale_intrinsics(K: np.ndarray, down: int) -> np.ndarray:
    """Intrinsics for pixels sliced [::down]: u' = u / down (fx, s, cx, fy, cy divided)."""
    K = np.array(K, np.float32)
    K[..., :2, :] /= down
    return K


def _stride_frame(frame: int, stride: int, num_frames: int) -> int:
    """Original frame index -> index in the strided video (rounded, clipped)."""
    return int(np.clip(np.rint(frame / stride), 0, num_frames - 1))


def _stride_queries(q: np.ndarray | dict[str, np.ndarray] | None, stride: int,
                    num_frames: int) -> np.ndarray | dict[str, np.ndarray] | None:
    if q is None:
        return None
    if isinstance(q, dict):
        return {k: _stride_queries(v, stride, num_frames) for k, v in q.items()}
    out = q.copy()
    out[:, 0] = np.clip(np.rint(q[:, 0] / stride), 0, num_frames - 1)
    return out


def _stride_timestamps(ts: Any, T: int, stride: int) -> np.ndarray | None:
    """timestamps pass through; the frame axis ([T] or [V,T]) is strided when recognisable."""
    if ts is None:
        return None
    ts = np.asarray(ts)
    if ts.ndim >= 1 and ts.shape[0] == T:
        return ts[::stride]
    if ts.ndim == 2 and ts.shape[1] == T:
        return ts[:, ::stride]
    return ts
