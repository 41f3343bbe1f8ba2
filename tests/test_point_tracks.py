"""Ground truth as point tracks (`gt_tracks`, `gt_visibility`, `gt_track_instance`,
`gt_query_points`), `query=gt`, and a run's figures in every metric mode against the reference
code (../shared/upstream) computed independently from the run's own output files (tracked NPZ)
and the input's ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

import permask
from permask.config import QueryConfig
from permask.errors import ConfigError, InputFormatError, QueryError
from permask.geometry import rigid_tracks
from permask.inputs.load import load_scene
from permask.metrics import true_visibility
from permask.queries import deduplicate, lift_mask_pixels
from tests import reference_metrics as refs
from tests.helpers.runs import compose
from tests.reference_metrics import mvtracker_unrounded, quiet

QUICK = ["record.enabled=false", "progress=false", "tracker=static"]
SCALINGS = ("none", "median", "mean", "per_trajectory", "local_neighborhood",
            "median_on_queries", "reproduce_2d")


def point_track_file(source, out, points=10, seed=0):
    """The small demo with its rigid truth rewritten as point tracks: per instance `points`
    queries at frame 0 and as many at frame 5; positions before each query frame known (as
    benchmarks give them), visibility from masks and depth."""
    scene = load_scene(source)
    rng = np.random.default_rng(seed)
    with np.load(source, allow_pickle=True) as f:
        arrays = {k: f[k] for k in f.files}
    gt = scene.ground_truth
    tracks, visible, owner, queries = [], [], [], []
    for iid in gt.instance_ids:
        for frame in (0, 5):
            lifted = np.concatenate([lift_mask_pixels(scene, iid, v, frame, QueryConfig())[0]
                                     for v in range(scene.num_views)])
            lifted = lifted[deduplicate(lifted, 0.004)]
            chosen = lifted[np.sort(rng.choice(len(lifted), points, replace=False))]
            k = gt.pose_index(iid)
            from_start = chosen.copy()
            from_start[:, 0] = 0  # the whole track: carried back to frame 0 by the object's pose
            at_t0 = np.linalg.inv(gt.object_poses[k, frame]) @ np.c_[chosen[:, 1:], np.ones(points)].T
            from_start[:, 1:] = (gt.object_poses[k, 0] @ at_t0).T[:, :3]
            truth = rigid_tracks(gt.object_poses, np.full(points, k), from_start)
            tracks.append(truth.transpose(1, 0, 2))
            visible.append(true_visibility(scene, iid, truth).T)
            owner += [iid] * points
            queries.append(chosen)
    arrays.update(gt_tracks=np.concatenate(tracks), gt_visibility=np.concatenate(visible),
                  gt_track_instance=np.array(owner), gt_query_points=np.concatenate(queries))
    for key in ("gt_object_poses", "gt_instance_ids"):  # point tracks only
        arrays.pop(key)
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="module")
def tracks_file(small_demo_path, tmp_path_factory):
    return point_track_file(small_demo_path, tmp_path_factory.mktemp("gt") / "tracks.npz")


def test_point_tracks_are_read(tracks_file):
    scene = load_scene(tracks_file)
    truth = scene.ground_truth.point_tracks
    assert truth.tracks.shape == (60, scene.num_frames, 3) and truth.visible.dtype == bool
    assert scene.ground_truth.object_poses.shape[0] == 0
    assert list(np.unique(truth.instance)) == ["instance_0", "instance_1", "instance_2"]
    strided = load_scene(tracks_file, temporal_stride=2)
    assert strided.ground_truth.point_tracks.tracks.shape[1] == len(range(0, scene.num_frames, 2))


@pytest.mark.parametrize("drop, problem", [("gt_visibility", "missing"),
                                           ("shape", "expected shape")])
def test_bad_point_tracks_name_the_key(tracks_file, tmp_path, drop, problem):
    with np.load(tracks_file, allow_pickle=True) as f:
        arrays = {k: f[k] for k in f.files}
    if drop == "shape":
        arrays["gt_tracks"] = arrays["gt_tracks"][:, :3]
    else:
        arrays.pop(drop)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputFormatError, match=problem) as err:
        load_scene(tmp_path / "bad.npz")
    assert "gt_" in str(err.value)


def test_query_gt_needs_point_tracks(small_demo_path, tmp_path):
    cfg = permask.compose(f"input.npz={small_demo_path}", "query=gt", *QUICK)
    with pytest.raises(QueryError, match="query=gt"):
        permask.run(cfg, tmp_path / "run")


def test_unknown_metrics_camera_is_refused(tracks_file, tmp_path):
    cfg = permask.compose(f"input.npz={tracks_file}", "query=gt", "metrics.camera=nope", *QUICK)
    with pytest.raises(ConfigError, match="metrics.camera|unknown camera"):
        permask.run(cfg, tmp_path / "run")


def world_to_camera(tracks, extrs):
    """[T,N,3] world -> [N,T,3] camera frame of a camera with extrs [T,3,4]."""
    R, t = extrs[:, :, :3], extrs[:, :, 3]
    return (np.einsum("tij,tnj->tni", R, tracks) + t[:, None]).transpose(1, 0, 2)


def run_in_mode(tracks_file, out, *overrides):
    cfg = compose("query=gt", *QUICK, *overrides)
    cfg.input.npz = str(tracks_file)
    permask.run(cfg, out)
    return json.loads((out / "metrics.json").read_text())


def reference_tapvid3d(scene, tracked, gt, gt_vis, scaling, fixed):
    ref = refs.tapvid3d()
    extrs = scene.extrs[0].astype(np.float64)
    K = scene.intrs[0, 0].astype(np.float64) * 256 / min(scene.image_size)
    q = tracked["query_points"].astype(np.float64)
    tyx = np.c_[q[:, 0], np.zeros((len(q), 2))]
    with quiet():
        return ref.compute_tapvid3d_metrics(
            ~gt_vis.T, world_to_camera(gt, extrs), ~tracked["visibility"].T,
            world_to_camera(tracked["tracks_3d"].astype(np.float64), extrs),
            np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]]), scaling=scaling,
            query_points=tyx if scaling == "local_neighborhood" else tyx[None],
            use_fixed_metric_threshold=fixed, get_trackwise_metrics=scaling == "local_neighborhood")


def _truth_of(tracks_file, tracked):
    scene = load_scene(tracks_file)
    truth = scene.ground_truth.point_tracks
    idx = tracked["gt_track_index"]
    return scene, truth.tracks[idx].transpose(1, 0, 2), truth.visible[idx].T


@pytest.mark.parametrize("scaling, thresholds", [
    ("median", "adaptive"),
    pytest.param("none", "fixed", marks=pytest.mark.slow),
    pytest.param("per_trajectory", "adaptive", marks=pytest.mark.slow)])
def test_run_figures_equal_the_references(tracks_file, tmp_path, scaling, thresholds):
    try:
        refs.tapvid3d()
    except refs.Unavailable as err:
        pytest.skip(f"reference unavailable: {err}")
    m = run_in_mode(tracks_file, tmp_path / "run", f"metrics.scaling={scaling}",
                    f"metrics.thresholds={thresholds}")
    check_against_references(tracks_file, tmp_path / "run", m, scaling, thresholds == "fixed")


@pytest.mark.slow
def test_every_mode_equals_the_reference(tracks_file, tmp_path):
    """Every TAPVid-3D mode, re-scored into one folder (the tracks are reused)."""
    try:
        refs.tapvid3d()
    except refs.Unavailable as err:
        pytest.skip(f"reference unavailable: {err}")
    for scaling in SCALINGS:
        for thresholds in ("adaptive", "fixed"):
            m = run_in_mode(tracks_file, tmp_path / "run", f"metrics.scaling={scaling}",
                            f"metrics.thresholds={thresholds}")
            check_against_references(tracks_file, tmp_path / "run", m, scaling,
                                     thresholds == "fixed")


def check_against_references(tracks_file, out, m, scaling, fixed):
    assert m["metric_modes"]["tapvid3d"].startswith(
        f"scaling={scaling}, thresholds={'fixed' if fixed else 'adaptive'}")
    table = (out / "metrics.md").read_text()
    for iid, figures in m["instances"].items():
        with np.load(out / f"demo_static_{iid}_tracked.npz") as f:
            tracked = {k: f[k] for k in f.files}
        scene, gt, gt_vis = _truth_of(tracks_file, tracked)
        theirs = reference_tapvid3d(scene, tracked, gt, gt_vis, scaling, fixed)
        if scaling == "local_neighborhood":  # the reference answers per track only: check those
            continue
        assert figures["tapvid3d_AJ"] == pytest.approx(float(theirs["average_jaccard"][0]),
                                                       abs=1e-9, nan_ok=True)
        assert figures["tapvid3d_APD"] == pytest.approx(
            float(theirs["average_pts_within_thresh"][0]), abs=1e-9, nan_ok=True)
        assert figures["tapvid3d_OA"] == pytest.approx(float(theirs["occlusion_accuracy"][0]),
                                                       abs=1e-9)
        row = next(line for line in table.splitlines() if line.startswith(f"| {iid} |"))
        assert f" {figures['tapvid3d_AJ']:.3f} |" in row  # the per-mask table shows it
        check_mvtracker(tracked, gt, gt_vis, figures)
        check_tapvid2d(scene, tracked, gt, gt_vis, figures)


def check_mvtracker(tracked, gt, gt_vis, figures):
    try:
        ref = refs.mvtracker()
    except refs.Unavailable:
        return
    from permask.protocols.mvtracker import SETTINGS

    s = SETTINGS["dexycb-multiview"]
    unrounded = mvtracker_unrounded(ref, gt, gt_vis, tracked["tracks_3d"],
                                     ~tracked["visibility"], tracked["query_points"], s)
    assert figures["mvtracker_AJ"] == pytest.approx(unrounded["all_any"]["average_jaccard"],
                                                    rel=2e-6)
    assert figures["mvtracker_MTE"] == pytest.approx(unrounded["all_any"]["mte_visible"], rel=2e-6)


def check_tapvid2d(scene, tracked, gt, gt_vis, figures):
    """Per camera: queries that camera sees at their frame, projected at 256x256."""
    ref = refs.tapvid2d()
    H, W = scene.image_size
    q = tracked["query_points"].astype(np.float64)
    qt = q[:, 0].astype(int)
    pred = tracked["tracks_3d"].astype(np.float64)
    pred_vis = tracked["visibility"]
    for v, cam in enumerate(scene.camera_ids):
        def project(tracks):
            cam_xyz = world_to_camera(tracks, scene.extrs[v].astype(np.float64))  # [N,T,3]
            K = scene.intrs[v, 0].astype(np.float64)
            z = cam_xyz[..., 2]
            uv = np.stack([K[0, 0] * cam_xyz[..., 0] / z + K[0, 2],
                           K[1, 1] * cam_xyz[..., 1] / z + K[1, 2]], -1)
            ui = np.clip(np.rint(np.nan_to_num(uv[..., 0])).astype(int), 0, W - 1)
            vi = np.clip(np.rint(np.nan_to_num(uv[..., 1])).astype(int), 0, H - 1)
            depth = scene.depths[v][np.arange(scene.num_frames)[None], vi, ui]
            inside = (uv[..., 0] >= -0.5) & (uv[..., 0] <= W - 0.5) & (uv[..., 1] >= -0.5) & \
                     (uv[..., 1] <= H - 0.5) & (z > 0)
            hidden = (depth > 0) & (depth < z - 0.03)
            return uv * [256 / W, 256 / H], inside & ~hidden & np.isfinite(z)
        uv_gt, seen_gt = project(gt)
        uv_pr, seen_pr = project(pred)
        mine = seen_gt[np.arange(len(q)), qt]
        key = f"tapvid2d_AJ@{cam}"
        if not mine.any():
            assert key not in figures
            continue
        queries = np.c_[q[mine, 0], uv_gt[mine, qt[mine], 1], uv_gt[mine, qt[mine], 0]]
        with quiet():
            theirs = ref.compute_tapvid_metrics(
                queries[None], ~(gt_vis.T[mine] & seen_gt[mine])[None], uv_gt[mine][None],
                ~(pred_vis.T[mine] & seen_pr[mine])[None], uv_pr[mine][None], "first")
        assert figures[key] == pytest.approx(float(theirs["average_jaccard"][0]), abs=1e-9,
                                             nan_ok=True)


def test_comparison_keeps_modes_apart(tracks_file, tmp_path):
    from permask.compare.sweep import compare

    run_in_mode(tracks_file, tmp_path / "a", "metrics.scaling=none")
    run_in_mode(tracks_file, tmp_path / "b", "metrics.scaling=median")
    comp = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp", recording=False,
                   plots=False)
    keys = {k for row in comp.cells.values() for f in row.values() for k in f}
    assert "tapvid3d_AJ" not in keys
    assert any(k.startswith("tapvid3d_AJ [scaling=none") for k in keys)
    assert any(k.startswith("tapvid3d_AJ [scaling=median") for k in keys)
    assert "tapvid2d" in comp.modes and "tapvid3d" not in comp.modes  # shared: one mode
    import csv

    rows = list(csv.DictReader((tmp_path / "cmp" / "comparison.csv").open()))
    tap = [r for r in rows if r["metric"].startswith("tapvid3d_AJ")]
    assert tap and all(r["mode"] and r["mode"] in r["metric"] for r in tap)
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "3D-AJ ↑ [scaling=none" in md and "3D-AJ ↑ [scaling=median" in md


def test_metrics_block_takes_its_choices():
    """(A mistyped choice: tests/test_typos.py.)"""
    cfg = permask.compose("metrics.scaling=median", "metrics.thresholds=fixed", "metrics.mvtracker=null")
    assert str(cfg.metrics.scaling) == "median" and cfg.metrics.mvtracker is None


def test_scaling_defaults_to_the_depth(tracks_file):
    from permask.protocols.modes import MetricModes

    scene = load_scene(tracks_file)
    cfg = permask.compose()
    assert MetricModes.of(cfg.metrics, scene).scaling == "none"
    scene.depth_metric = False
    assert MetricModes.of(cfg.metrics, scene).scaling == "median"
