"""`depth=gt`: the file's own depth, as recorded."""

from __future__ import annotations

from dataclasses import dataclass

from permask.data import Scene
from permask.depth.base import DepthConfig


@dataclass
class GroundTruthDepthConfig(DepthConfig):
    """`depth=gt`: the file's depth as recorded."""

    _target_: str = "permask.depth.gt.GroundTruthDepth"
    name: str = "gt"


class GroundTruthDepth:
    """The recording's depth unchanged (0 = no measurement)."""

    metric = True
    needs_file_depth = True

    def __init__(self, name: str = "gt"):
        self.name = name

    def apply(self, scene: Scene) -> Scene:
        return scene
