"""`depth=depth_anything_v2`: Depth Anything V2 metric depth per image."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from permask.choices import Choice
from permask.depth.learned.base import (LearnedDepth, LearnedDepthConfig, check_checkpoint, import_torch,
                                        import_upstream)
from permask.errors import ConfigError, DepthError
from permask.fetch.spec import WeightFile

log = logging.getLogger(__name__)


class Encoder(Choice):
    vits = "vits"
    vitb = "vitb"
    vitl = "vitl"


DEPTH_ANYTHING_FIX = (
    "git clone https://github.com/DepthAnything/Depth-Anything-V2 and set "
    "depth.repo_dir=/path/to/Depth-Anything-V2/metric_depth; weights: download "
    "https://huggingface.co/depth-anything/Depth-Anything-V2-Metric-Hypersim-Large/resolve/main/"
    "depth_anything_v2_metric_hypersim_vitl.pth (indoor; VKITTI for outdoor) and set "
    "depth.checkpoint=/path/to/that.pth")

DEPTH_ANYTHING_ENCODERS = {
    "vits": {"encoder": "vits", "features": 64, "out_channels": [48, 96, 192, 384]},
    "vitb": {"encoder": "vitb", "features": 128, "out_channels": [96, 192, 384, 768]},
    "vitl": {"encoder": "vitl", "features": 256, "out_channels": [256, 512, 1024, 1024]},
}


UPSTREAM = "DepthAnything/Depth-Anything-V2:a561b849ebae10a6f5ef49e26c83cbbcd36c71bf"
# indoor (Hypersim), ViT-L: the defaults below; other encoders / VKITTI: set depth.weights
WEIGHTS = [WeightFile("depth-anything/Depth-Anything-V2-Metric-Hypersim-Large",
                      "depth_anything_v2_metric_hypersim_vitl.pth", licence="CC BY-NC 4.0")]


@dataclass
class DepthAnythingV2DepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.depth_anything.DepthAnythingV2Depth"
    name: str = "depth_anything_v2"
    upstream: Optional[str] = UPSTREAM
    weights: List[WeightFile] = field(default_factory=lambda: list(WEIGHTS))
    encoder: Encoder = Encoder.vitl
    max_depth: float = 20.0  # 20: indoor (Hypersim) weights, 80: outdoor (VKITTI)
    input_size: int = 518


class DepthAnythingV2Depth(LearnedDepth):
    """`depth=depth_anything_v2`: Depth Anything V2 metric (indoor Hypersim, max_depth 20 m, or
    outdoor VKITTI, max_depth 80 m), per image. Metric, but per-image scale errors are common, so
    `auto` fits a scale to the file's depth when there is any."""

    kind = "depth_anything_v2"
    model_metric = True
    code_subdir = "metric_depth"

    def __init__(self, name: str = "depth_anything_v2", checkpoint: str | None = None,
                 encoder: str = "vitl", max_depth: float = 20.0, input_size: int = 518,
                 upstream: str | None = UPSTREAM, weights=tuple(WEIGHTS), **kwargs):
        if encoder not in DEPTH_ANYTHING_ENCODERS:
            raise ConfigError(f"unknown encoder '{encoder}'", key="depth.encoder",
                              fix="use vits, vitb or vitl")
        super().__init__(name, checkpoint=checkpoint, upstream=upstream, weights=weights,
                         **kwargs)
        self.encoder = encoder
        self.max_depth = float(max_depth)
        self.input_size = int(input_size)

    def _settings(self):
        return {"encoder": self.encoder, "max_depth": self.max_depth,
                "input_size": self.input_size}

    def _load(self):
        repo = self.code_dir()
        if repo and (Path(repo).expanduser() / "metric_depth").is_dir():
            repo = str(Path(repo).expanduser() / "metric_depth")  # the clone's root was given
        dpt = import_upstream("depth_anything_v2.dpt", repo, DEPTH_ANYTHING_FIX)
        weights = check_checkpoint(self.weights_path(), DEPTH_ANYTHING_FIX)
        torch = import_torch()
        # infer_image() puts its input on cuda, else mps, else cpu: the model must be there too
        mps = getattr(torch.backends, "mps", None)
        has_mps = mps is not None and mps.is_available()
        self._device = torch.device("cuda" if torch.cuda.is_available() else
                                    "mps" if has_mps else "cpu")
        if self.device_name not in ("auto", str(self._device)):
            log.warning("depth_anything_v2 runs on %s (upstream infer_image picks the device), "
                        "not %s", self._device, self.device_name)
        try:
            model = dpt.DepthAnythingV2(**DEPTH_ANYTHING_ENCODERS[self.encoder],
                                        max_depth=self.max_depth)
            model.load_state_dict(torch.load(weights, map_location="cpu"))
        except Exception as err:  # noqa: BLE001
            raise DepthError(f"cannot load Depth Anything V2 weights '{weights}': "
                             f"{type(err).__name__}: {err}", key="depth.checkpoint",
                             fix=DEPTH_ANYTHING_FIX) from None
        return model.to(self._device).eval()

    def _predict(self, scene):
        model = self.model
        V, T, H, W = scene.depths.shape
        depth = np.zeros((V, T, H, W), np.float32)
        for v in range(V):
            for t in range(T):
                bgr = np.ascontiguousarray(scene.rgbs[v, t, :, :, ::-1])
                depth[v, t] = np.asarray(model.infer_image(bgr, self.input_size), np.float32)
        return {"depth": depth}
