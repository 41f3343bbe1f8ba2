"""Temporal stride and spatial downsampling of a validated scene's arrays.

temporal_stride s keeps frames 0, s, 2s, ...; spatial_downsample d keeps every d-th pixel
row/column, after cropping bottom/right pixels so masks keep an exact integer ratio to depth
(`crop_sizes`); intrinsics are scaled by 1/d. Frame numbers (contact frames, query frames) are
mapped to the strided video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from permask.inputs.checks import Ctx
from permask.inputs.masks import mask_ratio


@dataclass
class Crop:
    """(H, W) kept of the images and of the masks (None: no masks) before slicing by `down`."""

    image: tuple[int, int]
    mask: tuple[int, int] | None


def crop_sizes(image_hw: tuple[int, int], mask_hw: tuple[int, int] | None, down: int,
                ctx: Ctx) -> Crop:
    """Rows/cols kept before slicing by `down`, so masks keep an exact integer ratio to depth.

    Same resolution: nothing is cropped. Masks r times larger: the image is cropped to a multiple
    of `down`. Masks r times smaller: the mask is cropped to a multiple of `down`. Cropping removes
    bottom/right pixels only, so intrinsics are unaffected.
    """
    if mask_hw is None or down == 1 or tuple(mask_hw) == tuple(image_hw):
        return Crop(tuple(image_hw), None if mask_hw is None else tuple(mask_hw))
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
    return Crop(image, mask)


def resample(a: np.ndarray, stride: int, down: int, hw: tuple[int, int] | None) -> np.ndarray:
    """[V,T,H,W,...] -> frames [::stride], rows/cols cropped to hw then sliced [::down]."""
    h, w = hw if hw is not None else a.shape[2:4]
    return np.ascontiguousarray(a[:, ::stride, :h:down, :w:down])


def scale_intrinsics(K: np.ndarray, down: int) -> np.ndarray:
    """Intrinsics for pixels sliced [::down]: u' = u / down (fx, s, cx, fy, cy divided)."""
    K = np.array(K, np.float32)
    K[..., :2, :] /= down
    return K


def stride_frame(frame: int, stride: int, num_frames: int) -> int:
    """Original frame index -> index in the strided video (rounded, clipped)."""
    return int(np.clip(np.rint(frame / stride), 0, num_frames - 1))


def stride_queries(q: np.ndarray | dict[str, np.ndarray] | None, stride: int,
                    num_frames: int) -> np.ndarray | dict[str, np.ndarray] | None:
    if q is None:
        return None
    if isinstance(q, dict):
        return {k: stride_queries(v, stride, num_frames) for k, v in q.items()}
    out = q.copy()
    out[:, 0] = np.clip(np.rint(q[:, 0] / stride), 0, num_frames - 1)
    return out


def stride_timestamps(ts: Any, T: int, stride: int) -> np.ndarray | None:
    """timestamps pass through; the frame axis ([T] or [V,T]) is strided when recognisable."""
    if ts is None:
        return None
    ts = np.asarray(ts)
    if ts.ndim >= 1 and ts.shape[0] == T:
        return ts[::stride]
    if ts.ndim == 2 and ts.shape[1] == T:
        return ts[:, ::stride]
    return ts
