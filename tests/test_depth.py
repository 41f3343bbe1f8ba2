"""The depth group: hole filling, constant depth, learned estimators (stand-ins), the cache,
and the Hydra configs."""

import importlib.util
import json
import sys
import time

import numpy as np
import pytest
from hydra.utils import instantiate

from permask.data import Scene
from permask.depth.align import align_to_depth, fit_scale_shift, scale_from_cameras
from permask.depth.cache import DepthCache, cache_key
from permask.depth.constant import ConstantDepth
from permask.depth.filled import FilledDepth, fill_depth_holes
from permask.depth.learned.depth_anything import DepthAnythingV2Depth
from permask.depth.learned.moge import MoGeDepth
from permask.depth.learned.vggt import VGGTDepth
from permask.errors import ConfigError, DepthError, PermaskError
from permask.geometry import project, tracks_2d, unproject
from permask.files.atomic import save_npz
from permask.inputs.load import load_scene

from tests.helpers import ROOT
from tests.helpers.runs import compose
from tests.helpers.scenes import look_at_extrinsic, plane_scene

FIXTURES = ROOT / "tests" / "fixtures"


# ----------------------------------------------------------------------------- hole filling

def step_depth(H=40, W=60, edge=30, near=1.0, far=2.0):
    """Fronto-parallel step: columns < edge at `near`, the rest at `far`."""
    row = np.where(np.arange(W) < edge, near, far).astype(np.float32)
    return np.repeat(row[None, :], H, axis=0)


def test_fill_holes_in_flat_region_with_the_right_value():
    d = np.full((40, 50), 2.0, np.float32)
    d[10:15, 10:16] = 0  # a 5 x 6 hole
    d[30, 30] = 0
    filled, was_filled = fill_depth_holes(d)
    assert was_filled[10:15, 10:16].all() and was_filled[30, 30]
    np.testing.assert_allclose(filled, 2.0, rtol=1e-6)
    assert was_filled.sum() == 31


def test_fill_slanted_plane_interpolates():
    H, W = 40, 60
    d = (1.0 + 0.01 * np.arange(W)[None, :] + 0.005 * np.arange(H)[:, None]).astype(np.float32)
    rng = np.random.default_rng(1)
    sparse = np.where(rng.random(d.shape) < 0.4, d, 0).astype(np.float32)
    filled, was_filled = fill_depth_holes(sparse)
    assert was_filled.sum() > 0.8 * (sparse == 0).sum()
    np.testing.assert_allclose(filled[was_filled], d[was_filled], atol=0.02)


def test_hole_band_straddling_a_step_edge_stays_unfilled():
    d = step_depth()
    d[:, 25:36] = 0  # 11 columns of holes, the edge (column 30) in the middle
    filled, was_filled = fill_depth_holes(d, max_radius=4)
    assert not was_filled[:, 25:36].any()
    assert (filled[:, 25:36] == 0).all()


def test_narrow_hole_at_a_step_edge_never_mixes_the_sides():
    d = step_depth()
    d[:, 29:31] = 0  # the two columns either side of the edge
    d[10:16, 20:24] = 0  # a hole inside the near side, away from the edge
    filled, was_filled = fill_depth_holes(d, max_radius=4)
    assert not was_filled[:, 29:31].any()
    np.testing.assert_allclose(filled[10:16, 20:24], 1.0)


def test_small_hole_across_an_edge_fills_only_with_its_own_side():
    truth = step_depth()
    d = truth.copy()
    d[15:21, 27:33] = 0  # a 6 x 6 hole centred on the edge
    filled, was_filled = fill_depth_holes(d, max_radius=4)
    # whatever was filled took the value of its own side; nothing between the two depths
    np.testing.assert_array_equal(filled[was_filled], truth[was_filled])
    assert not was_filled[15:21, 29:31].any()  # the columns next to the edge see both sides


def test_holes_at_the_border_are_not_extrapolated():
    d = np.full((30, 30), 1.5, np.float32)
    d[:, :4] = 0  # a hole band along the left border
    _, was_filled = fill_depth_holes(d, max_radius=3)
    assert not was_filled[:, :4].any()


def test_fill_is_fast_on_a_demo_sized_scene():
    rng = np.random.default_rng(0)
    d = (rng.random((4, 40, 192, 256)) < 0.3) * np.float32(1.5)
    t0 = time.perf_counter()
    filled, was_filled = fill_depth_holes(d.astype(np.float32))
    assert time.perf_counter() - t0 < 2.0
    assert was_filled.mean() > 0.6
    np.testing.assert_allclose(filled[was_filled], 1.5, rtol=1e-6)


def test_gt_filled_keeps_a_validity_map(tmp_path):
    scene = plane_scene(V=2, T=2)
    rng = np.random.default_rng(0)
    keep = rng.random(scene.depths.shape) < 0.4
    scene.depths = np.where(keep, scene.depths, 0).astype(np.float32)
    out = FilledDepth(cache_dir=str(tmp_path)).apply(scene)
    assert out.depth_measured is not None and out.depth_measured.dtype == bool
    np.testing.assert_array_equal(out.depth_measured, keep)
    np.testing.assert_array_equal(out.depths[keep], scene.depths[keep])  # measurements untouched
    assert ((out.depths > 0) & ~keep).sum() > 0.8 * (~keep).sum()
    np.testing.assert_allclose(out.depths[out.depths > 0], 2.0, rtol=1e-6)
    assert scene.depth_measured is None and (scene.depths[~keep] == 0).all()  # input not modified
    assert out.rgbs is scene.rgbs  # shared, not copied


# ----------------------------------------------------------------------------- constant depth

def test_constant_depth_replaces_depth_and_is_not_metric():
    scene = plane_scene()
    est = ConstantDepth(distance=3.5)
    out = est.apply(scene)
    assert est.metric is False and est.needs_file_depth is False
    assert (out.depths == 3.5).all() and not out.depth_measured.any()
    with pytest.raises(ConfigError):
        ConstantDepth(distance=0)


def test_constant_depth_2d_round_trip_is_exact():
    V, T, H, W = 2, 4, 30, 40
    scene = plane_scene(V=V, T=T, H=H, W=W)
    # moving, non-trivial cameras per view and frame
    scene.extrs = np.stack([[look_at_extrinsic((1.0 + 0.1 * t, -2.0 + v, 1.5)) for t in range(T)]
                            for v in range(V)]).astype(np.float32)
    K = np.array([[55.0, 0.3, 19.2], [0, 57.0, 14.1], [0, 0, 1]])
    scene.intrs = np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32).copy()
    scene = ConstantDepth(distance=1.7).apply(scene)
    rng = np.random.default_rng(3)
    N = 25
    views = rng.integers(0, V, N)
    pixels = rng.uniform([0, 0], [W - 1, H - 1], (T, N, 2))
    tracks = np.zeros((T, N, 3))
    for t in range(T):
        for n in range(N):
            v = views[n]
            tracks[t, n] = unproject(pixels[t, n][None], scene.depths[v, t, 0, 0][None],
                                     scene.intrs[v, t], scene.extrs[v, t])[0]
    tracks[0, 0] = np.nan
    uv = tracks_2d(scene, tracks, views)
    assert uv.shape == (T, N, 2)
    assert np.isnan(uv[0, 0]).all()
    ok = ~np.isnan(tracks[..., 0])
    # exact up to float32 cameras (R^T of a float32 rotation is not exactly its inverse)
    np.testing.assert_allclose(uv[ok], pixels[ok], atol=1e-5)
    # agrees with geometry.project, the one convention
    ref, z = project(tracks[2], scene.intrs[views[0], 2], scene.extrs[views[0], 2])
    np.testing.assert_allclose(uv[2, views == views[0]], ref[views == views[0]], atol=1e-6)
    np.testing.assert_allclose(z[views == views[0]], 1.7, rtol=1e-5)


def test_tracks_2d_invalid_view_or_behind_camera_is_nan():
    scene = plane_scene(V=1, T=2)
    tracks = np.array([[[0, 0, 2.0], [0, 0, -1.0]], [[0, 0, 2.0], [0, 0, 2.0]]])
    uv = tracks_2d(scene, tracks, np.array([0, 0]))
    assert np.isfinite(uv[0, 0]).all() and np.isnan(uv[0, 1]).all()
    assert np.isnan(tracks_2d(scene, tracks, np.array([-1, 5]))).all()


# ----------------------------------------------------------------------------- the cache

def sparse_scene(seed=0):
    scene = plane_scene(V=2, T=2)
    rng = np.random.default_rng(seed)
    keep = rng.random(scene.depths.shape) < 0.4
    scene.depths = np.where(keep, scene.depths, 0).astype(np.float32)
    return scene


def test_cache_hit_miss_and_invalidation(tmp_path):
    scene = sparse_scene()
    first = FilledDepth(cache_dir=str(tmp_path))
    a = first.apply(scene)
    assert first.last_cache_hit is False
    again = FilledDepth(cache_dir=str(tmp_path))
    b = again.apply(scene)
    assert again.last_cache_hit is True
    np.testing.assert_array_equal(a.depths, b.depths)
    np.testing.assert_array_equal(a.depth_measured, b.depth_measured)
    other_param = FilledDepth(cache_dir=str(tmp_path), max_radius=2)
    other_param.apply(scene)
    assert other_param.last_cache_hit is False
    edited = sparse_scene()
    edited.depths[0, 0, 5, 5] = 1.234  # one pixel of content changed
    changed = FilledDepth(cache_dir=str(tmp_path))
    changed.apply(edited)
    assert changed.last_cache_hit is False
    off = FilledDepth(cache_dir=str(tmp_path), cache=False)
    off.apply(scene)
    assert off.last_cache_hit is False
    assert len(list((tmp_path / "gt_filled").glob("*.npz"))) == 3


def test_cache_is_keyed_by_content_not_file_name(tmp_path, small_demo_path):
    import shutil
    copy = tmp_path / "renamed_recording.npz"
    shutil.copy(small_demo_path, copy)
    cache_dir = tmp_path / "cache"
    one = FilledDepth(cache_dir=str(cache_dir))
    one.apply(load_scene(small_demo_path, "sam2_masks"))
    two = FilledDepth(cache_dir=str(cache_dir))
    two.apply(load_scene(copy, "sam2_masks"))
    assert one.last_cache_hit is False and two.last_cache_hit is True


def test_cache_unreadable_entry_is_a_miss_and_rewritten(tmp_path):
    cache = DepthCache(tmp_path)
    key = cache_key("x", 1, {"a": np.arange(3)}, {"p": 1})
    cache.path("x", key).parent.mkdir(parents=True)
    cache.path("x", key).write_bytes(b"not a zip")
    assert cache.load("x", key) is None
    cache.save("x", key, depth=np.ones(2, np.float32))
    np.testing.assert_array_equal(cache.load("x", key)["depth"], 1.0)
    assert not [p for p in cache.path("x", key).parent.iterdir() if p.name.startswith(".")]


def test_cache_key_depends_on_content_shape_dtype_and_params():
    a = np.zeros((2, 3), np.float32)
    base = cache_key("k", 1, {"d": a}, {"r": 1})
    assert base == cache_key("k", 1, {"d": a.copy()}, {"r": 1})
    assert base != cache_key("k", 1, {"d": a.reshape(3, 2)}, {"r": 1})
    assert base != cache_key("k", 1, {"d": a.astype(np.float64)}, {"r": 1})
    assert base != cache_key("k", 1, {"d": a}, {"r": 2})
    assert base != cache_key("k", 2, {"d": a}, {"r": 1})


def test_default_cache_dir_follows_permask_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PERMASK_CACHE_DIR", str(tmp_path))
    assert DepthCache().directory == tmp_path / "depth"


# ----------------------------------------------------------------------------- alignment

def test_align_scale_and_scale_shift_recover_the_truth():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.5, 3.0, (2, 3, 20, 30)).astype(np.float32)
    measured = rng.random(truth.shape) < 0.3
    scales = rng.uniform(0.2, 5.0, (2, 3))
    pred = truth / scales[:, :, None, None]
    aligned, fitted, _ = align_to_depth(pred, np.where(measured, truth, 0), measured, "scale")
    np.testing.assert_allclose(aligned, truth, rtol=1e-5)
    np.testing.assert_allclose(fitted, scales, rtol=1e-5)
    affine = (truth - 0.3) / 2.0
    affine[0, 0, :2] = 50.0  # outliers (a smeared edge)
    s, b = fit_scale_shift(affine[measured], truth[measured])
    assert abs(s - 2.0) < 1e-4 and abs(b - 0.3) < 1e-4


def test_align_falls_back_to_the_view_where_a_frame_has_no_depth():
    truth = np.full((1, 2, 10, 10), 2.0, np.float32)
    measured = np.zeros(truth.shape, bool)
    measured[0, 0] = True  # frame 1 has no measurement
    aligned, scales, _ = align_to_depth(truth / 4, truth * measured, measured, "scale")
    np.testing.assert_allclose(scales, 4.0)
    np.testing.assert_allclose(aligned, 2.0)
    with pytest.raises(DepthError):
        align_to_depth(truth, truth * 0, measured & False, "scale")


def test_scale_from_cameras():
    rng = np.random.default_rng(0)
    file_c = rng.normal(size=(5, 3))
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    pred_c = (file_c @ R.T) * 0.25 + 3.0
    assert abs(scale_from_cameras(pred_c, file_c) - 4.0) < 1e-9
    assert scale_from_cameras(pred_c[:1].repeat(3, 0), file_c[:1].repeat(3, 0)) is None


# ----------------------------------------------------------------------------- learned stand-ins

STANDIN_PACKAGES = ("moge", "vggt", "depth_anything_v2")


@pytest.fixture(autouse=True)
def forget_standins():
    """Stand-in packages must not leak into other tests (or into each other)."""
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in STANDIN_PACKAGES]:
        del sys.modules[name]


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed: pip install torch==2.13.0")


def encoded_scene(V=2, T=3, H=56, W=518, density=0.3, seed=0):
    """A scene whose red channel encodes the true depth (red = depth * 100) and green channel the
    view (green = 40 * view), which the stand-ins decode. Two views 0.6 m apart. The file's depth
    is the truth with (1 - density) of it dropped. Returns (scene, true depth)."""
    rng = np.random.default_rng(seed)
    x = np.arange(W)[None, :]
    truth = np.empty((V, T, H, W), np.float32)
    for v in range(V):
        for t in range(T):
            base = np.where(x < W // 2, 100 + 20 * v + 5 * t, 180 + 3 * t)  # a step edge
            ramp = (np.arange(H)[:, None] // 8)  # small horizontal bands
            truth[v, t] = (base + ramp) / 100.0
    red = np.rint(truth * 100).astype(np.uint8)
    rgbs = np.zeros((V, T, H, W, 3), np.uint8)
    rgbs[..., 0] = red
    rgbs[..., 1] = (40 * np.arange(V))[:, None, None, None]
    rgbs[..., 2] = rng.integers(0, 255, (V, T, H, W))
    K = np.array([[300.0, 0, (W - 1) / 2], [0, 300.0, (H - 1) / 2], [0, 0, 1]])
    E = np.stack([look_at_extrinsic((0.6 * v, 0.0, -2.0), target=(0.3, 0, 0)) for v in range(V)])
    depths = np.where(rng.random(truth.shape) < density, truth, 0).astype(np.float32)
    intrs = np.broadcast_to(K, (V, T, 3, 3)).astype(np.float32)
    scene = Scene(rgbs=rgbs, depths=depths, intrs=intrs,
                  extrs=np.broadcast_to(E[:, None], (V, T, 3, 4)).astype(np.float32).copy(),
                  camera_ids=[f"cam_{v}" for v in range(V)], masks={}, source="<encoded>")
    return scene, truth


def write_scale(tmp_path, scale, name="model.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"scale": scale}))
    return str(path)


@needs_torch
def test_moge2_stand_in_is_aligned_to_metric_depth(tmp_path):
    scene, truth = encoded_scene()
    est = MoGeDepth(repo_dir=str(FIXTURES / "depth_moge"), checkpoint=write_scale(tmp_path, 0.37),
                    cache_dir=str(tmp_path / "cache"), batch_size=2)
    out = est.apply(scene)
    assert est.metric is True and est.alignment["mode"] == "scale"
    np.testing.assert_allclose(out.depths, truth, rtol=1e-5)
    np.testing.assert_allclose(est.alignment["scales"], 1 / 0.37, rtol=1e-5)
    np.testing.assert_array_equal(out.depth_measured, scene.depths > 0)
    fov = est.model.last_fov_x  # the file's field of view went to the model
    assert fov is not None and abs(float(fov[0]) - np.degrees(2 * np.arctan(518 / 600))) < 1e-3
    calls = est.model.calls
    again = MoGeDepth(repo_dir=str(FIXTURES / "depth_moge"), checkpoint=est.checkpoint,
                      cache_dir=str(tmp_path / "cache"), batch_size=2)
    np.testing.assert_allclose(again.apply(scene).depths, truth, rtol=1e-5)
    assert again.last_cache_hit is True and again._model is None  # not even loaded
    assert est.model.calls == calls


@needs_torch
def test_moge2_without_file_depth_uses_its_metric_output(tmp_path):
    scene, truth = encoded_scene()
    scene.depths[:] = 0
    est = MoGeDepth(repo_dir=str(FIXTURES / "depth_moge"), checkpoint=write_scale(tmp_path, 1.0),
                    cache=False)
    out = est.apply(scene)
    assert est.alignment["mode"] == "none" and est.metric is True
    np.testing.assert_allclose(out.depths, truth, rtol=1e-5)
    assert not out.depth_measured.any()


@needs_torch
def test_moge1_is_scale_invariant_and_needs_depth_or_align_none(tmp_path):
    scene, truth = encoded_scene()
    kwargs = dict(version=1, repo_dir=str(FIXTURES / "depth_moge"),
                  checkpoint=write_scale(tmp_path, 7.0), cache=False)
    est = MoGeDepth(**kwargs)
    np.testing.assert_allclose(est.apply(scene).depths, truth, rtol=1e-5)
    scene.depths[:] = 0
    with pytest.raises(DepthError, match="depth.align"):
        MoGeDepth(**kwargs).apply(scene)
    loose = MoGeDepth(align="none", **kwargs)
    loose.apply(scene)
    assert loose.metric is False


@needs_torch
def test_vggt_stand_in_is_scaled_by_the_file_cameras(tmp_path):
    scene, truth = encoded_scene(T=5)
    weights = tmp_path / "VGGT-1B"
    weights.mkdir()
    (weights / "config.json").write_text(json.dumps(
        {"scale": 0.123, "extrinsics": scene.extrs[:, 0].tolist()}))
    scene.depths[:] = 0  # no file depth at all: the cameras alone fix the scale
    est = VGGTDepth(repo_dir=str(FIXTURES / "depth_vggt"), checkpoint=str(weights),
                    frames_per_pass=2, cache_dir=str(tmp_path / "cache"))
    out = est.apply(scene)
    assert est.alignment["mode"] == "cameras" and est.metric is True
    assert est.model.calls == 3  # 5 frames in passes of 2
    np.testing.assert_allclose(est.alignment["scales"], 1 / 0.123, rtol=1e-5)
    np.testing.assert_allclose(out.depths, truth, rtol=1e-5)


@needs_torch
def test_vggt_with_one_static_camera_falls_back_to_file_depth(tmp_path):
    scene, truth = encoded_scene(V=1, T=3)
    weights = tmp_path / "VGGT-1B"
    weights.mkdir()
    (weights / "config.json").write_text(json.dumps(
        {"scale": 3.0, "extrinsics": scene.extrs[:, 0].tolist()}))
    est = VGGTDepth(repo_dir=str(FIXTURES / "depth_vggt"), checkpoint=str(weights), cache=False)
    out = est.apply(scene)
    assert est.alignment["mode"] == "scale"
    np.testing.assert_allclose(out.depths, truth, rtol=1e-5)
    scene.depths[:] = 0
    with pytest.raises(DepthError, match="depth.align"):
        VGGTDepth(repo_dir=str(FIXTURES / "depth_vggt"), checkpoint=str(weights),
                  cache=False).apply(scene)


@needs_torch
def test_depth_anything_stand_in_metric_with_scale_fix(tmp_path):
    import torch
    scene, truth = encoded_scene()
    weights = tmp_path / "depth_anything_v2_metric_hypersim_vitl.pth"
    torch.save({"scale": torch.tensor(1.3)}, weights)
    # the clone's root is accepted too: metric_depth/ is found inside it
    est = DepthAnythingV2Depth(repo_dir=str(FIXTURES / "depth_anything"), checkpoint=str(weights),
                               cache=False, keep_measured=False)
    out = est.apply(scene)
    np.testing.assert_allclose(out.depths, truth, rtol=1e-5)
    assert not out.depth_measured.any()  # keep_measured=False: every value is predicted
    raw = DepthAnythingV2Depth(repo_dir=str(FIXTURES / "depth_anything" / "metric_depth"),
                               checkpoint=str(weights), cache=False, align="none",
                               keep_measured=False)
    np.testing.assert_allclose(raw.apply(scene).depths, truth * 1.3, rtol=1e-5)
    assert raw.metric is True


@needs_torch
@pytest.mark.parametrize("make, key", [
    (lambda tmp: MoGeDepth(repo_dir=str(tmp / "no_clone"), cache=False), "depth.repo_dir"),
    (lambda tmp: MoGeDepth(repo_dir=str(FIXTURES / "depth_moge"),
                           checkpoint=str(tmp / "missing.pt"), cache=False), "depth.checkpoint"),
    (lambda tmp: VGGTDepth(repo_dir=str(tmp), cache=False), "depth.repo_dir"),
])
def test_missing_code_or_weights_is_a_one_line_depth_error(tmp_path, make, key):
    scene, _ = encoded_scene(T=1)
    with pytest.raises(DepthError) as info:
        make(tmp_path).apply(scene)
    text = str(info.value)
    assert isinstance(info.value, PermaskError) and "\n" not in text
    assert f"key '{key}'" in text and "fix:" in text and "https://" in text


@needs_torch
@pytest.mark.parametrize("make, key, name", [
    (lambda: MoGeDepth(repo_dir=str(FIXTURES / "depth_moge"), cache=False), "depth.checkpoint",
     "moge"),
    (lambda: DepthAnythingV2Depth(repo_dir=str(FIXTURES / "depth_anything"), cache=False),
     "depth.checkpoint", "depth_anything_v2"),
    (lambda: VGGTDepth(cache=False), "depth.repo_dir", "vggt"),
])
def test_unset_code_or_weights_without_network_is_one_line(make, key, name):
    """Nothing local and no network (tests/conftest.py): one line naming the key, where it
    would be stored and the command that fetches it."""
    from permask.errors import FetchError

    scene, _ = encoded_scene(T=1)
    with pytest.raises(FetchError) as info:
        make().apply(scene)
    text = str(info.value)
    assert "\n" not in text and f"key '{key}'" in text and "would be stored" in text
    assert f"permask fetch depth={name} --to DIR" in text


def test_bad_learned_settings_are_config_errors():
    with pytest.raises(ConfigError):
        MoGeDepth(align="cameras")
    with pytest.raises(ConfigError):
        MoGeDepth(version=3)
    with pytest.raises(ConfigError):
        VGGTDepth(resolution=500)


# ----------------------------------------------------------------------------- Hydra configs

def test_depth_overrides_are_typed():
    cfg = compose("depth=constant", "depth.distance=2.5")
    assert instantiate(cfg.depth).distance == 2.5
    cfg = compose("depth=vggt", "depth.checkpoint=/w/model.pt", "depth.repo_dir=/c/vggt",
                         "depth.frames_per_pass=4", "depth.align=cameras")
    assert cfg.depth.frames_per_pass == 4 and cfg.depth.checkpoint == "/w/model.pt"
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import ValidationError
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose("depth=gt_filled", "depth.max_radius=big")


def test_gt_filled_through_an_npz_round_trip(tmp_path, small_demo_scene):
    """The estimator works on what load_scene returns (the pipeline's input)."""
    scene = small_demo_scene
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random(scene.depths.shape) < 0.4, scene.depths, 0).astype(np.float32)
    path = save_npz(tmp_path / "sparse.npz", rgbs=scene.rgbs, depths=sparse, intrs=scene.intrs,
                    extrs=scene.extrs, **{f"sam2_masks/{k}": m for k, m in scene.masks.items()})
    loaded = load_scene(path, "sam2_masks")
    out = instantiate(compose("depth=gt_filled", f"depth.cache_dir={tmp_path}").depth
                      ).apply(loaded)
    filled = out.depths > 0
    assert filled.sum() > 1.5 * (sparse > 0).sum()
    dense = scene.depths
    err = np.abs(out.depths - dense)[filled & ~out.depth_measured & (dense > 0)]
    assert np.median(err) < 0.01 and np.mean(err > 0.10) < 0.005
