"""`depth=gt`: the file's own depth, as recorded."""

from __future__ import annotations

from permask.data import Scene


class GroundTruthDepth:
    """The recording's depth unchanged (0 = no measurement)."""

    metric = True
    needs_file_depth = True

    def __init__(self, name: str = "gt"):
        self.name = name

    def apply(self, scene: Scene) -> Scene:
        return scene
