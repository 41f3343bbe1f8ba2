"""The demo scene's parameters (`DemoParams`, config: `input.demo`) and its depth sensor's range."""

from __future__ import annotations

from dataclasses import dataclass

SENSOR_MAX_DEPTH = 3.5
"""Range (m) of the simulated sparse sensor (only when `depth_density < 1`)."""


@dataclass
class DemoParams:
    """Parameters of the demo scene.

    num_views, num_frames: V (>= 1) and T (>= 2).
    height, width: image size of rgb and depth, pixels.
    num_objects: K rigid objects (>= 1).
    seed: textures, small placement jitter, depth dropout, contact-frame jitter.
    depth_density: share of pixels that keep their depth; below 1 a sparse sensor is simulated:
        a random subset (new each frame) is zeroed and so is depth beyond SENSOR_MAX_DEPTH.
    mask_scale: masks are rendered at mask_scale x (height, width) (like SAM2 on high-res RGB).
    fps: frame rate for `timestamps`.
    """

    num_views: int = 4
    num_frames: int = 40
    height: int = 192
    width: int = 256
    num_objects: int = 3
    seed: int = 0
    depth_density: float = 1.0
    mask_scale: int = 1
    fps: float = 15.0

    def __post_init__(self) -> None:
        if self.num_views < 1 or self.num_frames < 2 or self.num_objects < 1:
            raise ValueError("DemoParams needs num_views >= 1, num_frames >= 2, num_objects >= 1")
        if self.height < 8 or self.width < 8:
            raise ValueError("DemoParams needs height, width >= 8")
        if not 0.0 < self.depth_density <= 1.0:
            raise ValueError("DemoParams.depth_density must be in (0, 1]")
        if int(self.mask_scale) != self.mask_scale or self.mask_scale < 1:
            raise ValueError("DemoParams.mask_scale must be a positive integer")
        if self.fps <= 0:
            raise ValueError("DemoParams.fps must be positive")
