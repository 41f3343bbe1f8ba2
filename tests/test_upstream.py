"""The learned trackers and depth models run on their *real* upstream code (../shared/upstream,
random weights built the way upstream builds them, saved as upstream's loaders read them), end to
end through permask on a tiny demo scene on the CPU.

Run: `python -m pytest -q -m upstream` in an environment with the upstream dependencies
(`.ci/run` builds one: torch 2.14.1 + torchvision 0.29.1 + the `upstream` extra). Marked `slow`
too, so the default `python -m pytest -q` leaves them out. Skipped (with the reason) only where
the upstream folder is absent; a missing dependency fails.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

import permask
from tests import upstream_models as um
from tests.helpers.runners import run_cli

pytestmark = [pytest.mark.upstream, pytest.mark.slow]

if um.upstream_dir() is None:
    pytest.skip("no upstream folder: ../shared/upstream beside the repository or "
                "$PERMASK_UPSTREAM_DIR (see its README)", allow_module_level=True)

try:
    import torch
    import torchvision  # noqa: F401 - Depth Anything V2 and SpaTrackerV2 import it
    import einops, timm, kornia, easydict, huggingface_hub, utils3d  # noqa: F401,E401
    MISSING = None
except Exception as err:  # noqa: BLE001 - reported by the fixture below (collection stays quiet
    MISSING = f"{type(err).__name__}: {err}"  # where these tests are deselected)


TORCH_CUDA = torch.Tensor.cuda if MISSING is None else None


@pytest.fixture(autouse=True)
def upstream_dependencies():
    """A broken environment fails every test here (it is never a skip)."""
    if MISSING:
        pytest.fail(f"upstream test dependencies missing ({MISSING}); {um.INSTALL_HINT}")

from permask.data import Queries  # noqa: E402
from permask.errors import TrackerError  # noqa: E402
from permask.trackers.spatialtracker import SpatialTrackerV2Tracker  # noqa: E402
from tests.helpers.overrides import demo  # noqa: E402

V, T, H, W = 2, 8, 48, 64


DEMO = demo(num_views=V, num_frames=T, height=H, width=W)
COMMON = [*DEMO, "instances=[instance_0]", "progress=false", "record.enabled=false"]
# CoTracker3 pads every clip to its window (60 frames offline) at 384x512: one view is enough
ONE_VIEW = [*demo(num_views=1, num_frames=T, height=H, width=W), "instances=[instance_0]",
            "progress=false", "record.enabled=false"]


# ------------------------------------------------------------------------------------ helpers

def run_pipeline(tmp_path, overrides, common=COMMON):
    """permask.pipeline.run in this process; returns (report, tracked arrays of instance_0)."""
    from permask.pipeline import run
    out = tmp_path / "out"
    report = run(permask.compose(*common, *overrides), out)
    files = sorted(out.glob("demo_*_instance_0_tracked.npz"))
    assert len(files) == 1, sorted(p.name for p in out.iterdir())
    with np.load(files[0]) as data:
        arrays = {k: data[k] for k in data.files}
    assert (out / "metrics.json").is_file()
    assert (out / "instances" / "demo_instance_0_query.npz").is_file()
    return report, arrays


def check_tracked(arrays, frames_from_zero=False):
    """Shapes, the one convention (NaN / invisible before each query's frame, the query itself at
    its frame), pixel order and query identity (row n is query n) of a tracked NPZ."""
    tracks, vis, q = arrays["tracks_3d"], arrays["visibility"], arrays["query_points"]
    N = len(q)
    assert N > 0 and tracks.shape == (T, N, 3) and tracks.dtype == np.float32
    assert vis.shape == (T, N) and vis.dtype == bool
    frames = q[:, 0].astype(int)
    before = np.arange(T)[:, None] < frames[None, :]
    assert np.isnan(tracks[before]).all() and not vis[before].any()
    after = ~before
    np.testing.assert_allclose(tracks[frames, np.arange(N)], q[:, 1:], atol=1e-5)
    assert vis[frames, np.arange(N)].all()
    assert np.isfinite(tracks[after]).all(), "every started point has a position"
    # pixel order (x, y): at its own frame each query projects onto its source pixel
    t2d = arrays["tracks_2d"]
    assert t2d.shape == (T, N, 2)
    np.testing.assert_allclose(t2d[frames, np.arange(N)], arrays["query_pixel"], atol=0.51)
    if "scores" in arrays:
        s = arrays["scores"][after]
        assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    if frames_from_zero:
        assert (frames == 0).all()
    return frames


# ------------------------------------------------------------------------------------ mvtracker

@pytest.fixture(scope="module")
def mvtracker_ckpt(tmp_path_factory):
    return um.save_mvtracker(tmp_path_factory.mktemp("mvtracker"))


def mvtracker_overrides(ckpt):
    # 96x128: MVTracker's 4-level point-cloud correlation needs >= 16 feature points per level
    return ["tracker=mvtracker", f"tracker.hub_repo={um.folder('mvtracker')}",
            f"tracker.checkpoint={ckpt}", "tracker.device=cpu", "tracker.input_size=[96,128]",
            "query.max_points=12"]


def test_mvtracker_end_to_end_with_late_queries(mvtracker_ckpt, tmp_path):
    report, arrays = run_pipeline(tmp_path, [*mvtracker_overrides(mvtracker_ckpt),
                                             "query=contact_window", "query.frames_before=1",
                                             "query.frames_after=3"])
    frames = check_tracked(arrays)
    assert str(arrays["tracker"]) == "mvtracker"
    assert len(set(frames.tolist())) > 1, "queries at several frames"


def test_mvtracker_rows_belong_to_their_queries(mvtracker_ckpt, tmp_path):
    """Permuting the queries permutes the tracks the same way (row n is query n's track)."""
    import hydra.utils
    from permask.pipeline import load_input
    from permask.queries import build_queries
    cfg = permask.compose(*COMMON, *mvtracker_overrides(mvtracker_ckpt))
    scene = load_input(cfg)
    tracker = hydra.utils.instantiate(cfg.tracker)
    q = build_queries(scene, "instance_0", cfg.query)
    perm = np.random.default_rng(0).permutation(len(q))
    qp = Queries(q.instance_id, q.points[perm], q.view[perm], q.pixel[perm])
    a, b = tracker.track(scene, q), tracker.track(scene, qp)
    np.testing.assert_allclose(b.tracks, a.tracks[:, perm], atol=2e-4)
    np.testing.assert_array_equal(b.visible, a.visible[:, perm])


def test_mvtracker_run_py_subprocess_writes_every_output(mvtracker_ckpt, tmp_path):
    out = tmp_path / "run"
    proc = run_cli([*DEMO, "instances=[instance_0,instance_1]", "progress=false",
                    *mvtracker_overrides(mvtracker_ckpt), f"output_dir={out}"], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for inst in ("instance_0", "instance_1"):
        assert (out / f"demo_mvtracker_{inst}.rrd").is_file()
        with np.load(out / f"demo_mvtracker_{inst}_tracked.npz") as data:
            check_tracked({k: data[k] for k in data.files}, frames_from_zero=True)
    assert (out / "demo_mvtracker_combined.rrd").is_file() and (out / "metrics.json").is_file()


# ------------------------------------------------------------------------------------ cotracker

@pytest.fixture(scope="module")
def cotracker_ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("cotracker")
    return {"offline": um.save_cotracker(d, online=False),
            "online": um.save_cotracker(d, online=True)}


def cotracker_overrides(ckpt, online=False):
    name = "cotracker3_online" if online else "cotracker3_offline"
    return [f"tracker={name}", f"tracker.hub_repo={um.folder('cotracker')}",
            f"tracker.checkpoint={ckpt}", "tracker.device=cpu", "query.max_points=8"]


def test_cotracker3_offline_backward_tracking_end_to_end(cotracker_ckpts, tmp_path):
    """At the pinned commit 82e02e8 backward tracking runs (20d1b6c crashed inside upstream)."""
    from permask.trackers.cotracker import UPSTREAM
    assert UPSTREAM.endswith("82e02e8029753ad4ef13cf06be7f4fc5facdda4d")
    _, arrays = run_pipeline(tmp_path, [*cotracker_overrides(cotracker_ckpts["offline"]),
                                        "tracker.backward_tracking=true", "query=contact_window",
                                        "query.frames_before=1", "query.frames_after=3"],
                             common=ONE_VIEW)
    check_tracked(arrays)


def test_cotracker3_online_end_to_end(cotracker_ckpts, tmp_path):
    _, arrays = run_pipeline(tmp_path, cotracker_overrides(cotracker_ckpts["online"], online=True),
                             common=ONE_VIEW)
    check_tracked(arrays, frames_from_zero=True)


def test_cotracker_view_call_follows_upstream_layout(cotracker_ckpts):
    """One view's upstream call: tracks [T,M,2] (x, y) in input pixels, each query at its own
    pixel at its frame (upstream overwrites it, in the order of the queries given)."""
    import hydra.utils
    from permask.pipeline import load_input
    cfg = permask.compose(*ONE_VIEW, *cotracker_overrides(cotracker_ckpts["offline"]))
    scene = load_input(cfg)
    tracker = hydra.utils.instantiate(cfg.tracker)
    tracker.load()
    txy = np.array([[0, 10.0, 20.0], [3, 40.0, 8.0], [1, 55.0, 40.0]])
    uv, vis = tracker._track_view(scene, 0, txy)
    assert uv.shape == (T, 3, 2) and vis.shape == (T, 3) and vis.dtype == bool
    np.testing.assert_allclose(uv[txy[:, 0].astype(int), np.arange(3)], txy[:, 1:], atol=1e-3)
    assert np.isfinite(uv).all()


def forget(package):
    """Drop an imported upstream package: torch.hub's local hubconf imports `cotracker` by name, so
    a second clone in the same process would silently run the first clone's code."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def test_cotracker_commit_20d1b6c_with_backward_tracking_is_one_line(cotracker_ckpts, tmp_path):
    """The co-tracker commit 20d1b6c crashes with backward_tracking=True: a user pointing
    tracker.hub_repo at a clone of it gets one TrackerError naming the fix."""
    import hydra.utils
    from permask.pipeline import load_input
    old = um.folder("cotracker_old")
    forget("cotracker")
    try:
        ckpt = um.save_cotracker(tmp_path, online=False, which="cotracker_old")
        cfg = permask.compose(*ONE_VIEW, *cotracker_overrides(ckpt), f"tracker.hub_repo={old}",
                              "tracker.backward_tracking=true")
        scene = load_input(cfg)
        tracker = hydra.utils.instantiate(cfg.tracker)
        tracker.load()
        assert str(old) in sys.modules["cotracker"].__path__[0]
        with pytest.raises(TrackerError) as info:
            tracker._track_view(scene, 0, np.array([[2, 10.0, 20.0]]))
    finally:
        forget("cotracker")
    text = str(info.value)
    assert "\n" not in text and "tracker.backward_tracking" in text and "82e02e8" in text


# ------------------------------------------------------------------------------------ SpaTrackerV2

@pytest.fixture(scope="module")
def spatracker_ckpt(tmp_path_factory):
    return um.save_spatracker(tmp_path_factory.mktemp("spatracker"))


def spatracker(ckpt, **kw):
    cfg = dict(hub_repo=str(um.folder("spatracker")), checkpoint=str(ckpt), device="cpu",
               precision="fp32", utils3d_dir=str(um.folder("spatracker_utils3d")))
    cfg.update(kw)
    return SpatialTrackerV2Tracker(**cfg)


def spatracker_overrides(ckpt):
    return ["tracker=spatialtrackerv2", f"tracker.hub_repo={um.folder('spatracker')}",
            f"tracker.checkpoint={ckpt}", f"tracker.utils3d_dir={um.folder('spatracker_utils3d')}"]


def test_spatracker_end_to_end_on_the_cpu(spatracker_ckpt, tmp_path):
    """The real code at random weights, forward and all, on the CPU (upstream's .cuda() calls
    sent to the CPU by the adapter), through the pipeline: the one convention, pixel order and
    query identity hold, and every file is written."""
    report, arrays = run_pipeline(tmp_path, [*spatracker_overrides(spatracker_ckpt),
                                             "query.max_points=12", "tracker.vo_points=128"])
    check_tracked(arrays)
    assert torch.Tensor.cuda is TORCH_CUDA  # the redirect is gone again


@pytest.fixture
def spatracker_server(spatracker_ckpt, tmp_path):
    """A local server standing in for GitHub and the Hugging Face Hub: SpaTrackerV2 and its
    utils3d at their pins as commit archives, the random weights as the files of
    Yuxihenry/SpatialTrackerV2-Offline; returns (server, overrides pinning their sha256)."""
    from permask.trackers import spatialtracker as st
    from tests.model_server import ModelServer

    server = ModelServer()
    server.add_repo(st.UPSTREAM, um.folder("spatracker"))
    server.add_repo(st.UTILS3D, um.folder("spatracker_utils3d"))
    pins = [f"tracker.weights.{i}.sha256="
            + server.add_file(w.repo, w.file, (spatracker_ckpt / w.file).read_bytes())
            for i, w in enumerate(st.WEIGHTS)]
    yield server, pins
    server.close()


def test_spatracker_fetched_runs_end_to_end_then_again_offline(spatracker_server, tmp_path):
    """`python run.py tracker=spatialtrackerv2` with nothing local, the local server standing in
    for the network: code, utils3d and weights are fetched and verified, the run writes every
    output on the CPU; with the server gone it runs again from the cache, with no request."""
    server, pins = spatracker_server
    env = {**server.env(), "PERMASK_MODELS_DIR": str(tmp_path / "models")}
    args = [*DEMO, "tracker=spatialtrackerv2", *pins, "instances=[instance_0]",
            "query.max_points=12", "tracker.vo_points=128", "progress=false"]
    first = run_cli([*args, f"output_dir={tmp_path / 'first'}"], env_extra=env, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    fetched = {path for _, path in server.requests}
    assert any(p.endswith("model.safetensors") for p in fetched) and len(fetched) >= 4
    out = tmp_path / "first"
    assert (out / "demo_spatialtrackerv2_instance_0_tracked.npz").is_file()
    assert (out / "demo_spatialtrackerv2_instance_0.rrd").is_file()
    assert (out / "demo_spatialtrackerv2_combined.rrd").is_file()
    assert (out / "metrics.json").is_file() and (out / "view_demo_spatialtrackerv2_combined.sh").is_file()
    count = len(server.requests)
    server.close()  # the network is gone
    gone = {**env, "PERMASK_GITHUB_URL": "http://127.0.0.1:9", "HF_ENDPOINT": "http://127.0.0.1:9"}
    again = run_cli([*args, f"output_dir={tmp_path / 'again'}"], env_extra=gone, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert list((tmp_path / "again").glob("demo_spatialtrackerv2_instance_*_tracked.npz"))
    assert len(server.requests) == count


def test_spatracker_device_cuda_without_cuda_one_line_exit_2_no_run_folder(spatracker_ckpt,
                                                                           tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_cli([*DEMO, *spatracker_overrides(spatracker_ckpt), "tracker.device=cuda",
                    "progress=false"], cwd=tmp_path, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("permask: error: ") and "tracker.device" in lines[0]
    assert "CUDA" in lines[0]
    assert list(tmp_path.iterdir()) == [], "no output folder left behind"


def test_spatracker_real_code_up_to_the_upstream_call(spatracker_ckpt, monkeypatch):
    """The real Predictor is built from the saved folder through the adapter; its forward is
    replaced by a recorder that binds the
    adapter's arguments to the real signature, checks them against inference.py's posed RGB-D
    call, and answers in upstream's layout (static points, poses relative to the first camera,
    rows reversed): the adapter must give each query its own static world point."""
    um.ensure_torchvision_io_write_video()
    from permask.pipeline import load_input
    from permask.queries import build_queries
    tracker = spatracker(spatracker_ckpt, camera_poses="predicted", views="source",
                         rigid_prior=False)
    model = tracker.load()
    module = sys.modules["models.SpaTrackV2.models.predictor"]
    assert type(model) is module.Predictor and model.spatrack.track_num == 756
    real = inspect.signature(module.Predictor.forward)
    calls = []

    def recorder(video, **kwargs):
        bound = real.bind(model, video, **kwargs)
        args = bound.arguments
        Tn, C, Hn, Wn = video.shape
        assert C == 3 and video.dtype == torch.float32 and 1.0 < float(video.max()) <= 255.0
        assert args["depth"].shape == (Tn, Hn, Wn) and args["intrs"].shape == (Tn, 3, 3)
        extrs = np.asarray(args["extrs"], np.float64)
        assert extrs.shape == (Tn, 4, 4) and np.allclose(extrs[:, 3], [0, 0, 0, 1])
        q = np.asarray(args["queries"])
        assert q.ndim == 2 and q.shape[1] == 3 and q.dtype == np.float32
        assert args["full_point"] is False and args["fps"] == 1
        assert args["support_frame"] == Tn - 1 and args["stage"] == 1
        calls.append(q)
        # upstream's answer for points that do not move: camera points of each frame
        t_q, x, y = q[:, 0].astype(int), q[:, 1], q[:, 2]
        K, depth = np.asarray(args["intrs"], np.float64), np.asarray(args["depth"])
        z = depth[t_q, np.rint(y).astype(int), np.rint(x).astype(int)]
        cam_q = np.einsum("nij,nj->ni", np.linalg.inv(K[t_q]),
                          np.stack([x, y, np.ones_like(x)], 1)) * z[:, None]
        world = np.einsum("nij,nj->ni", extrs[t_q, :3, :3], cam_q) + extrs[t_q, :3, 3]
        w2c = np.linalg.inv(extrs)
        cam = np.einsum("tij,nj->tni", w2c[:, :3, :3], world) + w2c[:, None, :3, 3]
        uvw = np.einsum("tij,tnj->tni", K, cam)
        track2d = np.concatenate([uvw[..., :2] / uvw[..., 2:], cam[..., 2:]], -1)
        rel = np.linalg.inv(extrs[:1]) @ extrs  # relative to the clip's first camera
        rows = np.arange(len(q))[::-1].copy()
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
        track3d = np.concatenate([cam, np.zeros_like(cam)], -1)[:, rows]
        vis = np.ones((Tn, len(q), 1))
        return (as_t(rel), args["intrs"], None, None, as_t(track3d), as_t(track2d[:, rows]),
                as_t(vis), as_t(vis), video)

    monkeypatch.setattr(model, "forward", recorder)
    cfg = permask.compose(*COMMON, "query.max_points=10")
    scene = load_input(cfg)
    q = build_queries(scene, "instance_0", cfg.query)
    res = tracker.track(scene, q)
    assert calls and sum(len(c) for c in calls) == len(q)
    expected = np.broadcast_to(q.points[None, :, 1:], res.tracks.shape)
    np.testing.assert_allclose(res.tracks, expected, atol=2e-4)
    assert res.visible.all()


# ------------------------------------------------------------------------------------ depth

@pytest.fixture(scope="module")
def depth_ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("depth")
    return {"moge": um.save_moge(d), "vggt": um.save_vggt(d),
            "depth_anything_v2": um.save_depth_anything(d)}


DEPTH_OVERRIDES = {
    "moge": ["depth.num_tokens=120"],
    "vggt": ["depth.resolution=70", "depth.frames_per_pass=4"],
    "depth_anything_v2": ["depth.encoder=vits", "depth.input_size=70"],
}
REPO = {"moge": "moge", "vggt": "vggt", "depth_anything_v2": "depth_anything"}


@pytest.mark.parametrize("name", ["moge", "vggt", "depth_anything_v2"])
def test_depth_model_end_to_end(depth_ckpts, tmp_path, name):
    """The model's prediction fills the file's holes (keep_measured), in metres after alignment,
    and the run goes through to the tracked NPZ."""
    overrides = [f"depth={name}", f"depth.repo_dir={um.folder(REPO[name])}",
                 f"depth.checkpoint={depth_ckpts[name]}", "depth.device=cpu",
                 f"depth.cache_dir={tmp_path / 'cache'}",  # the second load is a cache hit
                 *DEPTH_OVERRIDES[name], "tracker=static", "query.max_points=20",
                 "query.edge_threshold=10"]  # random-weight depth is all "edges"
    from permask.pipeline import load_input
    from permask.inputs.load import load_scene
    overrides.append("input.demo.depth_density=0.6")  # holes for the model to fill
    cfg = permask.compose(*COMMON, *overrides)
    scene = load_input(cfg)
    from permask.pipeline import input_path
    raw = load_scene(input_path(cfg), cfg.input.mask_key)
    assert scene.depths.shape == raw.depths.shape == (V, T, H, W)
    measured = raw.depths > 0
    np.testing.assert_array_equal(scene.depths[measured], raw.depths[measured])
    holes = ~measured
    assert holes.any()
    filled = scene.depths[holes]
    assert np.isfinite(scene.depths).all() and (scene.depths >= 0).all()
    assert (filled > 0).mean() > 0.5, f"{name} filled only {(filled > 0).mean():.0%} of the holes"
    assert scene.depth_metric and scene.depth_source == name
    _, arrays = run_pipeline(tmp_path, overrides)
    check_tracked(arrays, frames_from_zero=True)
    assert bool(arrays["depth_metric"])


@pytest.mark.parametrize("name", ["moge", "depth_anything_v2"])
def test_depth_model_fetched_from_a_local_server(depth_ckpts, tmp_path, monkeypatch, name):
    """depth=NAME with nothing local: the pinned code (commit archive) and the weights (sha256
    pinned on the command line) come from a local server standing in for the network, the
    prediction fills the holes; a second load asks nothing. (VGGT's 4.6 GB random weights are
    left out of the served set: same path.)"""
    from permask.depth.learned import depth_anything, moge
    from tests.model_server import ModelServer, serve_in_process

    module = {"moge": moge, "depth_anything_v2": depth_anything}[name]
    weight = (module.WEIGHTS_V2 if name == "moge" else module.WEIGHTS)[0]
    server = ModelServer()
    try:
        server.add_repo(module.UPSTREAM, um.folder(REPO[name]))
        file = depth_ckpts[name].name if name == "depth_anything_v2" else weight.file
        sha = server.add_file(weight.repo, file, depth_ckpts[name].read_bytes())
        serve_in_process(monkeypatch, server)
        monkeypatch.setenv("PERMASK_MODELS_DIR", str(tmp_path / "models"))
        overrides = [f"depth={name}", f"depth.weights.0.file={file}",
                     f"depth.weights.0.sha256={sha}", "depth.device=cpu", "depth.cache=false",
                     *DEPTH_OVERRIDES[name], "input.demo.depth_density=0.6"]
        from permask.pipeline import load_input
        scene = load_input(permask.compose(*COMMON, *overrides))
        assert scene.depth_source == name and np.isfinite(scene.depths).all()
        fetched = {path for _, path in server.requests}
        assert any(p.endswith(".zip") for p in fetched) and any(file in p for p in fetched)
        count = len(server.requests)
        load_input(permask.compose(*COMMON, *overrides))
        assert len(server.requests) == count
    finally:
        server.close()


def test_moge_precision_is_the_one_asked_for(depth_ckpts):
    """fp32 runs the backbone in float32; bf16 (which ran fp16 before) runs bf16 weights with
    upstream's fp16 autocast off, on a GPU; on the CPU upstream's antialiased resize has no bf16
    kernel, so bf16 is refused with one line naming depth.precision."""
    from permask.depth.learned.moge import MoGeDepth
    from permask.errors import PermaskError
    from permask.pipeline import input_path
    from permask.inputs.load import load_scene
    cfg = permask.compose(*COMMON)
    scene = load_scene(input_path(cfg), cfg.input.mask_key)
    kw = dict(repo_dir=str(um.folder("moge")), checkpoint=str(depth_ckpts["moge"]), num_tokens=120,
              cache=False, align="none")
    est = MoGeDepth(device="cpu", precision="fp32", **kw)
    seen = []
    hook = est.model.encoder.backbone.blocks[0].attn.qkv.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    try:
        depth = est.raw_prediction(scene)["depth"]
    finally:
        hook.remove()
    assert seen and set(seen) == {torch.float32}
    assert np.isfinite(depth).all() and (depth > 0).mean() > 0.5
    if torch.cuda.is_available():
        est = MoGeDepth(device="cuda", precision="bf16", **kw)
        assert est.model.dtype == torch.bfloat16
    else:
        with pytest.raises(PermaskError) as info:
            MoGeDepth(device="cpu", precision="bf16", **kw).model
        assert "depth.precision" in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------ one encoding

def reuse_trackers(overrides):
    """Two trackers from the same config and checkpoint: encoder output reused (the default)
    and not reused (`encoder_cache_mb=0`)."""
    import hydra.utils
    cfg = permask.compose(*COMMON, *overrides)
    reuse = hydra.utils.instantiate(cfg.tracker)
    fresh = hydra.utils.instantiate(cfg.tracker, encoder_cache_mb=0)
    assert reuse.config.encoder_cache_mb > 0
    return cfg, reuse, fresh


def assert_same_result(a, b):
    assert np.array_equal(a.tracks, b.tracks, equal_nan=True)
    assert np.array_equal(a.visible, b.visible)
    assert np.array_equal(a.scores, b.scores, equal_nan=True)


def check_one_encoding(cfg, reuse, fresh):
    """Per instance, tracks bit-identical with and without the reuse; one instance alone equals
    the same instance after the others ran; the others really reused the encoder's output."""
    from permask.pipeline import load_input
    from permask.queries import build_queries
    scene = load_input(cfg)
    assert len(scene.instance_ids) >= 2
    queries = {iid: build_queries(scene, iid, cfg.query) for iid in scene.instance_ids}
    alone = {iid: fresh.track(scene, q) for iid, q in queries.items()}  # each its own encoding
    first, *rest = list(queries)
    for iid in [*rest, first]:  # the first instance last: after the others ran
        assert_same_result(reuse.track(scene, queries[iid]), alone[iid])
    assert fresh.encoders.hits == 0 and reuse.encoders.hits > 0
    return reuse.encoders


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_cotracker_encodes_each_view_once_per_scene(cotracker_ckpts, online):
    key = "online" if online else "offline"
    cfg, reuse, fresh = reuse_trackers([*cotracker_overrides(cotracker_ckpts[key], online),
                                        "instances=[]", "query.max_points=6"])
    encoders = check_one_encoding(cfg, reuse, fresh)
    assert encoders.misses <= encoders.hits  # the views' encodings, then reuse


def test_mvtracker_encodes_each_window_once_per_scene(mvtracker_ckpt):
    cfg, reuse, fresh = reuse_trackers([*mvtracker_overrides(mvtracker_ckpt), "instances=[]",
                                        "query=contact_window", "query.frames_before=1",
                                        "query.frames_after=3", "query.max_points=6"])
    encoders = check_one_encoding(cfg, reuse, fresh)
    assert encoders.misses <= encoders.hits


# ------------------------------------------------------------------------------------ tracking=joint

def run_both_modes(tmp_path, overrides, common):
    """Two instances through `permask.pipeline.run` per mask and joint, then instance_0 alone
    in both modes: {(mode, instances): {instance: tracked arrays}}."""
    from permask.pipeline import run
    runs = {}
    for mode in ("per_mask", "joint"):
        for ids in ("[instance_0,instance_1]", "[instance_0]"):
            out = tmp_path / f"{mode}_{len(ids)}"
            cfg = permask.compose(*common, *overrides, f"tracking={mode}", f"instances={ids}")
            report = run(cfg, out)
            assert report.tracking == mode
            runs[mode, ids] = {}
            for path in sorted(out.glob("demo_*_tracked.npz")):
                with np.load(path) as data:
                    runs[mode, ids][str(data["instance_id"])] = {k: data[k] for k in data.files}
    return runs


def check_joint_runs(runs):
    """Both instances tracked in both modes (the one convention, the same queries); instance_0
    alone gives the same tracks in both modes (its joint call is its per-mask call)."""
    both = "[instance_0,instance_1]"
    for iid in ("instance_0", "instance_1"):
        per_mask, joint = runs["per_mask", both][iid], runs["joint", both][iid]
        check_tracked(joint)
        for key in ("query_points", "query_view", "query_pixel"):
            np.testing.assert_array_equal(per_mask[key], joint[key])
    alone_p, alone_j = runs["per_mask", "[instance_0]"], runs["joint", "[instance_0]"]
    for key in ("tracks_3d", "visibility", "scores"):
        np.testing.assert_array_equal(alone_p["instance_0"][key], alone_j["instance_0"][key])


def test_mvtracker_joint_and_per_mask(mvtracker_ckpt, tmp_path, monkeypatch):
    from permask.trackers.mvtracker import MVTrackerTracker
    sizes = []
    real = MVTrackerTracker._run

    def counted(self, model, inputs, points, T):
        sizes.append(len(points))
        return real(self, model, inputs, points, T)

    monkeypatch.setattr(MVTrackerTracker, "_run", counted)
    runs = run_both_modes(tmp_path, mvtracker_overrides(mvtracker_ckpt),
                          [*DEMO, "progress=false", "record.enabled=false"])
    check_joint_runs(runs)
    n0, n1 = (len(runs["joint", "[instance_0,instance_1]"][i]["query_points"])
              for i in ("instance_0", "instance_1"))
    assert sizes == [n0, n1, n0, n0 + n1, n0], "per mask one call each, joint one call for both"


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_cotracker_joint_and_per_mask(cotracker_ckpts, tmp_path, online):
    key = "online" if online else "offline"
    runs = run_both_modes(tmp_path, cotracker_overrides(cotracker_ckpts[key], online),
                          [*demo(num_views=1, num_frames=T, height=H, width=W), "progress=false",
                           "record.enabled=false"])
    check_joint_runs(runs)


def test_spatracker_joint_is_one_upstream_call_per_view(spatracker_ckpt, monkeypatch):
    """Joint on the real Predictor (on the CPU, forward answered in upstream's layout by a
    recorder bound to the real signature): per view ONE call with both instances' queries; each
    instance gets its own static world points back."""
    from permask.pipeline import load_input
    from permask.queries import build_queries
    from permask.trackers.joint import track_jointly
    tracker = spatracker(spatracker_ckpt, views="source", rigid_prior=False)
    model = tracker.load()
    real = inspect.signature(sys.modules["models.SpaTrackV2.models.predictor"].Predictor.forward)
    calls = []

    def recorder(video, **kwargs):
        args = real.bind(model, video, **kwargs).arguments
        q = np.asarray(args["queries"])
        calls.append(len(q))
        Tn = video.shape[0]
        t_q, x, y = q[:, 0].astype(int), q[:, 1], q[:, 2]
        K, depth = np.asarray(args["intrs"], np.float64), np.asarray(args["depth"])
        z = depth[t_q, np.rint(y).astype(int), np.rint(x).astype(int)]
        cam = np.einsum("nij,nj->ni", np.linalg.inv(K[t_q]),
                        np.stack([x, y, np.ones_like(x)], 1)) * z[:, None]
        cam = np.broadcast_to(cam, (Tn, *cam.shape))  # input poses: the camera does not move
        uvw = np.einsum("tij,tnj->tni", K, cam)
        track2d = np.concatenate([uvw[..., :2] / uvw[..., 2:], cam[..., 2:]], -1)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
        vis = np.ones((Tn, len(q), 1))
        rel = np.broadcast_to(np.eye(4), (Tn, 4, 4))
        return (as_t(rel), args["intrs"], None, None,
                as_t(np.concatenate([cam, np.zeros_like(cam)], -1)), as_t(track2d), as_t(vis),
                as_t(vis), video)

    monkeypatch.setattr(model, "forward", recorder)
    cfg = permask.compose(*DEMO, "progress=false", "query.max_points=6")
    scene = load_input(cfg)
    for v in range(scene.num_views):  # cameras that do not move: the recorder's answer holds
        scene.extrs[v] = scene.extrs[v, :1]
    queries = {iid: build_queries(scene, iid, cfg.query) for iid in ("instance_0", "instance_1")}
    results = track_jointly(tracker, scene, queries)
    views = np.unique(np.concatenate([q.view for q in queries.values()]))
    assert len(calls) == len(views) and sum(calls) == sum(map(len, queries.values()))
    for iid, q in queries.items():
        expected = np.broadcast_to(q.points[None, :, 1:], results[iid].tracks.shape)
        after = ~np.isnan(results[iid].tracks[..., 0])
        np.testing.assert_allclose(results[iid].tracks[after], expected[after], atol=2e-4)
