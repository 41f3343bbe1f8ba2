"""Instance masks: read from any of the three forms, checked, and brought to depth resolution.

Masks under `mask_key`: a pickled dict `{instance_id: [V,T,Hm,Wm]}`, pickle-free
`<mask_key>/<instance_id>` members, or an integer label map `[V,T,Hm,Wm]` (k > 0 ->
`instance_{k}`); Hm,Wm an integer multiple or divisor of the depth resolution H,W (`mask_ratio`).
`mask_at_depth_resolution` brings a mask to `[..., H, W]` for the stages after loading.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from permask.ids import sort_instance_ids
from permask.inputs.checks import Ctx, check_vt, key_summary, key_text, numeric, shape_error
from permask.inputs.instance_ids import check_distinct_ids, ids_of, instance_id_of


def read_masks(arrays: dict[str, Any], mask_key: str, vthw: tuple[int, int, int, int],
                require: bool, ctx: Ctx) -> dict[str, np.ndarray]:
    """Masks in any of the 3 forms -> natural-ordered {instance_id: [V,T,Hm,Wm] bool}."""
    V, T, H, W = vthw
    raw = _mask_entries(arrays, mask_key, V, ctx)
    if raw is None:
        if not require:
            return {}
        candidates = [k for k in ctx.keys if "mask" in k.lower() and "/" not in k]
        fix = f"set input.mask_key to one of {candidates}" if candidates else None
        raise ctx.error(mask_key, f"mask key not found (keys present: {key_summary(ctx.keys)})", fix)
    masks = {iid: _instance_mask(m, key, V, T, ctx) for iid, (key, m) in raw.items()}
    if require and not masks:
        raise ctx.error(mask_key, "holds no mask instance")
    check_distinct_ids(list(masks), mask_key, ctx)
    _check_mask_resolution(masks, raw, mask_key, (H, W), ctx)
    if require and all(not m.any() for m in masks.values()):
        raise ctx.error(mask_key, f"every instance mask is empty in every frame ({list(masks)})")
    return {iid: masks[iid] for iid in sort_instance_ids(masks)}


def _mask_entries(arrays: dict[str, Any], mask_key: str, V: int,
                  ctx: Ctx) -> dict[str, tuple[str, Any]] | None:
    """instance id -> (key for messages, raw mask) from all forms; None if the key is absent."""
    prefix = mask_key + "/"
    members = {instance_id_of(k[len(prefix):], k, ctx): (k, v) for k, v in arrays.items()
               if k.startswith(prefix)}
    if mask_key not in arrays:
        return members if members else None
    value = arrays[mask_key]
    if isinstance(value, dict):
        entries = {iid: (f"{mask_key}/{key_text(iid)}", v)
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
                     ctx: Ctx) -> dict[str, tuple[str, np.ndarray]]:
    """Label map [V,T,Hm,Wm] (0 = background, k > 0 = instance_k) -> per-instance bool masks."""
    labels = _squeeze_mask(labels, V)
    if labels.ndim != 4:
        raise shape_error(key, "[V,T,Hm,Wm] label map", labels, ctx)
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


def _instance_mask(value: Any, key: str, V: int, T: int, ctx: Ctx) -> np.ndarray:
    """One instance's mask -> [V,T,Hm,Wm] bool (float > 0.5, integers != 0)."""
    a = _squeeze_mask(numeric(value, key, ctx), V)
    if a.ndim != 4:
        raise shape_error(key, "[V,T,Hm,Wm]", a, ctx)
    check_vt(key, a.shape, V, T, ctx)
    if a.dtype == bool:
        return a
    return a > 0.5 if a.dtype.kind == "f" else a != 0


def _check_mask_resolution(masks: dict[str, np.ndarray], raw: dict[str, tuple[str, Any]],
                           mask_key: str, image_hw: tuple[int, int], ctx: Ctx) -> None:
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
