"""`depth=vggt`: VGGT multi-view depth and cameras, scaled to the file's metric frame."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from permask.depth.learned.base import (LearnedDepth, LearnedDepthConfig, check_checkpoint, import_torch,
                                        import_upstream, resolve_device)
from permask.errors import ConfigError, DepthError
from permask.fetch.spec import WeightFile
from permask.geometry import camera_center

log = logging.getLogger(__name__)


VGGT_FIX = ("git clone https://github.com/facebookresearch/vggt and pip install -e it (or set "
            "depth.repo_dir=/path/to/vggt); weights: download "
            "https://huggingface.co/facebook/VGGT-1B/resolve/main/model.pt and set "
            "depth.checkpoint=/path/to/model.pt")


UPSTREAM = "facebookresearch/vggt:44b3afbd1869d8bde4894dd8ea1e293112dd5eba"
WEIGHTS = [WeightFile("facebook/VGGT-1B", "model.pt", licence="VGGT licence (non-commercial)")]


@dataclass
class VGGTDepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.vggt.VGGTDepth"
    name: str = "vggt"
    upstream: Optional[str] = UPSTREAM
    weights: List[WeightFile] = field(default_factory=lambda: list(WEIGHTS))
    frames_per_pass: int = 8  # every view of this many frames per forward pass
    resolution: int = 518  # model image width (multiple of 14)
    min_confidence: float = 0.0  # depth_conf below this -> no depth


class VGGTDepth(LearnedDepth):
    """`depth=vggt`: VGGT multi-view geometry. Each forward pass takes every view of
    `frames_per_pass` consecutive frames; its depth and cameras share one unknown scale, fixed from
    the file's camera baselines (`align=cameras`, chosen by `auto` when the views stand apart)
    or from the file's depth (`align=scale`). Pixels below `min_confidence` are left invalid."""

    kind = "vggt"
    model_metric = False
    predicts_cameras = True

    def __init__(self, name: str = "vggt", checkpoint: str | None = None,
                 frames_per_pass: int = 8, resolution: int = 518, min_confidence: float = 0.0,
                 upstream: str | None = UPSTREAM, weights=tuple(WEIGHTS), **kwargs):
        if frames_per_pass < 1:
            raise ConfigError("frames_per_pass must be >= 1", key="depth.frames_per_pass")
        if resolution % 14:
            raise ConfigError(f"resolution must be a multiple of 14, got {resolution}",
                              key="depth.resolution")
        super().__init__(name, checkpoint=checkpoint, upstream=upstream, weights=weights,
                         **kwargs)
        self.frames_per_pass = int(frames_per_pass)
        self.resolution = int(resolution)
        self.min_confidence = float(min_confidence)

    def _settings(self):
        return {"frames_per_pass": self.frames_per_pass, "resolution": self.resolution,
                "min_confidence": self.min_confidence, "precision": self.precision}

    def _load(self):
        code = self.code_dir()
        models = import_upstream("vggt.models.vggt", code, VGGT_FIX)
        self._pose_enc = import_upstream("vggt.utils.pose_enc", code, VGGT_FIX)
        weights = check_checkpoint(self.weights_path(), VGGT_FIX, hub_ok=True)
        self._device = resolve_device(self.device_name)
        torch = import_torch()
        try:
            if Path(weights).is_file():  # model.pt state dict
                model = models.VGGT()
                model.load_state_dict(torch.load(weights, map_location="cpu"))
            else:  # a from_pretrained folder or hub id
                model = models.VGGT.from_pretrained(weights)
        except Exception as err:  # noqa: BLE001
            raise DepthError(f"cannot load VGGT weights '{weights}': {type(err).__name__}: {err}",
                             key="depth.checkpoint", fix=VGGT_FIX) from None
        return model.to(self._device).eval()

    def model_size(self, H: int, W: int) -> tuple[int, int]:
        """(h, w) the images are resized to: width `resolution`, height keeping the aspect
        ratio, rounded to a multiple of 14 (as upstream's load_and_preprocess_images)."""
        w = self.resolution
        h = max(14, int(round(H * w / W / 14.0)) * 14)
        return h, w

    def _predict(self, scene):
        torch = import_torch()
        import cv2

        model = self.model
        V, T, H, W = scene.depths.shape
        h, w = self.model_size(H, W)
        depth = np.zeros((V, T, H, W), np.float32)
        centres = np.zeros((V, T, 3), np.float64)
        group = np.zeros((V, T), np.int64)
        for g, t0 in enumerate(range(0, T, self.frames_per_pass)):
            frames = np.arange(t0, min(t0 + self.frames_per_pass, T))
            vv, tt = np.meshgrid(np.arange(V), frames, indexing="ij")
            vv, tt = vv.ravel(), tt.ravel()
            images = torch.from_numpy(np.ascontiguousarray(scene.rgbs[vv, tt]))
            images = images.permute(0, 3, 1, 2).float().div(255.0)
            if (h, w) != (H, W):
                images = torch.nn.functional.interpolate(images, size=(h, w), mode="bilinear",
                                                         align_corners=False, antialias=True)
            images = images.clamp(0, 1).to(self._device)
            with torch.inference_mode(), self.autocast():
                out = model(images)
            extr, _ = self._pose_enc.pose_encoding_to_extri_intri(out["pose_enc"], (h, w))
            d = out["depth"].float().reshape(len(vv), h, w).cpu().numpy()
            if self.min_confidence > 0 and "depth_conf" in out:
                conf = out["depth_conf"].float().reshape(len(vv), h, w).cpu().numpy()
                d = np.where(conf >= self.min_confidence, d, 0.0)
            E = extr.float().reshape(len(vv), 3, 4).cpu().numpy()
            for i, (v, t) in enumerate(zip(vv, tt)):
                # nearest: a resize never blends the two sides of a depth edge
                depth[v, t] = d[i] if (h, w) == (H, W) else cv2.resize(
                    d[i], (W, H), interpolation=cv2.INTER_NEAREST)
                centres[v, t] = camera_center(E[i])
            group[:, frames] = g
        return {"depth": depth, "camera_centres": centres, "group": group}
