"""permask's ports of the published metrics equal the reference code (../shared/upstream) on the
same tracks, in every mode, on random and edge cases (to 1e-9; MVTracker's float32 figures to
float32 rounding).

Marked `upstream` (they run with the upstream tests) but quick and numpy-only, so the default run
keeps them too; each reference that cannot load here (folder or einops / torch / pandas missing)
skips with the reason.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from permask.protocols import mvtracker as mvt
from permask.protocols import tapvid2d, tapvid3d
from tests import reference_metrics as refs
from tests.reference_metrics import quiet

pytestmark = pytest.mark.upstream


def _reference(loader):
    try:
        return loader()
    except refs.Unavailable as err:
        pytest.skip(f"reference unavailable: {err}")


@pytest.fixture(scope="module")
def ref3d():
    return _reference(refs.tapvid3d)


@pytest.fixture(scope="module")
def ref2d():
    return _reference(refs.tapvid2d)


@pytest.fixture(scope="module")
def refmv():
    return _reference(refs.mvtracker)


def case(kind: str, seed: int = 0, N: int = 12, T: int = 9, D: int = 3):
    """gt/pred occlusion [N,T], tracks [N,T,D] (camera frame: z in 1..4 m), query frames [N].

    kinds: random; all_occluded (truth occluded everywhere); one_point; nan_before_query (tracks
    NaN and occluded before each query frame, as permask's trackers write them); last_frame
    (every query at the last frame); scaled (prediction = truth x 0.7 + noise: scaling matters).
    """
    rng = np.random.default_rng(seed)
    if kind == "one_point":
        N = 1
    gt = rng.normal(size=(N, T, D)) * 0.3
    gt[..., -1] += rng.uniform(1, 4, size=(N, 1))
    factor = 0.7 if kind == "scaled" else 1.0
    pred = gt * factor + rng.normal(size=gt.shape) * rng.choice([0.003, 0.02, 0.2], size=(N, 1, 1))
    gt_occ = rng.random((N, T)) < 0.3
    pred_occ = rng.random((N, T)) < 0.3
    q = rng.integers(0, T, N)
    if kind == "last_frame":
        q[:] = T - 1
    gt_occ[np.arange(N), q] = False  # a query is seen at its frame
    if kind == "all_occluded":
        gt_occ[:] = True
    if kind in ("nan_before_query", "last_frame"):
        before = np.arange(T)[None] < q[:, None]
        gt[before], pred[before] = np.nan, np.nan
        gt_occ |= before
        pred_occ |= before
    return gt_occ, gt, pred_occ, pred, q


KINDS = ("random", "all_occluded", "one_point", "nan_before_query", "last_frame", "scaled")
INTRINSICS = np.array([180.0, 160.0, 128.0, 96.0])


def assert_same(ours: dict, theirs: dict, atol=1e-9, rtol=0.0):
    assert ours.keys() == {k for k in theirs}, (sorted(ours), sorted(theirs))
    for k in ours:
        np.testing.assert_allclose(np.asarray(ours[k], np.float64),
                                   np.asarray(theirs[k], np.float64).reshape(np.shape(ours[k])),
                                   rtol=rtol, atol=atol, equal_nan=True, err_msg=k)


def _queries_tyx(q):
    return np.stack([q, np.zeros_like(q), np.zeros_like(q)], -1).astype(np.float64)


def _stack_shim():
    """numpy as the reference uses it, but stacking 0-d figures at axis -2 stacks them at 0:
    the video figure the reference means for `local_neighborhood` (it fails there otherwise)."""
    shim = types.ModuleType("numpy_shim")
    shim.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})

    def stack(arrays, axis=0):
        if axis == -2 and np.ndim(arrays[0]) == 0:
            axis = 0
        return np.stack(arrays, axis=axis)

    def mean(a, axis=None, **kw):
        if axis == -2 and np.ndim(a) == 1:
            axis = 0
        return np.mean(a, axis=axis, **kw)

    shim.stack, shim.mean = stack, mean
    return shim


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scaling", tapvid3d.SCALINGS)
@pytest.mark.parametrize("fixed", [False, True], ids=["adaptive", "fixed"])
def test_tapvid3d_equals_reference(ref3d, monkeypatch, kind, scaling, fixed):
    gt_occ, gt, pred_occ, pred, q = case(kind, seed=len(kind) + len(scaling))
    qp = _queries_tyx(q)
    kwargs = dict(scaling=scaling, fixed_thresholds=fixed)
    ref_kwargs = dict(scaling=scaling, use_fixed_metric_threshold=fixed)
    # per track: the reference answers in every mode
    ours = tapvid3d.tapvid3d_metrics(gt_occ, gt, pred_occ, pred, INTRINSICS, query_points=qp,
                                     trackwise=True, **kwargs)
    with quiet():
        theirs = ref3d.compute_tapvid3d_metrics(
            gt_occ, gt, pred_occ, pred, INTRINSICS, get_trackwise_metrics=True,
            query_points=qp if scaling == "local_neighborhood" else qp[None], **ref_kwargs)
    assert_same(ours, theirs)
    # the video's figure
    ours = tapvid3d.tapvid3d_metrics(gt_occ, gt, pred_occ, pred, INTRINSICS, query_points=qp,
                                     **kwargs)
    if scaling == "local_neighborhood":
        monkeypatch.setattr(ref3d, "np", _stack_shim())
    with quiet():
        theirs = ref3d.compute_tapvid3d_metrics(
            gt_occ, gt, pred_occ, pred, INTRINSICS,
            query_points=qp if scaling == "local_neighborhood" else qp[None], **ref_kwargs)
    assert_same(ours, theirs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query_mode", tapvid2d.QUERY_MODES)
@pytest.mark.parametrize("trackwise", [False, True])
def test_tapvid2d_equals_reference(ref2d, kind, query_mode, trackwise):
    gt_occ, gt, pred_occ, pred, q = case(kind, seed=len(kind), D=2)
    gt, pred = gt * 40 + 128, pred * 40 + 128  # pixels at 256x256, errors of 0.1 to 8 px
    qp = _queries_tyx(q)
    ours = tapvid2d.tapvid_metrics(qp, gt_occ, gt, pred_occ, pred, query_mode, trackwise)
    with quiet():
        theirs = ref2d.compute_tapvid_metrics(qp[None], gt_occ[None], gt[None], pred_occ[None],
                                              pred[None], query_mode, trackwise)
    assert_same(ours, theirs)


def test_tapvid2d_to_256():
    np.testing.assert_allclose(tapvid2d.to_256(np.array([[64.0, 48.0]]), 96, 128), [[128, 128]])


MV_KINDS = tuple(k for k in KINDS if k != "all_occluded")


@pytest.mark.parametrize("kind", MV_KINDS)
@pytest.mark.parametrize("setting", sorted(mvt.SETTINGS))
def test_mvtracker_equals_reference(refmv, kind, setting):
    """All groups and figures of `evaluate_predictions`, before its 2-decimal rounding: to float32
    rounding (both run in float32; torch and numpy may sum a mean in another order)."""
    gt_occ, gt, pred_occ, pred, q = case(kind, seed=3 + len(kind), N=40, T=12)
    gt_tracks, pred_tracks = gt.transpose(1, 0, 2), pred.transpose(1, 0, 2)  # [T,N,3]
    gt_vis, pred_occluded = ~gt_occ.T, pred_occ.T
    gt_tracks = np.where(np.isnan(gt_tracks), 0.0, gt_tracks)  # the reference asserts no NaN
    pred_tracks = np.where(np.isnan(pred_tracks), 0.0, pred_tracks)
    qp = np.concatenate([q[:, None], gt_tracks[q, np.arange(len(q))]], -1)
    s = mvt.SETTINGS[setting]
    ours = mvt.evaluate_predictions(gt_tracks, gt_vis, pred_tracks, pred_occluded, qp, s)
    unrounded = refs.mvtracker_unrounded(refmv, gt_tracks, gt_vis, pred_tracks, pred_occluded, qp, s)
    assert ours.keys() == unrounded.keys()
    assert ours or kind in ("one_point", "last_frame")  # too few visible frames to score
    for group in ours:
        assert_same(ours[group], unrounded[group], atol=1e-9, rtol=2e-6)
    # and the reference's own table, rounded to 2 decimals
    with quiet():
        df, _ = refmv.evaluate_predictions(
            gt_tracks, gt_vis, pred_tracks, pred_occluded, qp,
            distance_thresholds=list(s.distance_thresholds),
            survival_distance_threshold=s.survival_threshold,
            static_threshold=s.static_threshold, dynamic_threshold=s.dynamic_threshold,
            very_dynamic_threshold=s.very_dynamic_threshold)
    for group in ours:
        for name, value in ours[group].items():
            assert abs(round(value, 2) - df.loc[name, group]) < 0.0100001 or (
                np.isnan(value) and np.isnan(df.loc[name, group])), (group, name)


def test_mvtracker_all_occluded_scores_no_track():
    gt_occ, gt, pred_occ, pred, q = case("all_occluded", N=5)
    qp = np.concatenate([q[:, None].astype(float), np.zeros((5, 3))], -1)
    out = mvt.evaluate_predictions(gt.transpose(1, 0, 2), ~gt_occ.T, pred.transpose(1, 0, 2),
                                   pred_occ.T, qp, mvt.SETTINGS["dexycb-multiview"])
    assert out == {}


def test_lower_median_as_torch():
    x = np.array([[1.0, np.nan], [4.0, np.nan], [2.0, 5.0], [3.0, np.nan]], np.float32)
    np.testing.assert_array_equal(mvt._lower_nanmedian(x), np.array([2.0, 5.0], np.float32))
