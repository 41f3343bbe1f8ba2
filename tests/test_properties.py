"""Property-based tests: geometry round trips and instance split/extract round trips."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from permask.geometry import project, unproject
from permask.instances import read_instance_masks, split_scene, write_instance_npz
from permask.inputs.load import load_scene
from tests.helpers.scenes import plane_scene

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def rotation(rx, ry, rz):
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


@settings(max_examples=200, deadline=None)
@given(angles=st.tuples(*[st.floats(-np.pi, np.pi)] * 3), t=st.tuples(finite, finite, finite),
       fx=st.floats(50, 2000), fy=st.floats(50, 2000), cx=st.floats(0, 1000), cy=st.floats(0, 1000),
       skew=st.floats(-5, 5),
       uv=hnp.arrays(np.float64, (8, 2), elements=st.floats(-100, 1100)),
       z=hnp.arrays(np.float64, 8, elements=st.floats(0.05, 100)))
def test_unproject_then_project_is_identity(angles, t, fx, fy, cx, cy, skew, uv, z):
    K = np.array([[fx, skew, cx], [0, fy, cy], [0, 0, 1]])
    E = np.concatenate([rotation(*angles), np.array(t)[:, None]], axis=1)
    world = unproject(uv, z, K, E)
    uv2, z2 = project(world, K, E)
    np.testing.assert_allclose(uv2, uv, atol=1e-6 * (1 + np.abs(uv).max()))
    np.testing.assert_allclose(z2, z, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), num_instances=st.integers(1, 4), mask_scale=st.sampled_from([1, 2]))
def test_split_then_read_back_gives_the_same_masks(data, num_instances, mask_scale):
    scene = plane_scene(V=2, T=3, H=8, W=10, mask_scale=mask_scale)
    shape = scene.masks["instance_0"].shape
    ids = data.draw(st.lists(st.from_regex(r"[a-z]{1,5}_[0-9]{1,3}", fullmatch=True),
                             min_size=num_instances, max_size=num_instances, unique=True))
    scene.masks = {iid: data.draw(hnp.arrays(bool, shape)) for iid in ids}
    with tempfile.TemporaryDirectory() as tmp:
        split_scene(scene, tmp, "base")
        back = read_instance_masks(tmp, base="base", scene=scene)
        assert set(back) == set(ids)
        for iid in ids:
            np.testing.assert_array_equal(back[iid], scene.masks[iid])
        # a self-contained instance file is a complete one-instance scene
        path = write_instance_npz(Path(tmp) / "one.npz", scene, ids[0], self_contained=True)
        one = load_scene(path, "masks", require_masks=False)
        assert list(one.masks) == [ids[0]]
        np.testing.assert_array_equal(one.masks[ids[0]], scene.masks[ids[0]])
        np.testing.assert_array_equal(one.rgbs, scene.rgbs)
        np.testing.assert_allclose(one.depths, scene.depths)


@settings(max_examples=100, deadline=None)
@given(angles=st.tuples(*[st.floats(-np.pi, np.pi)] * 3), t=st.tuples(finite, finite, finite),
       uv=hnp.arrays(np.float64, (6, 2), elements=st.floats(-100, 1100)),
       z=hnp.arrays(np.float64, 6, elements=st.floats(0.05, 100)))
def test_per_point_cameras_match_the_single_camera_functions(angles, t, uv, z):
    from permask.geometry import project_each, unproject_each
    K = np.array([[500.0, 0, 320], [0, 480, 240], [0, 0, 1]])
    E = np.concatenate([rotation(*angles), np.array(t)[:, None]], axis=1)
    Ks, Es = np.broadcast_to(K, (6, 3, 3)), np.broadcast_to(E, (6, 3, 4))
    world = unproject_each(uv, z, Ks, Es)
    np.testing.assert_allclose(world, unproject(uv, z, K, E), atol=1e-9 * (1 + np.abs(world).max()))
    uv2, z2 = project_each(world, Ks, Es)
    uv1, z1 = project(world, K, E)
    np.testing.assert_allclose(uv2, uv1, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(z2, z1, rtol=1e-9, atol=1e-9)
