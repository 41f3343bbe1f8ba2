"""Loading and validating input NPZ files into a Scene."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from permask.errors import InputFileError, InputFormatError, PermaskError
from permask.geometry import unproject
from permask.inputs.annotations import contact_frame_keys
from permask.inputs.load import load_scene, scene_from_arrays
from permask.inputs.masks import mask_at_depth_resolution, mask_ratio

V, T, H, W = 2, 6, 12, 16
CAMS = ["cam_a", "cam_b"]
LABELS = (1, 2, 10)
IDS = [f"instance_{k}" for k in LABELS]  # natural order


def _rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _label_map(rng, shape) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    labels[..., 2:6, 3:8] = 1
    labels[..., 7:11, 1:5] = 2
    labels[..., 1:5, 10:15] = 10
    return np.where(rng.random(shape) < 0.1, 0, labels).astype(np.uint8)


def base_arrays(views: int = V, seed: int = 0) -> dict:
    """Canonical input: channel-last uint8 rgb, [V,T,H,W] depth, static [V,3,3]/[V,3,4] cameras,
    pickle-free masks, unicode camera ids, pickle-free contact frames."""
    rng = np.random.default_rng(seed)
    K = np.array([[20.0, 0, (W - 1) / 2], [0, 22.0, (H - 1) / 2], [0, 0, 1]])
    E = np.stack([np.hstack([_rotation_y(0.3 * v), [[0.1 * v], [0.0], [0.5]]])
                  for v in range(views)])
    labels = _label_map(rng, (views, T, H, W))
    arrays = {
        "rgbs": rng.integers(0, 256, (views, T, H, W, 3), dtype=np.uint8),
        "depths": rng.uniform(1.0, 3.0, (views, T, H, W)).astype(np.float32),
        "intrs": np.repeat(K[None], views, 0).astype(np.float32),
        "extrs": E.astype(np.float32),
        "camera_ids": np.array(CAMS[:views]),
        "labels": labels,
    }
    for k in LABELS:
        arrays[f"sam2_masks/instance_{k}"] = labels == k
    arrays["sam2_contact_frames/instance_2"] = np.array([3, -1][:views])
    return arrays


def _without_masks(arrays: dict) -> dict:
    return {k: v for k, v in arrays.items() if not k.startswith("sam2_masks/") and k != "labels"}


def save(tmp_path, arrays: dict, name: str = "scene.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def assert_same_scene(a, b):
    np.testing.assert_array_equal(a.rgbs, b.rgbs)
    np.testing.assert_array_equal(a.depths, b.depths)
    np.testing.assert_allclose(a.intrs, b.intrs, rtol=1e-6)
    np.testing.assert_allclose(a.extrs, b.extrs, atol=1e-6)
    assert a.camera_ids == b.camera_ids
    assert list(a.masks) == list(b.masks)
    for k in a.masks:
        assert a.masks[k].dtype == bool
        np.testing.assert_array_equal(a.masks[k], b.masks[k])
    assert a.contact_frames == b.contact_frames
    np.testing.assert_array_equal(a.frame_indices, b.frame_indices)


@pytest.fixture
def reference(tmp_path):
    return load_scene(save(tmp_path, base_arrays(), "ref.npz"))


# --------------------------------------------------------------------------- accepted forms


def _obj(value):
    box = np.empty((), dtype=object)
    box[()] = value
    return box


def _variant(name: str) -> dict:
    a = base_arrays()
    masks = {k: a.pop(f"sam2_masks/{k}") for k in IDS}
    contact = a.pop("sam2_contact_frames/instance_2")
    if name == "rgb_channel_first":
        a["rgbs"] = a["rgbs"].transpose(0, 1, 4, 2, 3).copy()
    elif name == "rgb_float01":
        a["rgbs"] = a["rgbs"].astype(np.float32) / 255.0
    elif name == "rgb_float255":
        a["rgbs"] = a["rgbs"].astype(np.float64)
    elif name == "depth_5d":
        a["depths"] = a["depths"][:, :, None]
    elif name == "cams_per_frame":
        a["intrs"] = np.repeat(a["intrs"][:, None], T, 1)
        a["extrs"] = np.repeat(a["extrs"][:, None], T, 1)
    elif name == "extr_4x4":
        a["extrs"] = np.concatenate([a["extrs"], np.tile([[[0, 0, 0, 1]]], (V, 1, 1))], 1)
    elif name == "extr_4x4_per_frame":
        e4 = np.concatenate([a["extrs"], np.tile([[[0, 0, 0, 1]]], (V, 1, 1))], 1)
        a["extrs"] = np.repeat(e4[:, None], T, 1)
    elif name == "camera_ids_object":
        a["camera_ids"] = np.array(CAMS, dtype=object)
    elif name == "camera_ids_pickled_list":
        a["camera_ids"] = _obj(list(CAMS))
    elif name == "camera_ids_bytes":
        a["camera_ids"] = np.array([c.encode() for c in CAMS])
    elif name == "intr_unnormalised":
        a["intrs"] = a["intrs"] * 2.0
    if name == "masks_pickled_dict":
        a["sam2_masks"] = _obj({k: m.astype(np.uint8) for k, m in masks.items()})
        a["sam2_contact_frames"] = _obj({"instance_2": {"cam_a": 3}})
    elif name == "masks_label_map":
        a["sam2_masks"] = a["labels"]
        a["sam2_masks_contact_frames"] = _obj({"instance_2": {"cam_a": np.int64(3), "cam_b": None}})
    elif name == "masks_5d":
        for k, m in masks.items():
            a[f"sam2_masks/{k}"] = m[:, :, None]
        a["sam2_contact_frames/instance_2"] = contact
    else:
        for k, m in masks.items():
            a[f"sam2_masks/{k}"] = m
        a["sam2_contact_frames/instance_2"] = contact
    return a


VARIANTS = ["rgb_channel_first", "rgb_float01", "rgb_float255", "depth_5d", "cams_per_frame",
            "extr_4x4", "extr_4x4_per_frame", "camera_ids_object", "camera_ids_pickled_list",
            "camera_ids_bytes", "intr_unnormalised", "masks_pickled_dict", "masks_label_map",
            "masks_5d"]


@pytest.mark.parametrize("name", VARIANTS)
def test_every_form_loads_to_the_same_scene(tmp_path, reference, name):
    scene = load_scene(save(tmp_path, _variant(name)))
    assert_same_scene(scene, reference)


def test_reference_scene_layout(reference):
    s = reference
    assert s.rgbs.shape == (V, T, H, W, 3) and s.rgbs.dtype == np.uint8
    assert s.depths.shape == (V, T, H, W) and s.depths.dtype == np.float32
    assert s.intrs.shape == (V, T, 3, 3) and s.extrs.shape == (V, T, 3, 4)
    assert s.intrs.dtype == np.float32 and s.extrs.dtype == np.float32
    assert s.camera_ids == CAMS and s.instance_ids == IDS
    assert s.contact_frames == {"instance_2": {"cam_a": 3}}
    assert s.query_points is None and s.ground_truth is None
    assert list(s.frame_indices) == list(range(T))


def test_default_camera_ids_and_no_masks_when_not_required(tmp_path):
    a = _without_masks(base_arrays())
    del a["camera_ids"], a["sam2_contact_frames/instance_2"]
    scene = load_scene(save(tmp_path, a), require_masks=False)
    assert scene.camera_ids == ["cam_00", "cam_01"] and scene.masks == {}


def test_monocular(tmp_path):
    a = base_arrays(views=1)
    a = {k: v for k, v in a.items() if not k.startswith("sam2_masks/")}
    a["sam2_masks"] = _obj({"instance_1": a["labels"][0] == 1})  # [T,Hm,Wm] form
    scene = load_scene(save(tmp_path, a))
    assert scene.num_views == 1 and scene.masks["instance_1"].shape == (1, T, H, W)
    assert scene.contact_frames == {"instance_2": {"cam_a": 3}}


def test_label_map_mask_key(tmp_path):
    a = _without_masks(base_arrays())
    a["masks"] = base_arrays()["labels"]
    scene = load_scene(save(tmp_path, a), mask_key="masks")
    assert scene.instance_ids == IDS
    np.testing.assert_array_equal(scene.masks["instance_10"], a["masks"] == 10)


def test_contact_frame_keys():
    assert contact_frame_keys("sam2_masks") == ["sam2_masks_contact_frames", "sam2_contact_frames"]
    assert contact_frame_keys("masks") == ["masks_contact_frames"]


def test_sparse_depth_kept(tmp_path):
    a = base_arrays()
    rng = np.random.default_rng(1)
    keep = rng.random(a["depths"].shape) < 0.03
    depths = np.where(keep, a["depths"], 0).astype(np.float32)
    depths[~keep & (rng.random(depths.shape) < 0.3)] = np.nan
    depths[0, 0, 0, 0] = np.inf
    a["depths"] = depths
    scene = load_scene(save(tmp_path, a))
    valid = np.isfinite(depths) & (depths > 0)
    np.testing.assert_array_equal(scene.depths > 0, valid)
    np.testing.assert_array_equal(scene.depths[valid], depths[valid])
    assert np.isfinite(scene.depths).all()


def test_millimetre_depth_with_its_scale_loads_as_metres(tmp_path, reference):
    a = base_arrays()
    a["depths"] = np.round(a["depths"] * 1000).astype(np.uint16)  # a depth camera's uint16 mm
    path = save(tmp_path, a)
    scene = load_scene(path, depth_scale=0.001)
    np.testing.assert_allclose(scene.depths, reference.depths, atol=5e-4)
    assert scene.depths.dtype == np.float32
    with pytest.raises(InputFormatError, match="input.depth_scale"):
        load_scene(path)  # integer depth has no unit of its own
    float_metres = load_scene(save(tmp_path, base_arrays(), "f.npz"), depth_scale=0.5)  # floats too
    np.testing.assert_allclose(float_metres.depths, reference.depths * 0.5, rtol=1e-6)


def test_ground_truth_and_timestamps(tmp_path):
    a = base_arrays()
    poses = np.tile(np.eye(4), (2, T, 1, 1))
    poses[:, :, 0, 3] = np.arange(T)
    a.update(gt_object_poses=poses, gt_instance_ids=np.array(["instance_1", "instance_2"]),
             timestamps=np.arange(T) * 0.1)
    scene = load_scene(save(tmp_path, a), temporal_stride=2)
    gt = scene.ground_truth
    assert gt.instance_ids == ["instance_1", "instance_2"] and gt.object_poses.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(gt.object_poses[0, :, 0, 3], [0, 2, 4])
    np.testing.assert_allclose(scene.timestamps, [0.0, 0.2, 0.4])


def test_query_points_forms(tmp_path):
    a = base_arrays()
    a["query_points"] = np.array([[0, 1, 2, 3], [5, 0, 0, 1]], np.float64)
    scene = load_scene(save(tmp_path, a))
    assert scene.query_points.dtype == np.float32 and scene.query_points.shape == (2, 4)
    b = base_arrays()
    b["query_points/instance_10"] = np.array([[1, 0, 0, 1]])
    b["query_points/instance_2"] = np.zeros((0, 4))
    scene = load_scene(save(tmp_path, b, "b.npz"))
    assert list(scene.query_points) == ["instance_2", "instance_10"]


# --------------------------------------------------------------------------- stride / downsample


def test_stride_math(tmp_path):
    a = base_arrays()
    a["query_points"] = np.array([[5, 0, 0, 1], [3, 0, 0, 1]], np.float32)
    scene = load_scene(save(tmp_path, a), temporal_stride=3)
    assert list(scene.frame_indices) == [0, 3]
    np.testing.assert_array_equal(scene.depths[:, 1], a["depths"][:, 3])
    np.testing.assert_array_equal(scene.masks["instance_1"][:, 1], a["sam2_masks/instance_1"][:, 3])
    assert list(scene.query_points[:, 0]) == [1, 1]  # 5/3 -> 2 clipped to 1; 3/3 -> 1
    assert scene.contact_frames == {"instance_2": {"cam_a": 1}}


@pytest.mark.parametrize("down", [2, 3])
def test_downsample_keeps_world_points(tmp_path, down):
    a = base_arrays()
    a["intrs"] = a["intrs"].copy()
    a["intrs"][:, 0, 1] = 0.7  # skew is scaled too
    full = load_scene(save(tmp_path, a))
    small = load_scene(save(tmp_path, a, "s.npz"), spatial_downsample=down)
    assert small.image_size == (-(-H // down), -(-W // down))
    for v in range(V):
        for j, i in [(0, 0), (1, 2), (small.image_size[0] - 1, small.image_size[1] - 1)]:
            z = small.depths[v, 2, j, i]
            assert z == full.depths[v, 2, j * down, i * down]
            p_small = unproject(np.array([[i, j]]), [z], small.intrs[v, 2], small.extrs[v, 2])
            p_full = unproject(np.array([[i * down, j * down]]), [z], full.intrs[v, 2],
                               full.extrs[v, 2])
            np.testing.assert_allclose(p_small, p_full, atol=1e-5)
    np.testing.assert_array_equal(small.masks["instance_2"],
                                  full.masks["instance_2"][:, :, ::down, ::down])


@pytest.mark.parametrize("ratio_kind", ["up", "down"])
def test_downsample_keeps_mask_ratio(tmp_path, ratio_kind):
    a = base_arrays()
    if ratio_kind == "up":
        a["sam2_masks/instance_1"] = np.repeat(np.repeat(a["sam2_masks/instance_1"], 2, 2), 2, 3)
    else:
        a["sam2_masks/instance_1"] = a["sam2_masks/instance_1"][:, :, ::2, ::2]
    del a["sam2_masks/instance_2"], a["sam2_masks/instance_10"]
    path = save(tmp_path, a)
    assert mask_ratio(load_scene(path).masks["instance_1"].shape[2:], (H, W)) == (ratio_kind, 2)
    scene = load_scene(path, spatial_downsample=5)
    assert mask_ratio(scene.masks["instance_1"].shape[2:], scene.image_size) == (ratio_kind, 2)


def test_mask_at_depth_resolution():
    m = np.zeros((4, 6), bool)
    m[0:2, 0:2] = True
    m[2:4, 2:4] = True
    m[3, 3] = False  # that cell is no longer whole
    np.testing.assert_array_equal(mask_at_depth_resolution(m, 2, 3),
                                  [[True, False, False], [False, False, False]])
    up = mask_at_depth_resolution(m, 8, 12)
    assert up.shape == (8, 12) and up[:4, :4].all() and up.sum() == 4 * m.sum()
    assert mask_at_depth_resolution(m, 4, 6) is m or np.array_equal(
        mask_at_depth_resolution(m, 4, 6), m)
    odd = mask_at_depth_resolution(np.ones((5, 7), bool), 3, 4)
    assert odd.shape == (3, 4) and odd.all()
    stack = mask_at_depth_resolution(np.stack([m, ~m]), 2, 3)
    assert stack.shape == (2, 2, 3)


# --------------------------------------------------------------------------- file handling


def test_input_file_untouched_and_fingerprint(tmp_path):
    path = save(tmp_path, _variant("masks_pickled_dict"))
    before, mtime = path.read_bytes(), os.stat(path).st_mtime_ns
    scene = load_scene(path, temporal_stride=2, spatial_downsample=2)
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == mtime
    assert scene.fingerprint == hashlib.sha256(before).hexdigest()[:16]
    assert scene.source == str(path)


def test_missing_file_is_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_scene(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- errors


def _edit(**changes):
    def apply(a):
        for key, value in changes.items():
            if value is None:
                a.pop(key, None)
            else:
                a[key] = value(a) if callable(value) else value
        return a
    return apply


def _nan_at(key, index):
    def f(a):
        x = a[key].astype(np.float64)
        x[index] = np.nan
        return x
    return f


def _set(key, index, value):
    def f(a):
        x = a[key].astype(np.float64)
        x[index] = value
        return x
    return f


ERROR_CASES = {
    "missing_rgbs": (_edit(rgbs=None), "rgbs", "missing"),
    "missing_depths": (_edit(depths=None), "depths", "missing"),
    "missing_intrs": (_edit(intrs=None), "intrs", "missing"),
    "missing_extrs": (_edit(extrs=None), "extrs", "missing"),
    "rgbs_rank": (_edit(rgbs=lambda a: a["rgbs"][0]), "rgbs", "expected shape"),
    "rgbs_size": (_edit(rgbs=lambda a: a["rgbs"][:, :, :-1]), "rgbs", "depth resolution"),
    "rgbs_object": (_edit(rgbs=_obj(["a", "b"])), "rgbs", "numeric"),
    "depths_rank": (_edit(depths=lambda a: a["depths"][0]), "depths", "expected shape"),
    "intrs_rank": (_edit(intrs=lambda a: a["intrs"][..., :2]), "intrs", "expected shape"),
    "extrs_rank": (_edit(extrs=lambda a: a["extrs"][..., :3]), "extrs", "expected shape"),
    "views_disagree": (_edit(intrs=lambda a: np.concatenate([a["intrs"]] * 2)), "intrs", "V=4"),
    "frames_disagree": (_edit(extrs=lambda a: np.repeat(a["extrs"][:, None], T + 1, 1)), "extrs",
                        "T=7"),
    "rgb_frames_disagree": (_edit(rgbs=lambda a: a["rgbs"][:, :-1]), "rgbs", "T=5"),
    "nan_intrs": (_edit(intrs=_nan_at("intrs", (0, 0, 2))), "intrs", "NaN"),
    "inf_extrs": (_edit(extrs=_set("extrs", (1, 0, 3), np.inf)), "extrs", "NaN or inf"),
    "zero_focal": (_edit(intrs=_set("intrs", (0, 0, 0), 0.0)), "intrs", "focal"),
    "negative_focal": (_edit(intrs=_set("intrs", (1, 1, 1), -5.0)), "intrs", "focal"),
    "singular_intrs": (_edit(intrs=_set("intrs", (0, 2, 2), 0.0)), "intrs", "last row"),
    "not_a_rotation": (_edit(extrs=_set("extrs", (0, 0, 0), 3.0)), "extrs", "rotation"),
    "all_invalid_depth": (_edit(depths=lambda a: np.full(a["depths"].shape, np.nan)), "depths",
                          "no valid depth"),
    "camera_ids_count": (_edit(camera_ids=np.array(["x"])), "camera_ids", "V=2"),
    "camera_ids_duplicate": (_edit(camera_ids=np.array(["x", "x"])), "camera_ids", "unique"),
    "mask_frames": (_edit(**{"sam2_masks/instance_2": lambda a: a["sam2_masks/instance_2"][:, :3]}),
                    "sam2_masks/instance_2", "T=3"),
    "mask_rank": (_edit(**{"sam2_masks/instance_2": lambda a: a["sam2_masks/instance_2"][0, 0]}),
                  "sam2_masks/instance_2", "expected shape"),
    "mask_ratio": (_edit(**{f"sam2_masks/{k}": np.zeros((V, T, H + 1, W + 1), bool) for k in IDS}),
                   "sam2_masks/instance_1", "integer multiple"),
    "mask_mixed_resolution": (_edit(**{"sam2_masks/instance_1": np.zeros((V, T, H * 2, W * 2))}),
                              "sam2_masks", "different mask resolutions"),
    "no_instance_label_map": (_edit(**{f"sam2_masks/{k}": None for k in IDS},
                                    sam2_masks=np.zeros((V, T, H, W), np.uint8)),
                              "sam2_masks", "no mask instance"),
    "no_instance_dict": (_edit(**{f"sam2_masks/{k}": None for k in IDS}, sam2_masks=_obj({})),
                         "sam2_masks", "no mask instance"),
    "mask_key_wrong_type": (_edit(sam2_masks=_obj(["a"])), "sam2_masks", "label map"),
    "float_label_map": (_edit(**{f"sam2_masks/{k}": None for k in IDS},
                              sam2_masks=np.zeros((V, T, H, W), np.float32)), "sam2_masks",
                        "label map"),
    "contact_out_of_range": (_edit(**{"sam2_contact_frames/instance_2": np.array([T, 0])}),
                             "sam2_contact_frames/instance_2", "outside"),
    "contact_dict_out_of_range": (_edit(sam2_contact_frames=_obj({"instance_1": {"cam_b": -3}})),
                                  "sam2_contact_frames/instance_1", "outside"),
    "contact_unknown_camera": (_edit(sam2_contact_frames=_obj({"instance_1": {"cam_z": 1}})),
                               "sam2_contact_frames/instance_1", "unknown camera"),
    "contact_not_dict": (_edit(sam2_contact_frames=np.arange(3)), "sam2_contact_frames", "dict"),
    "query_width": (_edit(query_points=np.zeros((3, 3))), "query_points", "[N,4]"),
    "query_t": (_edit(query_points=np.array([[T, 0, 0, 1.0]])), "query_points", "outside"),
    "query_member_t": (_edit(**{"query_points/instance_1": np.array([[-1, 0, 0, 1.0]])}),
                       "query_points/instance_1", "outside"),
    "gt_without_ids": (_edit(gt_object_poses=np.tile(np.eye(4), (1, T, 1, 1))), "gt_instance_ids",
                       "missing"),
    "gt_count": (_edit(gt_object_poses=np.tile(np.eye(4), (1, T, 1, 1)),
                       gt_instance_ids=np.array(["a", "b"])), "gt_instance_ids", "K=1"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_cases(tmp_path, case):
    edit, key, fragment = ERROR_CASES[case]
    path = save(tmp_path, edit(base_arrays()))
    with pytest.raises(InputFormatError) as info:
        load_scene(path)
    msg = str(info.value)
    assert str(path) in msg and f"'{key}'" in msg and fragment in msg, msg
    assert "\n" not in msg


def test_unknown_mask_key_lists_keys(tmp_path):
    path = save(tmp_path, base_arrays())
    with pytest.raises(InputFormatError) as info:
        load_scene(path, mask_key="hand_masks")
    msg = str(info.value)
    assert str(path) in msg and "'hand_masks'" in msg and "sam2_masks/*" in msg and "rgbs" in msg


@pytest.mark.parametrize("kw", [{"temporal_stride": 0}, {"spatial_downsample": 1.5},
                                {"temporal_stride": True}])
def test_bad_parameters(tmp_path, kw):
    with pytest.raises(InputFormatError, match=next(iter(kw))):
        load_scene(save(tmp_path, base_arrays()), **kw)


def test_downsample_too_large_for_mask_ratio(tmp_path):
    a = base_arrays()
    for k in IDS:
        a[f"sam2_masks/{k}"] = a[f"sam2_masks/{k}"][:, :, ::2, ::2]
    with pytest.raises(InputFormatError, match="too large"):
        load_scene(save(tmp_path, a), spatial_downsample=7)


def test_scene_from_arrays_in_memory():
    scene = scene_from_arrays(base_arrays(), "<memory>", fingerprint="abc")
    assert scene.source == "<memory>" and scene.fingerprint == "abc"
    with pytest.raises(PermaskError, match="<memory>"):
        scene_from_arrays(_edit(rgbs=None)(base_arrays()), "<memory>")
