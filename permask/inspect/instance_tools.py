"""Instance tools as `permask inspect` options.

- `extract_instance` (`--extract ID -o OUT.npz`): one
  instance of a recording as a recording of its own, pickle-free, under the same mask key, so
  `python run.py input.npz=OUT.npz` (plus the source's `input.mask_key`, if any) tracks exactly it.
- `verify_paths` (`--verify`): checks the instance files a run
  wrote (`instances/*.npz`) with `permask.instances.verify_instance_npz`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from permask.data import Scene
from permask.errors import InstanceError, OutputError, PermaskError
from permask.files.atomic import save_npz
from permask.inputs.annotations import contact_frame_keys
from permask.inputs.npz import load_npz_safely, npz_keys
from permask.instances import INSTANCE_MASK_KEY, verify_instance_npz
from permask.queries import queries_from_file


def extract_instance(scene: Scene, mask_key: str, instance_id: str, out: str | Path) -> Path:
    """Write `instance_id` of `scene` (loaded at full resolution) to `out` as an input NPZ.

    The file holds rgbs [V,T,H,W,3] uint8, depths [V,T,H,W] metres, intrs [V,T,3,3],
    extrs [V,T,3,4], camera_ids [V], the mask under `<mask_key>/<instance_id>` [V,T,Hm,Wm] bool,
    and where the source has them: its contact frames (`<mask_key>_contact_frames/<id>` [V],
    -1 = none), its query points (`query_points` [N,4]: those a `query=npz` run on the source
    gives this instance), its ground-truth poses, timestamps. Written atomically; `out` may not
    be the source file.
    """
    if instance_id not in scene.masks:
        raise InstanceError(f"no instance {instance_id!r}; the file has {scene.instance_ids}",
                            file=scene.source, key=mask_key)
    out = Path(out).absolute()
    if out.exists() and os.path.samefile(out, scene.source):
        raise OutputError("is the file being read; inputs are never overwritten", file=str(out),
                          fix="choose another -o")
    arrays: dict[str, np.ndarray] = {
        "rgbs": scene.rgbs, "depths": scene.depths, "intrs": scene.intrs, "extrs": scene.extrs,
        "camera_ids": np.array(scene.camera_ids, dtype=np.str_),
        f"{mask_key}/{instance_id}": np.asarray(scene.masks[instance_id], bool),
    }
    contact = scene.contact_frames.get(instance_id)
    if contact:
        arrays[f"{contact_frame_keys(mask_key)[0]}/{instance_id}"] = np.array(
            [contact.get(cam, -1) for cam in scene.camera_ids], np.int64)
    if scene.query_points is not None:
        arrays["query_points"] = queries_from_file(scene, instance_id).points
    gt = scene.ground_truth
    if gt is not None and gt.pose_index(instance_id) is not None:
        arrays["gt_object_poses"] = gt.object_poses[gt.pose_index(instance_id)][None]
        arrays["gt_instance_ids"] = np.array([instance_id], dtype=np.str_)
    if scene.timestamps is not None and not np.asarray(scene.timestamps).dtype.hasobject:
        arrays["timestamps"] = np.asarray(scene.timestamps)
    return save_npz(out, **arrays)


@dataclass
class Checked:
    """One file `--verify` looked at: its instance id (None if unreadable) and its problems."""

    path: Path
    instance_id: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "instance_id": self.instance_id,
                "problems": self.problems}


def verify_paths(paths: list[str | Path]) -> list[Checked]:
    """Check instance files: each file named, and in each folder named (searched below it) every
    NPZ that holds an instance (`instance_id` + `masks/<id>`) or sits in an `instances/` folder
    (query files aside). A file that cannot be read counts as a problem. Nothing found: one
    problem naming the paths."""
    checked = []
    for given in paths:
        given = Path(given)
        if not given.is_dir():
            checked.append(_check(given))
            continue
        for path in sorted(given.rglob("*.npz")):
            if path.name.startswith("."):  # a run's temporary file
                continue
            in_instances = path.parent.name == "instances" and not path.name.endswith("_query.npz")
            try:
                keys = npz_keys(path)
            except PermaskError as err:
                checked.append(Checked(path, None, [str(err)]))
                continue
            if in_instances or _holds_instance(keys):
                checked.append(_check(path))
    if not checked:
        names = ", ".join(map(str, paths))
        checked.append(Checked(Path(names), None, [f"{names}: no instance files found"]))
    return checked


def _holds_instance(keys: list[str]) -> bool:
    return "instance_id" in keys and any(k.startswith(INSTANCE_MASK_KEY + "/") for k in keys)


def _check(path: Path) -> Checked:
    problems = verify_instance_npz(path)
    try:
        stored = load_npz_safely(path, keys=["instance_id"]).get("instance_id")
    except PermaskError:
        stored = None
    return Checked(path, None if stored is None else str(stored), problems)
