"""Resuming an interrupted run: which instances in an output folder are finished and valid.

An instance is finished when its tracked NPZ (written last, atomically) carries the fingerprint of
everything that determines its result: the input's content, the instance's mask, and every config
value that affects tracking or recording (all but `result_keys.TRACK_FREE`). Re-running the same
command reuses it; changing such a setting (or the input) re-runs it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from permask.data import Queries, Scene, TrackResult
from permask.files.tracked import read_tracked
from permask.result_keys import TRACK_FREE, without


def instance_fingerprint(cfg: DictConfig, scene: Scene, instance_id: str) -> str:
    """Hex digest of the input content, the instance's mask and the result-relevant config."""
    settings = without(OmegaConf.to_container(cfg, resolve=True), TRACK_FREE)
    settings["input"].pop("npz", None)  # the content fingerprint stands for the file
    if settings.get("tracking") == "per_mask":  # what runs before the setting did: their
        settings.pop("tracking")  # finished instances stay valid; joint ones never match them
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(scene.fingerprint.encode())
    digest.update(instance_id.encode())
    mask = scene.masks[instance_id]
    digest.update(str(mask.shape).encode())
    digest.update(np.packbits(mask).tobytes())
    return digest.hexdigest()[:20]


def load_finished(tracked_path: Path, fingerprint: str, required: list[Path]
                  ) -> tuple[Queries, TrackResult] | None:
    """The queries and result stored by an earlier run, if it finished this instance with the
    same fingerprint and every other file of it exists; else None (unreadable leftovers are
    simply redone)."""
    if not all(p.is_file() for p in required):
        return None
    earlier = read_tracked(tracked_path)
    if earlier is None or earlier.fingerprint != fingerprint:
        return None
    return earlier.queries, earlier.result
