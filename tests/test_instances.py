"""Instance ids, split / read back / verify of per-instance NPZ files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from permask.errors import InstanceError
from permask.ids import natural_key
from permask.instances import (INSTANCE_MASK_KEY, instance_file_name, is_empty,
                               read_instance_masks, sort_instance_ids, split_scene,
                               verify_instance_npz, write_instance_npz)
from permask.inputs.load import load_scene

V, T, H, W = 2, 6, 8, 10
IDS = ["instance_1", "instance_2", "instance_10"]


def make_file(tmp_path, name="scene.npz", frames=T, seed=0):
    """A small input NPZ (pickle-free masks at 2x depth resolution, contact frames, queries, GT)."""
    rng = np.random.default_rng(seed)
    K = np.array([[15.0, 0, 4.5], [0, 15.0, 3.5], [0, 0, 1]])
    E = np.tile(np.hstack([np.eye(3), [[0], [0], [1.0]]]), (V, 1, 1))
    arrays = {
        "rgbs": rng.integers(0, 256, (V, frames, H, W, 3), dtype=np.uint8),
        "depths": rng.uniform(0.5, 2.0, (V, frames, H, W)).astype(np.float32),
        "intrs": np.tile(K, (V, 1, 1)),
        "extrs": E,
        "camera_ids": np.array(["left", "right"]),
        "sam2_contact_frames/instance_2": np.array([1, -1]),
        "query_points/instance_10": np.array([[2, 0.1, 0.2, 1.0]]),
        "gt_object_poses": np.tile(np.eye(4), (2, frames, 1, 1)),
        "gt_instance_ids": np.array(["instance_2", "instance_1"]),
    }
    for iid in IDS:
        arrays[f"sam2_masks/{iid}"] = rng.random((V, frames, 2 * H, 2 * W)) < 0.3
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.fixture
def scene(tmp_path):
    return load_scene(make_file(tmp_path))


# --------------------------------------------------------------------------- ids


def test_natural_order():
    ids = ["instance_10", "instance_2", "instance_1", "b", "a10", "a9", "A1", "instance_02"]
    assert sort_instance_ids(ids) == ["A1", "a9", "a10", "b", "instance_1", "instance_02",
                                      "instance_2", "instance_10"]
    assert natural_key("x2") < natural_key("x10")


def test_instance_file_name():
    assert instance_file_name("scene", "instance_3") == "scene_instance_3.npz"
    # unsafe characters become '_' and a hash of the original keeps the name unique
    assert instance_file_name("scene", "hand/left hand") == "scene_hand_left_hand-17cdd37a.npz"
    assert instance_file_name("scene", "hand_left_hand") == "scene_hand_left_hand.npz"


def test_is_empty():
    assert is_empty(np.zeros((1, 2, 3, 3), bool)) and not is_empty(np.eye(3, dtype=bool))


def test_scene_masks_in_natural_order(scene):
    assert scene.instance_ids == IDS


# --------------------------------------------------------------------------- split / read back


def test_split_round_trip(tmp_path, scene):
    out = tmp_path / "instances"
    paths = split_scene(scene, out, "scene")
    assert list(paths) == IDS
    assert sorted(p.name for p in out.iterdir()) == sorted(f"scene_{i}.npz" for i in IDS)
    back = read_instance_masks(out, base="scene", scene=scene)
    assert list(back) == IDS
    for iid in IDS:
        assert back[iid].dtype == bool
        np.testing.assert_array_equal(back[iid], scene.masks[iid])


def test_instance_files_are_pickle_free_and_small(tmp_path, scene):
    path = write_instance_npz(tmp_path / "one.npz", scene, "instance_2")
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        for k in keys:
            npz[k]  # raises if anything is pickled
    assert {"masks/instance_2", "intrs", "extrs", "camera_ids", "instance_id",
            "source_fingerprint", "source_path", "masks_contact_frames/instance_2"} <= keys
    assert "rgbs" not in keys and "depths" not in keys
    assert not list(tmp_path.glob("*.tmp"))
    assert verify_instance_npz(path) == []


def test_self_contained_loads_as_scene(tmp_path, scene):
    path = write_instance_npz(tmp_path / "full.npz", scene, "instance_10", self_contained=True)
    one = load_scene(path, mask_key=INSTANCE_MASK_KEY)
    assert one.instance_ids == ["instance_10"]
    np.testing.assert_array_equal(one.rgbs, scene.rgbs)
    np.testing.assert_array_equal(one.depths, scene.depths)
    np.testing.assert_allclose(one.intrs, scene.intrs)
    np.testing.assert_array_equal(one.masks["instance_10"], scene.masks["instance_10"])
    np.testing.assert_array_equal(one.query_points["instance_10"],
                                  scene.query_points["instance_10"])
    assert one.camera_ids == scene.camera_ids
    assert verify_instance_npz(path) == []


def test_contact_frames_and_gt_survive(tmp_path, scene):
    path = write_instance_npz(tmp_path / "c.npz", scene, "instance_2", self_contained=True)
    one = load_scene(path, mask_key=INSTANCE_MASK_KEY)
    assert one.contact_frames == {"instance_2": {"left": 1}} == {
        "instance_2": scene.contact_frames["instance_2"]}
    assert one.ground_truth.instance_ids == ["instance_2"]


def test_strided_scene_round_trip(tmp_path):
    scene = load_scene(make_file(tmp_path), temporal_stride=2, spatial_downsample=3)
    paths = split_scene(scene, tmp_path / "out", "s", instance_ids=["instance_2"],
                        self_contained=True)
    one = load_scene(paths["instance_2"], mask_key=INSTANCE_MASK_KEY)
    np.testing.assert_array_equal(one.masks["instance_2"], scene.masks["instance_2"])
    np.testing.assert_allclose(one.intrs, scene.intrs)


def test_fingerprint_mismatch_refused(tmp_path, scene):
    split_scene(scene, tmp_path / "out", "scene")
    other = load_scene(make_file(tmp_path, "other.npz", seed=1))
    assert other.fingerprint != scene.fingerprint
    with pytest.raises(InstanceError, match="different source") as info:
        read_instance_masks(tmp_path / "out", base="scene", scene=other)
    assert "scene_instance_1.npz" in str(info.value)
    with pytest.raises(InstanceError, match="different source"):
        read_instance_masks(tmp_path / "out", expected_fingerprint=other.fingerprint)


def test_settings_mismatch_refused(tmp_path, scene):
    split_scene(scene, tmp_path / "out", "scene")
    strided = load_scene(scene.source, temporal_stride=2)
    with pytest.raises(InstanceError, match="V,T"):
        read_instance_masks(tmp_path / "out", scene=strided)
    smaller = load_scene(scene.source, spatial_downsample=2)
    with pytest.raises(InstanceError, match="image size"):
        read_instance_masks(tmp_path / "out", scene=smaller)


def test_same_length_other_stride_refused(tmp_path):
    """T=9: stride 3 and stride 4 both give 3 frames; frame_indices tell them apart."""
    path = make_file(tmp_path, frames=9)
    split_scene(load_scene(path, temporal_stride=3), tmp_path / "out", "scene")
    with pytest.raises(InstanceError, match="frame indices"):
        read_instance_masks(tmp_path / "out", scene=load_scene(path, temporal_stride=4))


def test_none_found(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstanceError, match="no instance files"):
        read_instance_masks(tmp_path / "empty")
    with pytest.raises(InstanceError, match="not found"):
        read_instance_masks(tmp_path / "missing")


def test_shape_mismatch_between_files(tmp_path):
    a = load_scene(make_file(tmp_path, "a.npz"))
    b = load_scene(make_file(tmp_path, "b.npz", frames=4))
    pa = write_instance_npz(tmp_path / "x_instance_1.npz", a, "instance_1")
    pb = write_instance_npz(tmp_path / "x_instance_2.npz", b, "instance_2")
    with pytest.raises(InstanceError, match="differs"):
        read_instance_masks([pa, pb])


def test_other_files_and_bases_are_skipped(tmp_path, scene):
    out = tmp_path / "out"
    split_scene(scene, out, "scene", instance_ids=["instance_1"])
    split_scene(scene, out, "scene_b", instance_ids=["instance_2"])
    np.savez(out / "scene_instance_1_query.npz", query_points=np.zeros((1, 4)))
    assert list(read_instance_masks(out, base="scene")) == ["instance_1"]
    assert list(read_instance_masks(out)) == ["instance_1", "instance_2"]


def test_duplicate_instance_refused(tmp_path, scene):
    write_instance_npz(tmp_path / "a.npz", scene, "instance_1")
    write_instance_npz(tmp_path / "b.npz", scene, "instance_1")
    with pytest.raises(InstanceError, match="more than one file"):
        read_instance_masks(tmp_path)


def test_unknown_instance(tmp_path, scene):
    with pytest.raises(InstanceError, match="unknown instance"):
        split_scene(scene, tmp_path, "s", instance_ids=["instance_99"])


# --------------------------------------------------------------------------- verify


def test_verify_reports_problems(tmp_path, scene):
    scene.masks["instance_1"] = np.zeros_like(scene.masks["instance_1"])
    path = write_instance_npz(tmp_path / "e.npz", scene, "instance_1")
    assert any("empty" in p for p in verify_instance_npz(path))
    bad = tmp_path / "bad.npz"
    np.savez(bad, instance_id=np.array("instance_1"), intrs=np.zeros((2, 3, 3)))
    assert "missing key" in verify_instance_npz(bad)[0]
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert len(verify_instance_npz(broken)) == 1
    with zipfile.ZipFile(tmp_path / "m.npz", "w") as zf:
        zf.writestr("x.npy", b"junk")
    assert "cannot read" in verify_instance_npz(tmp_path / "m.npz")[0]
