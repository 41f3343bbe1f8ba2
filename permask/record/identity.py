"""Who is who in a recording: the ids every file of one scene shares, and per instance its class id
(the value in its SegmentationImage) and colour (the same in every view, file and video)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from permask.data import Scene
from permask.ids import natural_key

APPLICATION_ID = "permask"
_RECORDING_NAMESPACE = uuid.UUID("5b0b7f4e-8d7e-4c55-9a55-7d1f4f0e6a21")

# matplotlib's tab10, then the light halves of tab20.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)

Color = tuple[int, int, int]


@dataclass(frozen=True)
class RecordingIds:
    """Application id and recording id shared by every file of one scene."""

    application_id: str
    recording_id: str

    @classmethod
    def for_scene(cls, scene: Scene, base: str,
                  application_id: str = APPLICATION_ID) -> RecordingIds:
        """Deterministic ids: recording id = uuid5(base name + content fingerprint of the scene)."""
        key = f"{base}\n{scene_fingerprint(scene)}"
        return cls(application_id, str(uuid.uuid5(_RECORDING_NAMESPACE, key)))


def scene_fingerprint(scene: Scene) -> str:
    """`scene.fingerprint`, or when unknown a hash of the cameras and a strided data sample."""
    if scene.fingerprint:
        return scene.fingerprint
    h = hashlib.sha1()
    h.update(repr((scene.rgbs.shape, list(scene.camera_ids), scene.source)).encode())
    for arr in (scene.intrs, scene.extrs, scene.rgbs[:, :, ::7, ::7], scene.depths[:, :, ::7, ::7]):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def class_ids(instance_ids: Iterable[str]) -> dict[str, int]:
    """Instance id -> class id (1-based) in natural order (instance_2 before instance_10)."""
    return {iid: k + 1 for k, iid in enumerate(sorted(set(instance_ids), key=natural_key))}


def instance_color(instance_id: str, all_instance_ids: Iterable[str] = ()) -> Color:
    """Stable RGB colour: the palette entry at the instance's natural index in `all_instance_ids`.

    An id outside `all_instance_ids` gets a colour from a hash of the id (stable across runs).
    """
    ids = class_ids(all_instance_ids)
    if instance_id in ids:
        index = ids[instance_id] - 1
    else:
        index = int(hashlib.sha1(instance_id.encode()).hexdigest(), 16)
    return PALETTE[index % len(PALETTE)]
