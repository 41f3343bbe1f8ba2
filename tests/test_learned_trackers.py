"""Learned trackers (mvtracker, cotracker3_offline/online, spatialtrackerv2) against stand-in
upstream repos in tests/fixtures, loaded through the real torch.hub / clone paths, no downloads.

The stand-ins follow the upstream entry points, signatures, shapes and conventions and produce
motion known in advance (read from their checkpoints), so the adapters must return the known
world tracks: a wrong axis order, extrinsic inversion or value range fails here.
"""

import json
import shutil
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from permask.errors import PermaskError, TrackerError  # noqa: E402
from tests.helpers import ROOT  # noqa: E402
from tests.helpers.overrides import quick  # noqa: E402
from tests.helpers.runners import run_cli  # noqa: E402
from tests.helpers.standins import (C_RIG, F, FIXTURES, R_RIG, SHIFT, VELOCITY, Z,  # noqa: E402
                                    check_convention, cotracker, expected_mvtracker,
                                    expected_translation, mvtracker, rig_queries, rig_scene,
                                    spatracker)


def constructions(package):
    return sys.modules[package].constructions if package in sys.modules else 0



def test_mvtracker_returns_the_known_rigid_motion(checkpoints):
    scene = rig_scene(T=16)
    q = rig_queries(scene, frame=5)
    res = mvtracker(checkpoints).track(scene, q)
    check_convention(res, q, scene.num_frames)
    np.testing.assert_allclose(res.tracks, expected_mvtracker(q, scene.num_frames), atol=1e-5)
    after = np.arange(16)[:, None] >= q.frame[None, :]
    assert res.visible[after].all() and res.scores is not None


def test_mvtracker_resized_input_and_short_clip(checkpoints):
    """Resizing (intrinsics follow pixel centres) and a clip shorter than the model's window
    (padded so the sliding window runs, then cut back) give the same tracks."""
    scene = rig_scene(T=4)
    q = rig_queries(scene, n=6, late=2, frame=3)
    res = mvtracker(checkpoints, input_size=[96, 128]).track(scene, q)
    check_convention(res, q, 4)
    np.testing.assert_allclose(res.tracks, expected_mvtracker(q, 4), atol=1e-5)


def test_resize_keeps_pixel_centres():
    """Resized intrinsics map a world point to u' = (u + 0.5) * w / W - 0.5 (pixel centres)."""
    from permask.geometry import project
    from permask.trackers.mvtracker import resize_views
    scene = rig_scene(T=2, H=48, W=64)
    _, depths, intrs = resize_views(scene, (96, 160))
    p = np.array([[0.3, -0.2, 0.1]]) + C_RIG + R_RIG.T @ np.array([0, 0, Z])
    uv, _ = project(p, scene.intrs[0, 0], scene.extrs[0, 0])
    uv2, _ = project(p, intrs[0, 0], scene.extrs[0, 0])
    np.testing.assert_allclose(uv2[0], (uv[0] + 0.5) * [160 / 64, 96 / 48] - 0.5, atol=1e-9)
    assert depths.shape == (2, 2, 96, 160) and set(np.unique(depths)) <= {0.0, Z}


def test_mvtracker_scene_normalisation_round_trips(checkpoints):
    scene = rig_scene(T=8)
    q = rig_queries(scene)
    res = mvtracker(checkpoints, checkpoint=str(checkpoints["mvtracker_static"]), scene_scale=0.25,
                    scene_translation=[3.0, -1.0, 2.0]).track(scene, q)
    np.testing.assert_allclose(res.tracks, expected_translation(q, 8, np.zeros(3)), atol=1e-5)


def test_mvtracker_wrong_extrinsics_are_caught_by_the_standin(checkpoints):
    """The stand-in rejects queries that are on no depth surface (a camera-to-world mix-up)."""
    scene = rig_scene(T=8)
    q = rig_queries(scene)
    from permask.geometry import camera_to_world_matrix
    inverted = rig_scene(T=8)
    inverted.extrs = np.stack([[camera_to_world_matrix(E)[:3] for E in row] for row in scene.extrs]
                              ).astype(np.float32)
    with pytest.raises(ValueError, match="depth surface"):
        mvtracker(checkpoints).track(inverted, q)


# ---------------------------------------------------------------------------- cotracker
def world_velocity_of_shift():
    """A pixel shift SHIFT per frame on the rig's plane (depth Z in every view) is this world
    motion per frame."""
    return R_RIG.T @ np.array([SHIFT[0] * Z / F, SHIFT[1] * Z / F, 0.0])


@pytest.mark.parametrize("online", [False, True])
def test_cotracker_lifts_the_known_2d_shift_to_world(checkpoints, online):
    """Two views, sparse depth (holes): each 2D track is lifted with the robust depth read and
    the views fused; the result is the world motion the pixel shift means."""
    T = 20 if online else 8  # online: several 16-frame windows with step 8
    scene = rig_scene(T=T, holes=0.3)
    q = rig_queries(scene, frame=3, box=(16, 32, 8, 30))  # stays in both images
    res = cotracker(checkpoints, online=online).track(scene, q)
    check_convention(res, q, T)
    expected = expected_translation(q, T, world_velocity_of_shift())
    after = ~np.isnan(expected[..., 0])
    np.testing.assert_allclose(res.tracks[after], expected[after], atol=1e-5)
    assert res.visible[after].all()
    assert (res.scores[after] == 1).all()  # both views measured and agreed


def test_cotracker_online_short_clip(checkpoints):
    """A clip no longer than the online step still gets one window."""
    scene = rig_scene(T=5)
    q = rig_queries(scene, n=6, late=2, frame=2)
    res = cotracker(checkpoints, online=True).track(scene, q)
    np.testing.assert_allclose(res.tracks, expected_translation(q, 5, world_velocity_of_shift()),
                               atol=1e-5)


def test_cotracker_runs_only_in_views_that_see_the_query(checkpoints):
    """A view whose camera looks elsewhere (its projection misses the image) is not used; the
    other view alone gives the same answer. views=source also works."""
    scene = rig_scene(T=6)
    scene.extrs[1, :, :3, 3] += np.array([50.0, 0, 0], np.float32)  # view 1 sees nothing of it
    q = rig_queries(scene)
    for views in ("visible", "source"):
        res = cotracker(checkpoints, views=views).track(scene, q)
        expected = expected_translation(q, 6, world_velocity_of_shift())
        np.testing.assert_allclose(res.tracks, expected, atol=1e-5)


@pytest.mark.parametrize("build, package, batch", [("mvtracker", "standin_mvtracker", 3),
                                                   ("cotracker", "standin_cotracker", 4)])
def test_model_loads_once_instances_independent_batches_merge(checkpoints, build, package, batch):
    make = {"mvtracker": mvtracker, "cotracker": cotracker}[build]
    scene = rig_scene(T=8)
    qa, qb = rig_queries(scene, seed=1), rig_queries(scene, "instance_1", seed=2)
    before = constructions(package)
    tracker = make(checkpoints)
    alone = tracker.track(scene, qa)
    tracker.track(scene, qb)
    again = tracker.track(scene, qa)
    assert constructions(package) == before + 1  # one model for every instance
    np.testing.assert_array_equal(alone.tracks, again.tracks)  # instances are independent
    np.testing.assert_array_equal(alone.visible, again.visible)
    batched = make(checkpoints, max_points_per_batch=batch).track(scene, qa)
    np.testing.assert_array_equal(batched.tracks, alone.tracks)
    np.testing.assert_array_equal(batched.visible, alone.visible)


# ---------------------------------------------------------------------------- spatialtracker
def test_spatialtracker_maps_camera_frame_tracks_to_world(checkpoints):
    scene = rig_scene(T=6, holes=0.0)
    q = rig_queries(scene, frame=2)
    tracker = spatracker(checkpoints)
    res = tracker.track(scene, q)
    check_convention(res, q, 6)
    np.testing.assert_allclose(res.tracks, expected_translation(q, 6, VELOCITY), atol=1e-5)
    mod = sys.modules["models.SpaTrackV2.models.predictor"]
    count = mod.constructions
    tracker.track(scene, rig_queries(scene, "instance_1", seed=3))
    assert mod.constructions == count and tracker._model.spatrack.track_num == 756
    batched = spatracker(checkpoints, max_points_per_batch=2).track(scene, q)
    np.testing.assert_array_equal(batched.tracks, res.tracks)


def moving_rig_scene(T=6):
    """The rig with every camera moving along its own x axis, 3 cm per frame."""
    scene = rig_scene(T=T, holes=0.0)
    for t in range(T):
        scene.extrs[:, t, :3, 3] -= np.float32(0.03 * t) * np.array([1.0, 0, 0], np.float32)
    return scene


def test_spatialtracker_predicted_poses_are_relative_to_the_first_camera(checkpoints):
    """Upstream returns c2w_traj relative to the clip's first camera; composed with the view's
    first pose, `camera_poses=predicted` gives the same world tracks as the calibrated poses."""
    scene = moving_rig_scene()
    q = rig_queries(scene, frame=2)
    expected = expected_translation(q, 6, VELOCITY)
    for poses in ("input", "predicted"):
        res = spatracker(checkpoints, camera_poses=poses).track(scene, q)
        np.testing.assert_allclose(res.tracks, expected, atol=1e-4, err_msg=poses)


def test_spatialtracker_rows_are_mapped_to_queries_by_identity(checkpoints, tmp_path):
    """When upstream reorders rows and replaces a dropped query's row with a duplicate, each
    query still gets its own track, and the dropped one none (never another point's)."""
    folder = tmp_path / "reordering"
    shutil.copytree(checkpoints["spatracker"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "reorder_rows": True}))
    scene = rig_scene(T=6, holes=0.0)
    q = rig_queries(scene, n=6, late=2, frame=2)
    res = spatracker(checkpoints, checkpoint=str(folder), views="source",
                     rigid_prior=False).track(scene, q)
    expected = expected_translation(q, 6, VELOCITY)
    after = np.arange(6)[:, None] > q.frame[None, :]
    ok = res.visible & after
    np.testing.assert_allclose(res.tracks[ok], expected[ok], atol=1e-5)
    assert not res.visible[:, 0][after[:, 0]].any()  # query 0's row was dropped upstream
    assert ok[:, 1:][after[:, 1:]].all()


def test_spatialtracker_match_rows():
    from permask.trackers.spatialtracker import match_rows
    q = np.array([[0, 10, 10], [1, 20, 20], [0, 30, 30]], np.float32)
    track2d = np.zeros((2, 3, 2))
    track2d[:, 0] = [30, 30]  # rows: query 2, query 1, query 1 (duplicate)
    track2d[:, 1] = [20, 20]
    track2d[:, 2] = [20.5, 20]
    np.testing.assert_array_equal(match_rows(track2d, q, 2.0), [-1, 1, 0])
    assert (match_rows(track2d[:, :0], q, 2.0) == -1).all()


def test_spatialtracker_device_cuda_without_cuda_is_one_line_before_any_import(checkpoints):
    """tracker.device=cuda on a machine without CUDA: a TrackerError naming tracker.device,
    before the upstream code is imported."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
        del sys.modules[name]
    tracker = spatracker(checkpoints, device="cuda")
    with pytest.raises(TrackerError) as info:
        tracker.load()
    text = one_line(info.value)
    assert "tracker.device" in text and "CUDA" in text
    assert "models.SpaTrackV2.models.predictor" not in sys.modules


def test_spatialtracker_runs_on_the_cpu_through_the_cuda_redirect(checkpoints):
    """The stand-in calls .cuda() like upstream; with device auto/cpu (no CUDA here) the adapter
    sends those calls to the CPU for the call only: afterwards .cuda() is torch's own again, and
    bf16 (the default) becomes fp32 on the CPU."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    scene = rig_scene(T=6, holes=0.0)
    q = rig_queries(scene, frame=2)
    tracker = spatracker(checkpoints, device="auto", precision="bf16")
    res = tracker.track(scene, q)
    assert tracker.device.type == "cpu"
    np.testing.assert_allclose(res.tracks, expected_translation(q, 6, VELOCITY), atol=1e-5)
    with pytest.raises((AssertionError, RuntimeError)):  # "Torch not compiled with CUDA"
        torch.zeros(1).cuda()


# ---------------------------------------------------------------------------- errors
def one_line(err: PermaskError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("make,kw,key", [
    (mvtracker, {"hub_repo": "/nonexistent/mvtracker"}, "tracker.hub_repo"),
    (mvtracker, {"checkpoint": "/nonexistent/mvtracker.pth"}, "tracker.checkpoint"),
    (cotracker, {"hub_repo": str(FIXTURES)}, "tracker.hub_repo"),  # a folder without hubconf.py
    (spatracker, {"checkpoint": "/nonexistent/SpatialTrackerV2-Offline"}, "tracker.checkpoint"),
])
def test_missing_local_code_or_weights_is_one_line_naming_the_key(checkpoints, make, kw, key):
    scene = rig_scene(T=4)
    tracker = make(checkpoints, **kw)
    with pytest.raises(TrackerError) as info:
        tracker.track(scene, rig_queries(scene, n=4, late=0))
    text = one_line(info.value)
    assert key in text and "tracker.hub_repo=" in text and "tracker.checkpoint=" in text
    assert ("git clone" in text and ("wget" in text or "huggingface-cli" in text))


@pytest.mark.parametrize("make,kw,key,name", [
    (mvtracker, {"checkpoint": None}, "tracker.checkpoint", "mvtracker"),
    (mvtracker, {"hub_repo": None}, "tracker.hub_repo", "mvtracker"),
    (cotracker, {"checkpoint": None}, "tracker.checkpoint", "cotracker3_offline"),
    (spatracker, {"hub_repo": None}, "tracker.hub_repo", "spatialtrackerv2"),
    (spatracker, {"checkpoint": None}, "tracker.checkpoint", "spatialtrackerv2"),
])
def test_unset_code_or_weights_without_network_is_one_line(checkpoints, make, kw, key, name):
    """Nothing local and no network (tests/conftest.py points the fetching at a closed port):
    one line naming the key, what is missing, where it would be stored and the fetch command."""
    from permask.errors import FetchError
    from permask.fetch.store import models_dir

    tracker = make(checkpoints, **kw)
    with pytest.raises(FetchError) as info:
        tracker.load()
    text = one_line(info.value)
    assert f"key '{key}'" in text and f"permask fetch tracker={name} --to DIR" in text
    assert f"would be stored" in text and str(models_dir()) in text


def test_checkpoint_of_another_model_is_rejected(checkpoints):
    tracker = cotracker(checkpoints, checkpoint=str(checkpoints["wrong"]))
    with pytest.raises(TrackerError, match="does not fit") as info:
        tracker.load()
    assert "tracker.checkpoint" in one_line(info.value)


def test_bad_precision_and_device_are_config_errors(checkpoints):
    with pytest.raises(PermaskError, match="tracker.precision"):
        mvtracker(checkpoints, precision="fp8").load()
    if not torch.cuda.is_available():
        with pytest.raises(TrackerError, match="tracker.device"):
            mvtracker(checkpoints, device="cuda").load()


def test_learned_modules_import_without_torch():
    """`import permask` and the tracker modules must not import torch (lazy imports)."""
    import subprocess
    code = ("import sys; sys.modules['torch'] = None\n"
            "import permask.trackers.mvtracker, permask.trackers.cotracker, "
            "permask.trackers.spatialtracker, permask.trackers.hub, permask.pipeline\n"
            "from permask.trackers.mvtracker import MVTrackerTracker\n"
            "from permask.errors import TrackerError\n"
            "try:\n    MVTrackerTracker(device='cpu').load()\n"
            "except TrackerError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "PyTorch" in out.stdout


# ---------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_multirun_static_lk_and_mvtracker_standin(checkpoints, tmp_path, cache_dir):
    conf = (FIXTURES / "conf").resolve()
    proc = run_cli(["-m", f"hydra.searchpath=[file://{conf}]",
                    "tracker=static,lk,mvtracker_standin", *quick(num_frames=8),
                    f"sweep_dir={tmp_path}"],
                   env_extra={"PERMASK_TEST_FIXTURES": str(FIXTURES.resolve()),
                              "PERMASK_TEST_MVTRACKER_CKPT": str(checkpoints["mvtracker_static"]),
                              "PERMASK_CACHE_DIR": str(cache_dir)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("static", "lk", "mvtracker"):
        found = list(tmp_path.rglob(f"demo_{name}_instance_*_tracked.npz"))
        assert found, (name, sorted(p.name for p in tmp_path.rglob("*.npz")))
        data = np.load(found[0])
        assert data["tracks_3d"].shape[0] == 8


# ------------------------------------------------------------------------------ encoder reuse

class CountingEncoder(torch.nn.Module):
    """A small convolutional encoder that counts its real evaluations."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x)


def test_encoder_cache_reuses_only_bit_identical_inputs():
    """The stored output comes back only for a bit-identical input, not after an in-place change
    of the stored input or output, never with gradients, within the budget, per scene."""
    from permask.trackers.encoder_cache import EncoderCache
    enc, cache = CountingEncoder().eval(), EncoderCache(1)
    cache.attach(enc)
    cache.attach(enc)  # once per module
    a = torch.rand(2, 3, 32, 32)  # 6144 elements: the probe reads every 6th
    with torch.no_grad():
        reference = enc.conv(a)
        first = enc(a.clone())
        assert enc(a.clone()) is first and enc.calls == 1 and cache.hits == 1
        b = a.clone()
        b.view(-1)[1] += 1e-6  # one element off, outside the probe: computed
        assert torch.equal(enc(b), enc.conv(b)) and enc.calls == 2
        first.add_(1.0)  # a caller changed the stored output in place: recomputed
        assert torch.equal(enc(a.clone()), reference) and enc.calls == 3
        c = torch.rand(2, 3, 32, 32)
        enc(c)  # stored with c itself as its input
        c.view(-1)[1] = 0.5  # changed in place, outside the probe: no longer c's encoding
        assert torch.equal(enc(c.clone()), enc.conv(c)) and enc.calls == 5
        enc(a.clone())
        assert enc.calls == 5  # a's entry still serves
    enc(a)  # gradients on: never cached
    assert enc.calls == 6
    scene, other = object(), object()
    cache.for_scene(scene)
    assert cache.stored_bytes == 0  # a new scene: everything dropped
    with torch.no_grad():
        enc(a), enc(a)
        cache.for_scene(scene)
        enc(a)
        assert enc.calls == 7
        cache.for_scene(other)
        enc(a)
        assert enc.calls == 8
        off = EncoderCache(0)
        off.attach(plain := CountingEncoder().eval())
        plain(a), plain(a)
        assert plain.calls == 2 and off.stored_bytes == 0
        pair = (a.numel() + first.numel()) * 4 / 2 ** 20
        tight = EncoderCache(1.5 * pair)  # room for one input + output pair
        tight.attach(small := CountingEncoder().eval())
        small(a), small(b), small(a), small(b)
        assert small.calls == 3 and tight.hits == 1


# ---------------------------------------------------------------------------- tracking=joint
@pytest.mark.parametrize("build, call", [("mvtracker", "_run"), ("cotracker", "_track_view"),
                                         ("cotracker_online", "_track_view"),
                                         ("spatracker", "_track_view")])
def test_joint_is_one_upstream_call_and_splits_back(checkpoints, build, call):
    """`tracking=joint`: one upstream call (per view for the lifted trackers) holds every
    instance's queries; the stand-ins track each point on its own, so each instance gets exactly
    its per-mask tracks back, and one instance alone is its per-mask call."""
    from permask.trackers.joint import track_jointly
    make = {"mvtracker": mvtracker, "cotracker": cotracker, "spatracker": spatracker,
            "cotracker_online": lambda c: cotracker(c, online=True)}[build]
    scene = rig_scene(T=6, holes=0.0)
    queries = {"instance_0": rig_queries(scene, seed=1, n=6),
               "instance_1": rig_queries(scene, "instance_1", seed=2, n=5, late=1)}
    tracker = make(checkpoints)
    alone = {iid: tracker.track(scene, q) for iid, q in queries.items()}
    sizes = []
    real = getattr(tracker, call)

    def counted(*args):
        sizes.append(len(args[-2] if call == "_run" else args[-1]))
        return real(*args)

    setattr(tracker, call, counted)
    joint = track_jointly(tracker, scene, queries)
    assert list(joint) == list(queries)
    calls_expected = 1 if call == "_run" else scene.num_views
    assert len(sizes) == calls_expected and all(s == 11 for s in sizes), sizes
    for iid, q in queries.items():
        check_convention(joint[iid], q, 6)
        np.testing.assert_allclose(joint[iid].tracks, alone[iid].tracks, atol=1e-5)
        np.testing.assert_array_equal(joint[iid].visible, alone[iid].visible)
    one = track_jointly(tracker, scene, {"instance_0": queries["instance_0"]})
    np.testing.assert_array_equal(one["instance_0"].tracks, alone["instance_0"].tracks)
    np.testing.assert_array_equal(one["instance_0"].visible, alone["instance_0"].visible)
