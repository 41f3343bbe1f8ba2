"""`tracking=joint` beside `tracking=per_mask`: the same queries, one call, split back; the mode
is part of a run's identity (resume, comparison labels)."""

from __future__ import annotations

import numpy as np
import pytest

import permask
from permask.compare.runs import Run, assign_labels
from permask.data import Queries, TrackResult
from permask.trackers.joint import split_result, track_jointly, union_scene
from permask.trackers.static import StaticTracker
from tests.helpers.overrides import quick
from tests.helpers.runs import compose, run_on

# small and short: a few seconds per lk run on 2 cores
TINY = quick(max_points=40, num_views=2, num_frames=8, height=72, width=96)
QUERY_KEYS = ("query_points", "query_view", "query_pixel", "query_frame", "instance_id")


def run_mode(tmp_path, mode, *overrides, folder=None):
    out = tmp_path / (folder or mode)
    report = run_on(None, out, *TINY, f"tracking={mode}", *overrides)
    return out, report


def arrays(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def test_query_arrays_are_identical_in_both_modes(tmp_path, cache_dir):
    per_mask, report_p = run_mode(tmp_path, "per_mask", "tracker=static")
    joint, report_j = run_mode(tmp_path, "joint", "tracker=static")
    assert report_j.tracking == "joint" and report_p.tracking == "per_mask"
    ids = sorted(report_p.outcomes)
    assert ids == sorted(report_j.outcomes) and len(ids) == 3
    for iid in ids:
        a = arrays(per_mask / "instances" / f"demo_{iid}_query.npz")
        b = arrays(joint / "instances" / f"demo_{iid}_query.npz")
        for key in QUERY_KEYS:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{iid} {key}")
        ta, tb = (arrays(d / f"demo_static_{iid}_tracked.npz") for d in (per_mask, joint))
        for key in ("query_points", "query_view", "query_pixel"):
            np.testing.assert_array_equal(ta[key], tb[key])
        # static ignores the other instances: the joint call splits back exactly
        np.testing.assert_array_equal(ta["tracks_3d"], tb["tracks_3d"])
        assert "tracking: joint" in str(tb["config"]) and "tracking: per_mask" in str(ta["config"])


@pytest.mark.parametrize("tracker", ["lk", "static"])
def test_one_instance_gives_the_same_tracks_in_both_modes(tmp_path, cache_dir, tracker):
    outs = [run_mode(tmp_path, mode, f"tracker={tracker}", "instances=[instance_0]")[0]
            for mode in ("per_mask", "joint")]
    a, b = (arrays(o / f"demo_{tracker}_instance_0_tracked.npz") for o in outs)
    assert np.isfinite(a["tracks_3d"]).any()
    for key in ("tracks_3d", "visibility", "scores", "query_points", "tracks_2d"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_lk_joint_is_one_call_on_the_union_of_the_masks(small_demo_scene):
    """The call-site joint of a tracker without `track_joint` (lk): one `track` call on every
    query, under one extra instance whose mask is the union; results split back in order."""
    scene = small_demo_scene
    ids = scene.instance_ids[:2]
    queries = {iid: permask.build_queries(scene, iid, compose("query.max_points=7").query)
               for iid in ids}
    calls = []

    class Recording(StaticTracker):
        def track(self, scene_seen, q):
            calls.append((scene_seen, q))
            return super().track(scene_seen, q)

    results = track_jointly(Recording(), scene, queries)
    assert len(calls) == 1
    seen, q = calls[0]
    assert q.instance_id not in ids and q.instance_id in seen.masks
    np.testing.assert_array_equal(seen.masks[q.instance_id],
                                  scene.masks[ids[0]] | scene.masks[ids[1]])
    assert q.instance_id not in scene.masks, "the run's scene is left as it was"
    np.testing.assert_array_equal(q.points, np.concatenate([queries[i].points for i in ids]))
    for iid in ids:
        np.testing.assert_array_equal(results[iid].tracks[0], queries[iid].points[:, 1:])


def test_union_id_never_takes_an_instance_id(small_demo_scene):
    scene = small_demo_scene
    q = Queries("joint", np.zeros((1, 4), np.float32), np.zeros(1, np.int64),
                np.zeros((1, 2), np.float32))
    masks = dict(scene.masks, joint=scene.masks[scene.instance_ids[0]])
    import dataclasses
    scene2 = dataclasses.replace(scene, masks=masks)
    _, everything = union_scene(scene2, {"joint": q})
    assert everything.instance_id != "joint"


def test_split_result_known_slices():
    T = 3
    tracks = np.arange(T * 5 * 3, dtype=np.float32).reshape(T, 5, 3)
    result = TrackResult(tracks, np.ones((T, 5), bool), None)
    q = {k: Queries(k, np.zeros((n, 4), np.float32), np.zeros(n, np.int64),
                    np.zeros((n, 2), np.float32)) for k, n in (("a", 2), ("b", 3))}
    parts = split_result(result, q)
    np.testing.assert_array_equal(parts["a"].tracks, tracks[:, :2])
    np.testing.assert_array_equal(parts["b"].tracks, tracks[:, 2:])
    assert parts["b"].scores is None


def test_resume_never_mixes_modes(tmp_path, cache_dir):
    """A joint run into a per-mask run's folder re-tracks every instance (and the reverse); a
    joint run missing one instance re-runs the joint call and reuses the others."""
    _, first = run_mode(tmp_path, "per_mask", folder="d")
    assert first.reused == []
    out, joint = run_mode(tmp_path, "joint", folder="d")
    assert joint.reused == [], "per-mask results are never reused by a joint run"
    before = arrays(out / "demo_lk_instance_1_tracked.npz")
    (out / "demo_lk_instance_1_tracked.npz").unlink()
    _, again = run_mode(tmp_path, "joint", folder="d")
    assert again.reused == ["instance_0", "instance_2"]
    after = arrays(out / "demo_lk_instance_1_tracked.npz")
    np.testing.assert_array_equal(before["tracks_3d"], after["tracks_3d"])
    _, back = run_mode(tmp_path, "per_mask", folder="d")
    assert back.reused == []


def fake_run(tmp_path, name, tracker, tracking, overrides):
    metrics = {"tracker": tracker, "base_name": "demo", "input_fingerprint": "f",
               "instances": {"instance_0": {}}}
    if tracking is not None:
        metrics["tracking"] = tracking
    return Run(tmp_path / name, metrics, overrides)


def test_labels_are_tracker_by_mode(tmp_path):
    runs = [fake_run(tmp_path, f"{t}{m}", t, m, [f"tracker={t}", f"tracking={m}"])
            for t in ("lk", "static") for m in ("per_mask", "joint")]
    assign_labels(runs)
    assert [r.label for r in runs] == ["lk per_mask", "lk joint", "static per_mask",
                                       "static joint"]
    # runs without the setting (older permask, or no override) are per_mask
    runs = [fake_run(tmp_path, "a", "lk", None, []), fake_run(tmp_path, "b", "lk", "joint",
                                                               ["tracking=joint"])]
    assign_labels(runs)
    assert [r.label for r in runs] == ["lk per_mask", "lk joint"]
    # with other settings swept, the mode joins them
    runs = [fake_run(tmp_path, f"{n}{m}", "lk", m, [f"query.max_points={n}", f"tracking={m}"])
            for n in (5, 9) for m in ("per_mask", "joint")]
    assign_labels(runs)
    assert runs[1].label == "query.max_points=5,tracking=joint"
    # per-mask runs alone keep their labels
    runs = [fake_run(tmp_path, t, t, "per_mask", [f"tracker={t}"]) for t in ("lk", "static")]
    assign_labels(runs)
    assert [r.label for r in runs] == ["lk", "static"]
