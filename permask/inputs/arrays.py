"""Readers of the scene's arrays: video, depth and cameras, each checked and brought to one layout.

- rgbs `[V,T,3,H,W]` or `[V,T,H,W,3]` -> `[V,T,H,W,3]` uint8 (float in [0,1] or [0,255] converted);
- depths `[V,T,1,H,W]` or `[V,T,H,W]` -> `[V,T,H,W]` float32 metres (NaN / inf -> 0 = invalid;
  negative is an error);
- intrs `[V,T,3,3]` or `[V,3,3]` -> `[V,T,3,3]` float32;
- extrs `[V,T,3,4]`, `[V,3,4]`, `[V,T,4,4]`, `[V,4,4]` world-to-camera -> `[V,T,3,4]` float32;
- camera_ids `[V]` (unicode array, object array or pickled list) -> V unique strings.

Every problem raises `InputFormatError` through the file's `Ctx`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from permask.inputs.checks import Ctx, check_vt, key_summary, numeric, shape_error, shown

REQUIRED_KEYS = ("rgbs", "depths", "intrs", "extrs")


def check_required(arrays: dict[str, Any], ctx: Ctx, require_depth: bool = True) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in arrays and (require_depth or k != "depths")]
    if missing:
        fix = ("for a video without depth use depth=constant or a learned depth source"
               if missing == ["depths"] else None)
        raise ctx.error(missing[0], f"missing required key(s) {', '.join(missing)} "
                                    f"(keys present: {key_summary(arrays)})", fix)


def video_vthw(value: Any, ctx: Ctx) -> tuple[int, int, int, int]:
    """(V, T, H, W) of rgbs [V,T,3,H,W] or [V,T,H,W,3], for a file without depth."""
    a = numeric(value, "rgbs", ctx, "iuf")
    if a.ndim == 5 and a.shape[-1] == 3:
        return a.shape[0], a.shape[1], a.shape[2], a.shape[3]
    if a.ndim == 5 and a.shape[2] == 3:
        return a.shape[0], a.shape[1], a.shape[3], a.shape[4]
    raise shape_error("rgbs", "[V,T,3,H,W] or [V,T,H,W,3]", a, ctx)


def read_depths(value: Any, ctx: Ctx, require_valid: bool = True,
                scale: float | None = None) -> np.ndarray:
    """depths -> [V,T,H,W] float32 metres, invalid (NaN/inf) -> 0; negative values refused.
    `scale`: metres per stored unit (None: float depth is metres, integer depth is refused: an
    integer depth map is millimetres or another sensor unit, never metres)."""
    a = numeric(value, "depths", ctx, "iuf")
    if scale is None and a.dtype.kind in "iu":
        raise ctx.error("depths", f"integer depth ({a.dtype}) has no unit; permask reads metres",
                        fix="set input.depth_scale to the metres per stored unit "
                            "(0.001 for millimetres)")
    if a.ndim == 5 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 4:
        raise shape_error("depths", "[V,T,1,H,W] or [V,T,H,W]", a, ctx)
    if min(a.shape) == 0:
        raise shape_error("depths", "[V,T,H,W] with no empty axis", a, ctx)
    d = a.astype(np.float32, copy=False)  # the freshly read array: no second copy
    if scale is not None:  # in place on a converted copy; never on the array passed in
        d = d * np.float32(scale) if d is a else np.multiply(d, np.float32(scale), out=d)
    negative = int((d < 0).sum())
    if negative:
        raise ctx.error("depths", f"{negative} negative depth value(s); depth is z in metres",
                        fix="mark missing depth as 0 or NaN")
    d[~np.isfinite(d)] = 0.0
    if require_valid and not (d > 0).any():
        raise ctx.error("depths", "no valid depth anywhere (all 0, NaN or inf)")
    return d


def read_rgbs(value: Any, vthw: tuple[int, int, int, int], ctx: Ctx) -> np.ndarray:
    """rgbs [V,T,3,H,W] or [V,T,H,W,3] -> [V,T,H,W,3] uint8 (H,W as depths)."""
    V, T, H, W = vthw
    a = numeric(value, "rgbs", ctx, "iuf")
    if a.ndim != 5:
        raise shape_error("rgbs", "[V,T,3,H,W] or [V,T,H,W,3]", a, ctx)
    check_vt("rgbs", a.shape, V, T, ctx)
    if a.shape[2:] == (H, W, 3):
        pass
    elif a.shape[2:] == (3, H, W):
        a = a.transpose(0, 1, 3, 4, 2)
    else:
        raise ctx.error("rgbs", f"shape {list(a.shape)} is neither [V,T,3,H,W] nor [V,T,H,W,3] "
                                f"with H,W = {H},{W} (the depth resolution)",
                        fix="store rgb at the depth resolution")
    return np.ascontiguousarray(_to_uint8(a, ctx))


def _to_uint8(a: np.ndarray, ctx: Ctx) -> np.ndarray:
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
               ctx: Ctx) -> np.ndarray:
    """[V,*tail] or [V,T,*tail] -> [V,T,*tail] float64 (static cameras broadcast over T)."""
    if a.ndim == 3 and a.shape[1:] in tail:
        check_vt(key, a.shape, V, None, ctx)
        a = np.broadcast_to(a[:, None], (V, T) + a.shape[1:])
    elif a.ndim == 4 and a.shape[2:] in tail:
        check_vt(key, a.shape, V, T, ctx)
    else:
        forms = " or ".join(f"[V,{r},{c}] / [V,T,{r},{c}]" for r, c in tail)
        raise shape_error(key, forms, a, ctx)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ctx.error(key, "contains NaN or inf")
    return a


def read_intrinsics(value: Any, V: int, T: int, ctx: Ctx) -> np.ndarray:
    """intrs -> [V,T,3,3] float32 with K[2] == [0,0,1]; rejects singular / negative focal."""
    K = _per_frame(numeric(value, "intrs", ctx), "intrs", ((3, 3),), V, T, ctx)
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


def read_extrinsics(value: Any, V: int, T: int, ctx: Ctx) -> np.ndarray:
    """extrs -> [V,T,3,4] float32 world-to-camera; the rotation part must be a rotation."""
    E = _per_frame(numeric(value, "extrs", ctx), "extrs", ((3, 4), (4, 4)), V, T, ctx)
    if E.shape[-2] == 4:
        if np.abs(E[..., 3, :] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-6:
            raise ctx.error("extrs", "last row of a 4x4 extrinsic matrix is not [0,0,0,1]",
                            fix="store world-to-camera [R|t] (3x4) or [[R,t],[0,0,0,1]] (4x4)")
        E = E[..., :3, :]
    R = E[..., :3]
    err = np.abs(R @ np.swapaxes(R, -1, -2) - np.eye(3)).max()
    if err > 1e-2 or (np.linalg.det(R) <= 0).any():
        raise ctx.error("extrs", f"rotation part is not a proper rotation (orthonormality error "
                                 f"{err:.3g})", fix="store world-to-camera [R|t] with R in SO(3)")
    return np.ascontiguousarray(E.astype(np.float32))


def read_camera_ids(value: Any, V: int, ctx: Ctx) -> list[str]:
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
                                      f"characters (got {shown(ids)})")
    if len(ids) != V:
        raise ctx.error("camera_ids", f"has {len(ids)} entries but there are V={V} views")
    if len(set(ids)) != V:
        raise ctx.error("camera_ids", f"camera ids are not unique: {ids}")
    return ids
