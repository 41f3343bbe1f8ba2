"""`depth=moge`: MoGe-2 (metric) or MoGe-1 (scale-invariant) monocular geometry per image."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy as np

from permask.depth.learned.base import (LearnedDepth, LearnedDepthConfig, fov_x_degrees, frame_batches,
                                        check_checkpoint, import_torch, import_upstream,
                                        resolve_device)
from permask.errors import ConfigError, DepthError
from permask.fetch.spec import WeightFile

log = logging.getLogger(__name__)


MOGE_FIX = ("pip install git+https://github.com/microsoft/MoGe.git (or git clone it and set "
            "depth.repo_dir=/path/to/MoGe); weights: download "
            "https://huggingface.co/Ruicheng/moge-2-vitl-normal/resolve/main/model.pt (MoGe-1: "
            "Ruicheng/moge-vitl) and set depth.checkpoint=/path/to/model.pt")


UPSTREAM = "microsoft/MoGe:07444410f1e33f402353b99d6ccd26bd31e469e8"
WEIGHTS_V2 = [WeightFile("Ruicheng/moge-2-vitl-normal", "model.pt", licence="MIT")]
WEIGHTS_V1 = [WeightFile("Ruicheng/moge-vitl", "model.pt", licence="MIT")]


@dataclass
class MoGeDepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.moge.MoGeDepth"
    name: str = "moge"
    upstream: Optional[str] = UPSTREAM
    weights: List[WeightFile] = field(default_factory=lambda: list(WEIGHTS_V2))  # v1: moge-vitl
    version: int = 2  # 2: metric (MoGe-2); 1: scale-invariant (MoGe-1)
    resolution_level: int = 9  # 0..9, more tokens = finer, slower
    num_tokens: Optional[int] = None  # overrides resolution_level
    use_intrinsics: bool = True  # give the file's horizontal field of view to the model


class MoGeDepth(LearnedDepth):
    """`depth=moge`: MoGe monocular geometry per image. MoGe-2 (`version=2`, default) predicts
    metric depth; MoGe-1 depth is scale-invariant and is aligned to the file's depth. With
    `use_intrinsics`, the file's horizontal field of view is given to the model (fov_x), so it
    does not have to guess the focal length."""

    kind = "moge"

    def __init__(self, name: str = "moge", version: int = 2, checkpoint: str | None = None,
                 resolution_level: int = 9, num_tokens: int | None = None,
                 use_intrinsics: bool = True, upstream: str | None = UPSTREAM,
                 weights=tuple(WEIGHTS_V2), **kwargs):
        if version not in (1, 2):
            raise ConfigError(f"MoGe version must be 1 or 2, got {version}", key="depth.version")
        self.model_metric = version == 2
        super().__init__(name, checkpoint=checkpoint, upstream=upstream, weights=weights,
                         **kwargs)
        if version == 1 and self.weights == WEIGHTS_V2:  # the default follows the version
            self.weights = list(WEIGHTS_V1)
        self.moge_version = int(version)
        self.resolution_level = int(resolution_level)
        self.num_tokens = num_tokens
        self.use_intrinsics = use_intrinsics

    def _settings(self):
        return {"version": self.moge_version, "resolution_level": self.resolution_level,
                "num_tokens": self.num_tokens, "use_intrinsics": self.use_intrinsics,
                "precision": self.precision}

    def _content(self, scene):
        content = {"rgbs": scene.rgbs}
        if self.use_intrinsics:
            content["intrs"] = scene.intrs
        return content

    def _load(self):
        module = import_upstream(f"moge.model.v{self.moge_version}", self.code_dir(), MOGE_FIX)
        weights = check_checkpoint(self.weights_path(), MOGE_FIX, hub_ok=True)
        self._device = resolve_device(self.device_name)
        try:
            model = module.MoGeModel.from_pretrained(weights)
        except Exception as err:  # noqa: BLE001 - hub download without network, bad file, ...
            raise DepthError(f"cannot load MoGe weights '{weights}': {type(err).__name__}: {err}",
                             key="depth.checkpoint", fix=MOGE_FIX) from None
        model = model.to(self._device).eval()
        if self.precision == "bf16":
            if self._device.type == "cpu":
                raise ConfigError("MoGe in bf16 needs a GPU: upstream's antialiased resize has no "
                                  "bfloat16 kernel on the CPU", key="depth.precision",
                                  fix="depth.precision=fp32 on the CPU")
            torch = import_torch()
            # upstream's infer() has fp16 autocast only (use_fp16) and runs in the weights' dtype
            # otherwise (it casts the image to it; an outer autocast would be switched off by its
            # own `autocast(enabled=False)`): bf16 means bf16 weights with use_fp16=False
            model = model.to(torch.bfloat16)
        return model

    def _predict(self, scene):
        torch = import_torch()
        model = self.model
        V, T, H, W = scene.depths.shape
        depth = np.zeros((V, T, H, W), np.float32)
        for v, frames in frame_batches(scene, self.batch_size):
            images = torch.from_numpy(np.ascontiguousarray(scene.rgbs[v, frames]))
            images = images.permute(0, 3, 1, 2).float().div(255.0).to(self._device)
            kwargs: dict[str, Any] = {"resolution_level": self.resolution_level,
                                      "use_fp16": self.precision == "fp16"}
            if self.num_tokens is not None:
                kwargs["num_tokens"] = int(self.num_tokens)
            if self.use_intrinsics:
                fov = [fov_x_degrees(scene.intrs[v, t], W)
                       for t in range(frames.start, frames.stop)]
                kwargs["fov_x"] = torch.tensor(fov, dtype=torch.float32, device=self._device)
            with torch.inference_mode():
                out = model.infer(images, **kwargs)
            depth[v, frames] = out["depth"].float().cpu().numpy().reshape(-1, H, W)
        return {"depth": depth}
