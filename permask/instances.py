"""Instance ids and per-instance NPZ files.

Ids sort in natural order (`instance_2` before `instance_10`). An instance file is pickle-free and
holds one instance's masks plus the camera arrays; it is what a later run reuses
(`split.reuse_dir`) instead of re-splitting. Keys of an instance file:

- `masks/<id>` [V,T,Hm,Wm] bool, `masks_contact_frames/<id>` [V] int (-1 = none), if any;
- `intrs` [V,T,3,3], `extrs` [V,T,3,4], `camera_ids` [V] unicode, `frame_indices` [T],
  `image_size` [2] (H, W);
- `instance_id`, `source_fingerprint`, `source_path` (0-d unicode);
- `query_points/<id>` [N,4] and `gt_object_poses` [1,T,4,4] + `gt_instance_ids`, and the
  instance's ground-truth point tracks (`gt_tracks` [N,T,3], `gt_visibility` [N,T],
  `gt_track_instance` [N], `gt_query_points` [N,4]), when the scene has them;
- only when self-contained: `rgbs` [V,T,H,W,3], `depths` [V,T,H,W] (and `timestamps`), so the file
  loads with `load_scene(path, mask_key=INSTANCE_MASK_KEY)` as a one-instance scene.

The arrays describe the scene as loaded (after stride / downsample), not the original file.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .data import Scene
from .errors import InstanceError, PermaskError
from .ids import sort_instance_ids
from .files.atomic import save_npz
from .files.layout import first_clash, instance_file_name
from .inputs.load import scene_from_arrays
from .inputs.masks import mask_ratio
from .inputs.npz import load_npz_safely, npz_keys

INSTANCE_MASK_KEY = "masks"
CONTACT_KEY = f"{INSTANCE_MASK_KEY}_contact_frames"
# why a run skips an instance (the pipeline's report and `permask inspect` say the same)
EMPTY_MASK = "mask is empty in every frame"
_META_KEYS = ("instance_id", "source_fingerprint", "source_path", "frame_indices", "camera_ids",
              "image_size")


# --------------------------------------------------------------------------- ids


def is_empty(mask: np.ndarray) -> bool:
    """True if the mask [V,T,Hm,Wm] (or any shape) has no pixel set."""
    return not np.asarray(mask).any()


# --------------------------------------------------------------------------- writing


def write_instance_npz(path: str | Path, scene: Scene, instance_id: str,
                       self_contained: bool = False) -> Path:
    """Write one instance of `scene` to a pickle-free NPZ (atomically).

    self_contained also stores rgbs/depths so the file is a complete one-instance scene.
    """
    if instance_id not in scene.masks:
        raise _unknown(instance_id, scene)
    return save_npz(path, **_instance_arrays(scene, instance_id, self_contained))


def split_scene(scene: Scene, out_dir: str | Path, base: str,
                instance_ids: Iterable[str] | None = None,
                self_contained: bool = False) -> dict[str, Path]:
    """Write `{out_dir}/{base}_{instance}.npz` per instance; returns id -> path, natural order.
    (A run names its files through `permask.files.layout.OutputLayout` instead.)"""
    ids = sort_instance_ids(scene.instance_ids if instance_ids is None else instance_ids)
    out_dir = Path(out_dir)
    paths = {iid: out_dir / instance_file_name(base, iid) for iid in ids}
    clash = first_clash(paths)
    if clash:
        raise InstanceError(f"instance ids {clash[0]!a} and {clash[1]!a} map to the same file "
                            "name", file=str(paths[clash[0]]), key="instance id",
                            fix="rename one of them in the input file")
    for iid, path in paths.items():
        write_instance_npz(path, scene, iid, self_contained)
    return paths


def _unknown(instance_id: str, scene: Scene) -> InstanceError:
    return InstanceError(f"unknown instance id {instance_id!r}", file=scene.source or None,
                         fix=f"choose from {scene.instance_ids}")


def _instance_arrays(scene: Scene, iid: str, self_contained: bool) -> dict[str, np.ndarray]:
    """key -> array for one instance file (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {
        f"{INSTANCE_MASK_KEY}/{iid}": np.asarray(scene.masks[iid], bool),
        "intrs": scene.intrs,
        "extrs": scene.extrs,
        "camera_ids": np.array(scene.camera_ids, dtype=np.str_),
        "frame_indices": _frame_indices(scene),
        "image_size": np.array(scene.image_size, np.int64),
        "instance_id": np.array(iid, dtype=np.str_),
        "source_fingerprint": np.array(scene.fingerprint, dtype=np.str_),
        "source_path": np.array(scene.source, dtype=np.str_),
    }
    contact = scene.contact_frames.get(iid)
    if contact:
        arrays[f"{CONTACT_KEY}/{iid}"] = np.array(
            [contact.get(cam, -1) for cam in scene.camera_ids], np.int64)
    if isinstance(scene.query_points, dict) and iid in scene.query_points:
        arrays[f"query_points/{iid}"] = np.asarray(scene.query_points[iid], np.float32)
    gt = scene.ground_truth
    if gt is not None and gt.pose_index(iid) is not None:
        arrays["gt_object_poses"] = gt.object_poses[gt.pose_index(iid)][None]
        arrays["gt_instance_ids"] = np.array([iid], dtype=np.str_)
    truth = gt.point_tracks if gt is not None else None
    if truth is not None and truth.of_instance(iid).size:
        own = truth.of_instance(iid)
        arrays.update(gt_tracks=truth.tracks[own], gt_visibility=truth.visible[own],
                      gt_track_instance=truth.instance[own],
                      gt_query_points=truth.query_points[own])
    if self_contained:
        arrays["rgbs"], arrays["depths"] = scene.rgbs, scene.depths
        if scene.timestamps is not None and not np.asarray(scene.timestamps).dtype.hasobject:
            arrays["timestamps"] = np.asarray(scene.timestamps)
    return arrays


def _frame_indices(scene: Scene) -> np.ndarray:
    if scene.frame_indices is None:
        return np.arange(scene.num_frames, dtype=np.int64)
    return np.asarray(scene.frame_indices, np.int64)


# --------------------------------------------------------------------------- reading


def read_instance_masks(paths_or_dir: str | Path | Iterable[str | Path], base: str | None = None,
                        expected_fingerprint: str | None = None, *,
                        scene: Scene | None = None) -> dict[str, np.ndarray]:
    """Masks of previously written instance files -> {instance_id: [V,T,Hm,Wm] bool}, natural order.

    paths_or_dir: a folder (every `{base}_*.npz` instance file in it, or every instance file when
    base is None; other NPZs such as `*_query.npz` are skipped) or a list of files.
    expected_fingerprint (default: `scene.fingerprint`): refuse files split from another source.
    scene: also check views, frames, frame indices, camera ids and resolution against it.
    Raises InstanceError when nothing is found, a fingerprint or a shape does not match.
    """
    expected = expected_fingerprint or (scene.fingerprint if scene is not None else None)
    files = instance_files(paths_or_dir, base)
    masks: dict[str, np.ndarray] = {}
    shape: tuple[int, ...] | None = None
    for path in files:
        iid, mask = _read_one(path, expected, scene)
        if iid in masks:
            raise InstanceError(f"instance {iid!r} appears in more than one file", file=str(path))
        if shape is not None and mask.shape != shape:
            raise InstanceError(f"mask shape {list(mask.shape)} differs from the other "
                                f"instance files' {list(shape)}", file=str(path))
        masks[iid], shape = mask, mask.shape
    if not masks:
        raise InstanceError(f"no instance files found in {paths_or_dir}"
                            + (f" for base {base!r}" if base else ""),
                            fix="check split.reuse_dir, or split again")
    return {iid: masks[iid] for iid in sort_instance_ids(masks)}


def instance_files(paths_or_dir: Any, base: str | None = None) -> list[Path]:
    """Candidate files: a list as given, or a folder's instance NPZs (those holding an
    `instance_id` and a `masks/<id>` member, named `{base}_{that id}.npz` when base is given;
    query files beside them are skipped)."""
    if not isinstance(paths_or_dir, (str, os.PathLike)):
        return [Path(p) for p in paths_or_dir]
    folder = Path(paths_or_dir)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise InstanceError("instance folder not found", file=str(folder))
    pattern = f"{glob.escape(base)}_*.npz" if base else "*.npz"
    files = [p for p in sorted(folder.glob(pattern)) if _is_instance_file(npz_keys(p))]
    if base is None:
        return files
    return [p for p in files if p.name == instance_file_name(base, _stored_id(p))]


def _is_instance_file(keys: Iterable[str]) -> bool:
    keys = list(keys)
    return "instance_id" in keys and any(k.startswith(INSTANCE_MASK_KEY + "/") for k in keys)


def _stored_id(path: Path) -> str:
    return str(load_npz_safely(path, keys=["instance_id"])["instance_id"])


def _read_one(path: Path, expected: str | None, scene: Scene | None) -> tuple[str, np.ndarray]:
    """Read and check one instance file -> (instance id, mask)."""
    meta = load_npz_safely(path, keys=_META_KEYS)
    if "instance_id" not in meta:
        raise InstanceError("not an instance file (no 'instance_id' key)", file=str(path))
    iid = str(meta["instance_id"])
    found = str(meta.get("source_fingerprint", ""))
    if expected and found != expected:
        raise InstanceError(f"was split from a different source (fingerprint {found or 'none'}, "
                            f"expected {expected})", file=str(path),
                            fix="split again, or point split.reuse_dir at the matching folder")
    key = f"{INSTANCE_MASK_KEY}/{iid}"
    mask = load_npz_safely(path, keys=[key]).get(key)
    if mask is None or mask.ndim != 4:
        raise InstanceError(f"no [V,T,Hm,Wm] mask under '{key}'", file=str(path))
    if scene is not None:
        _check_against_scene(path, meta, mask, scene)
    return iid, mask.astype(bool, copy=False)


def _check_against_scene(path: Path, meta: dict[str, Any], mask: np.ndarray, scene: Scene) -> None:
    """Views, frames, frame indices, camera ids and mask resolution must match the scene."""

    V, T = scene.num_views, scene.num_frames
    problem = None
    if mask.shape[:2] != (V, T):
        problem = f"mask has V,T = {mask.shape[:2]}, the scene has {(V, T)}"
    elif "frame_indices" in meta and not np.array_equal(meta["frame_indices"],
                                                        _frame_indices(scene)):
        problem = "frame indices differ from the scene's (another temporal stride?)"
    elif "camera_ids" in meta and list(map(str, np.ravel(meta["camera_ids"]))) != scene.camera_ids:
        problem = "camera ids differ from the scene's"
    elif "image_size" in meta and tuple(np.ravel(meta["image_size"])) != scene.image_size:
        problem = "image size differs from the scene's (another spatial downsample?)"
    elif mask_ratio(mask.shape[2:], scene.image_size) is None:
        problem = f"mask resolution {mask.shape[2:]} does not fit images {scene.image_size}"
    if problem:
        raise InstanceError(problem, file=str(path), fix="split again with the current settings")


# --------------------------------------------------------------------------- verification


def verify_instance_npz(path: str | Path) -> list[str]:
    """Problems of an instance file, one line each; an empty list means it is usable."""
    path = Path(path)
    try:
        data = load_npz_safely(path)
    except PermaskError as err:
        return [str(err)]
    missing = [k for k in ("instance_id", "camera_ids", "intrs", "extrs", "source_fingerprint")
               if k not in data]
    if missing:
        return [f"{path}: missing key(s) {', '.join(missing)}"]
    iid = str(data["instance_id"])
    key = f"{INSTANCE_MASK_KEY}/{iid}"
    others = [k for k in data if k.startswith(f"{INSTANCE_MASK_KEY}/") and k != key]
    problems = [f"{path}: also holds masks of other instances: {others}"] if others else []
    if key not in data:
        return problems + [f"{path}: no mask under '{key}'"]
    problems += _mask_problems(path, key, data)
    if not problems and "rgbs" in data:
        problems += _scene_problems(path, data)
    return problems


def _mask_problems(path: Path, key: str, data: dict[str, Any]) -> list[str]:
    mask, intrs = np.asarray(data[key]), np.asarray(data["intrs"])
    V = len(np.ravel(data["camera_ids"]))
    if mask.ndim != 4:
        return [f"{path}: '{key}' has shape {list(mask.shape)}, expected [V,T,Hm,Wm]"]
    problems = []
    if mask.dtype != bool:
        problems.append(f"{path}: '{key}' has dtype {mask.dtype}, expected bool")
    if mask.shape[0] != V or intrs.ndim != 4 or intrs.shape[0] != V:
        problems.append(f"{path}: views disagree (mask V={mask.shape[0]}, camera_ids V={V}, "
                        f"intrs shape {list(intrs.shape)})")
    elif intrs.shape[1] != mask.shape[1]:
        problems.append(f"{path}: frames disagree (mask T={mask.shape[1]}, "
                        f"intrs T={intrs.shape[1]})")
    if is_empty(mask):
        problems.append(f"{path}: '{key}' is empty (no pixel in any view or frame)")
    return problems


def _scene_problems(path: Path, data: dict[str, Any]) -> list[str]:
    """A self-contained file must load as a one-instance scene."""

    try:
        scene_from_arrays(data, str(path), INSTANCE_MASK_KEY)
    except PermaskError as err:
        return [str(err)]
    return []
