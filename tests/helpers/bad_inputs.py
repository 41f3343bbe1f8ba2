"""Broken and hostile recordings, built on the fly: the corpus every reader of an input must
refuse with one line naming the file and key (`CASES`, `SPECIAL`), and a small scene whose masks
a test replaces (`with_masks`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from permask.demo.params import DemoParams
from permask.demo.scene import make_demo_scene
from tests import hostile

BASE = make_demo_scene(DemoParams(num_views=2, num_frames=6, height=32, width=40))
"""The good recording every corpus case breaks in one way."""


def obj(value):
    """A 0-d object array wrapping `value` (the pickled form)."""
    a = np.empty((), dtype=object)
    a[()] = value
    return a


def _masks():
    return dict(BASE["sam2_masks"].item())


def changed(**changes):
    arrays = dict(BASE)
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


def with_camera(key, fn):
    a = BASE[key].copy()
    fn(a)
    return changed(**{key: a})


class Evil:
    """Unpickling this would run a shell command that creates the canary file."""

    canary = ""

    def __reduce__(self):
        return (os.system, (f"touch {Evil.canary}",))


# name -> (arrays to save | callable(tmp_path) -> path, the key the message must name)
CASES = {
    "missing_rgbs": (changed(rgbs=None), "rgbs"),
    "missing_depths": (changed(depths=None), "depths"),
    "missing_intrs": (changed(intrs=None), "intrs"),
    "missing_extrs": (changed(extrs=None), "extrs"),
    "rgbs_wrong_rank": (changed(rgbs=BASE["rgbs"][0]), "rgbs"),
    "intrs_wrong_rank": (changed(intrs=BASE["intrs"][0, 0]), "intrs"),
    "depths_wrong_rank": (changed(depths=BASE["depths"][0]), "depths"),
    "views_disagree": (changed(extrs=BASE["extrs"][:1]), "extrs"),
    "frames_disagree": (changed(depths=BASE["depths"][:, :4]), "depths"),
    "mask_resolution_not_mappable": (
        changed(sam2_masks=obj({k: np.zeros((2, 6, 45, 51), bool) | True for k in _masks()})),
        "sam2_masks"),
    "nan_in_extrinsics": (with_camera("extrs", lambda a: a.__setitem__((0, 0, 0, 3), np.nan)), "extrs"),
    "inf_in_intrinsics": (with_camera("intrs", lambda a: a.__setitem__((1, 2, 0, 2), np.inf)), "intrs"),
    "nan_in_intrinsics": (with_camera("intrs", lambda a: a.__setitem__((0, 0, 0, 0), np.nan)), "intrs"),
    "extrinsics_4x4_not_ending_in_0001": (
        changed(extrs=np.concatenate([BASE["extrs"], np.broadcast_to(
            [[[[0.0, 0.0, 1.0, 1.0]]]], (*BASE["extrs"].shape[:2], 1, 4))], axis=2)), "extrs"),
    "singular_intrinsics": (with_camera("intrs", lambda a: a.__setitem__((0, 0, 0, 0), 0.0)), "intrs"),
    "all_invalid_depth": (changed(depths=np.zeros_like(BASE["depths"])), "depths"),
    "negative_depth": (with_camera("depths", lambda a: a.__setitem__((0, 0, 0, 5, 5), -1.0)), "depths"),
    "integer_depth_without_a_scale": (changed(depths=(BASE["depths"] * 1000).astype(np.uint16)),
                                      "depths"),
    "masks_with_no_instance": (changed(sam2_masks=obj({})), "sam2_masks"),
    "label_map_all_background": (changed(sam2_masks=np.zeros((2, 6, 32, 40), np.uint8)), "sam2_masks"),
    "only_instance_empty_everywhere": (
        changed(sam2_masks=obj({"instance_0": np.zeros((2, 6, 32, 40), bool)})), "sam2_masks"),
    "duplicate_ids_after_natural_sort": (
        changed(sam2_masks=obj({"instance_1": _masks()["instance_0"],
                                "instance_01": _masks()["instance_1"]})), "sam2_masks"),
    "contact_frame_beyond_video": (
        changed(sam2_contact_frames=obj({"instance_0": {"cam_00": 99, "cam_01": 1}})),
        "contact_frames"),
    "query_points_wrong_width": (changed(query_points=np.zeros((5, 3), np.float32)), "query_points"),
    "query_points_frame_not_an_index": (
        changed(query_points=np.array([[0.5, 0.0, 0.0, 1.0]], np.float32)), "query_points"),
    "query_points_outside_frames": (
        changed(query_points=np.array([[10, 0, 0, 1]], np.float32)), "query_points"),
    "mask_key_missing": (changed(sam2_masks=None, sam2_contact_frames=None), "sam2_masks"),
    "pickle_that_carries_code": (changed(sam2_masks=obj({"instance_0": Evil()})), "sam2_masks"),
}


def special_file(name, tmp_path: Path) -> Path:
    good = tmp_path / "good.npz"
    np.savez(good, **BASE)
    data = good.read_bytes()
    path = tmp_path / f"{name}.npz"
    if name == "truncated_zip":
        path.write_bytes(data[: len(data) // 2])
    elif name == "not_an_npz":
        path.write_text("rgbs,depths\n1,2\n")
    elif name == "empty_file":
        path.write_bytes(b"")
    elif name == "directory":
        path.mkdir()
    elif name == "missing_path":
        pass
    elif name == "unreadable":  # a symlink loop cannot be opened, not even by root
        path.symlink_to(path)
    return path


SPECIAL = ["truncated_zip", "not_an_npz", "empty_file", "directory", "missing_path", "unreadable"]


def write_case(name, tmp_path):
    """The corpus case `name` as an NPZ in tmp_path (a pickle's code would create CANARY there):
    (path, the key its one-line error must name)."""
    Evil.canary = str(tmp_path / "CANARY")
    arrays, key = CASES[name]
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    return path, key


# a small scene whose masks a test replaces

SMALL_SCENE = make_demo_scene(DemoParams(num_views=2, num_frames=5, height=32, width=40,
                                         num_objects=2))


def small_masks() -> dict:
    """The masks of SMALL_SCENE, instance id -> [V,T,H,W] bool."""
    return dict(SMALL_SCENE["sam2_masks"].item())


def with_masks(mapping: dict, **extra) -> dict:
    """SMALL_SCENE's arrays with the masks `mapping` (pickled) and `extra`."""
    arrays = {k: v for k, v in SMALL_SCENE.items() if k != "sam2_contact_frames"}
    arrays["sam2_masks"] = hostile.pickled_dict_member(mapping)
    arrays.update(extra)
    return arrays
