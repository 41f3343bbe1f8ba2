"""Resuming an interrupted run: which instances in an output folder are finished and valid.

An instance is finished when its tracked NPZ (written last, atomically) carries the fingerprint of
everything that determines its result: the input's content, the instance's mask, and every config
value that affects tracking or recording. Re-running the same command reuses it; changing such a
setting (or the input) re-runs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from permask.data import Queries, Scene, TrackResult
from permask.errors import OutputError

log = logging.getLogger(__name__)

# keys that only say where things go or how chatty a run is: they never change an instance
IGNORED_KEYS = ("output_dir", "sweep_dir", "progress", "instances", "on_existing")


def instance_fingerprint(cfg: DictConfig, scene: Scene, instance_id: str) -> str:
    """Hex digest of the input content, the instance's mask and the result-relevant config."""
    settings = OmegaConf.to_container(cfg, resolve=True)
    for key in IGNORED_KEYS:
        settings.pop(key, None)
    settings["input"].pop("npz", None)  # the content fingerprint stands for the file
    settings["input"].get("demo", {}).pop("cache_dir", None)
    for key in ("cache", "cache_dir"):  # where depth is cached never changes it
        settings["depth"].pop(key, None)
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
    same fingerprint and every other file of it exists; else None."""
    if not tracked_path.is_file() or not all(p.is_file() for p in required):
        return None
    try:
        with np.load(tracked_path) as f:
            if "fingerprint" not in f.files or str(f["fingerprint"]) != fingerprint:
                return None
            queries = Queries(str(f["instance_id"]), f["query_points"], f["query_view"],
                              f["query_pixel"])
            scores = f["scores"] if "scores" in f.files else None
            return queries, TrackResult(f["tracks_3d"], f["visibility"], scores)
    except (OSError, ValueError, KeyError) as err:  # unreadable leftovers are simply redone
        log.warning("re-running: cannot reuse %s (%s)", tracked_path, err)
        return None


def check_existing_output(out: Path, input_fingerprint: str, on_existing: str) -> None:
    """Refuse to mix results of a different input into a folder unless asked to overwrite."""
    metrics = out / "metrics.json"
    if on_existing == "overwrite" or not metrics.is_file():
        return
    if on_existing == "error":
        raise OutputError("already holds results", file=str(out), key="output_dir",
                          fix="choose another output_dir, or on_existing=resume|overwrite")
    try:
        earlier = json.loads(metrics.read_text()).get("input_fingerprint")
    except (OSError, ValueError):
        return
    if earlier and earlier != input_fingerprint:
        raise OutputError("holds results of a different input file; not mixing them",
                          file=str(out), key="output_dir",
                          fix="choose another output_dir, or on_existing=overwrite")


def remove_stale_temporaries(out: Path) -> None:
    """Temporary files of a killed run (never under a final name) are removed on resume."""
    for tmp in list(out.glob(".*.tmp*")) + list(out.glob("instances/.*.tmp*")):
        tmp.unlink(missing_ok=True)
