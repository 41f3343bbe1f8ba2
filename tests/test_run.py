"""End-to-end through `python run.py` (a real subprocess, as a user runs it)."""

import json

import numpy as np
import pytest

from permask.demo.params import DemoParams
from permask.demo.scene import make_demo_scene
from permask.record.paths import cloud_path, image_path, track_path
from permask.record.readback import summarize
from tests.helpers.overrides import SMALL_DEMO, quick
from tests.helpers.runners import run_cli

pytestmark = pytest.mark.slow  # real run.py subprocesses: `pytest -m slow`

FAST = quick(max_points=60, record=True)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("run") / "demo"
    proc = run_cli([*FAST, f"output_dir={out}"])
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_demo_run_writes_every_output(demo_run):
    out, proc = demo_run
    ids = ["instance_0", "instance_1", "instance_2"]
    for iid in ids:
        assert (out / "instances" / f"demo_{iid}.npz").is_file()
        assert (out / "instances" / f"demo_{iid}_query.npz").is_file()
        assert (out / f"demo_lk_{iid}.rrd").is_file()
        assert (out / f"demo_lk_{iid}_tracked.npz").is_file()
    assert (out / "demo_lk_combined.rrd").is_file()
    assert (out / "view_demo_lk_combined.sh").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["instances"]) == set(ids)
    for iid in ids:
        assert metrics["instances"][iid]["AJ"] > 0.2
    # the table names every instance and the outputs
    for iid in ids:
        assert iid in proc.stdout
    assert "AJ" in proc.stdout and "demo_lk_combined.rrd" in proc.stdout
    assert not list(out.rglob("*.tmp*")), "temporary files left behind"


def test_tracked_npz_contents(demo_run):
    out, _ = demo_run
    with np.load(out / "demo_lk_instance_1_tracked.npz") as f:  # pickle-free: no allow_pickle
        T, N = f["visibility"].shape
        assert f["tracks_3d"].dtype == np.float32 and f["tracks_3d"].shape == (T, N, 3)
        assert f["visibility"].dtype == bool
        assert f["query_points"].dtype == np.float32 and f["query_points"].shape == (N, 4)
        assert str(f["instance_id"]) == "instance_1"
        assert T == SMALL_DEMO["num_frames"] and 0 < N <= 60


def test_combined_recording_is_a_true_merge(demo_run):
    out, _ = demo_run
    combined = summarize(out / "demo_lk_combined.rrd")
    single = summarize(out / "demo_lk_instance_0.rrd")
    for iid in ("instance_0", "instance_1", "instance_2"):
        assert combined.rows.get(track_path("lk", iid), 0) > 0
    assert single.rows.get(track_path("lk", "instance_0"), 0) > 0
    assert track_path("lk", "instance_1") not in single.rows
    # scene context once: a camera's cloud at every frame in the combined file; a per-instance
    # file, viewable alone, has it at every record.instance_cloud_stride-th (4) frame
    cloud = cloud_path("cam_00")
    frames = combined.rows[track_path("lk", "instance_0")]
    assert combined.rows[cloud] == frames and single.rows[cloud] == -(-frames // 4)
    assert single.rows[image_path("cam_00")] == combined.rows[image_path("cam_00")] == frames
    assert combined.has_blueprint
    assert (combined.application_id, combined.recording_id) == (single.application_id,
                                                                single.recording_id)


def test_run_writes_its_view_script(demo_run):  # quoting: tests/test_record.py
    out, _ = demo_run
    text = (out / "view_demo_lk_combined.sh").read_text()
    assert "demo_lk_instance_0.rrd" in text and text.startswith("#!/usr/bin/env bash")


def test_instances_subset_gives_identical_tracks(demo_run, tmp_path):
    """Independence through the whole runner: instance_1 alone == instance_1 among all."""
    out_all, _ = demo_run
    proc = run_cli([*FAST, f"output_dir={tmp_path}", "instances=[instance_1]", "record.enabled=false"])
    assert proc.returncode == 0, proc.stderr
    with np.load(out_all / "demo_lk_instance_1_tracked.npz") as a, \
            np.load(tmp_path / "demo_lk_instance_1_tracked.npz") as b:
        np.testing.assert_array_equal(a["tracks_3d"], b["tracks_3d"])
        np.testing.assert_array_equal(a["visibility"], b["visibility"])
    assert not (tmp_path / "demo_lk_instance_0_tracked.npz").exists()


def test_reuse_split_runs_other_tracker(demo_run, tmp_path):
    out_all, _ = demo_run
    proc = run_cli([*FAST, f"output_dir={tmp_path}", "tracker=static", "record.enabled=false",
                    f"split.reuse_dir={out_all / 'instances'}"])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo_static_instance_2_tracked.npz").is_file()


def write_scene(path, **changes):
    arrays = make_demo_scene(DemoParams(num_views=2, num_frames=8, height=64, width=80))
    arrays.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del arrays[k]
    np.savez(path, **arrays)
    return path


def test_own_file_with_the_documented_overrides(tmp_path):
    npz = write_scene(tmp_path / "scene.npz")
    before = npz.read_bytes()
    out = tmp_path / "out" / "scene"
    proc = run_cli([f"input.npz={npz}", "input.mask_key=sam2_masks", "base_name=scene",
                    f"output_dir={out}", "tracker=lk", "query=contact_window",
                    "query.frames_before=3", "query.frames_after=10", "query.max_points=40",
                    "temporal_stride=2", "progress=false"])
    assert proc.returncode == 0, proc.stderr
    assert (out / "scene_lk_combined.rrd").is_file()
    with np.load(out / "scene_lk_instance_0_tracked.npz") as f:
        assert f["tracks_3d"].shape[0] == 4  # 8 frames at stride 2
        np.testing.assert_array_equal(f["frame_indices"], [0, 2, 4, 6])
    assert npz.read_bytes() == before


def test_query_npz_per_instance_at_later_frames(tmp_path):
    from permask.config import QueryConfig
    from permask.queries import build_queries
    from permask.inputs.load import load_scene
    arrays = make_demo_scene(DemoParams(num_views=2, num_frames=8, height=64, width=80))
    np.savez(tmp_path / "plain.npz", **arrays)
    scene = load_scene(tmp_path / "plain.npz")
    # lifted at the contact frame (> 0): the run must start each track there
    q = build_queries(scene, "instance_2", QueryConfig(mode="contact_window", frames_before=0,
                                                       frames_after=0, max_points=20))
    assert q.frame.min() > 0
    arrays["query_points/instance_2"] = q.points
    npz = tmp_path / "q.npz"
    np.savez(npz, **arrays)
    out = tmp_path / "out"
    proc = run_cli([f"input.npz={npz}", "query=npz", f"output_dir={out}", "progress=false",
                    "record.enabled=false"])
    assert proc.returncode == 0, proc.stderr
    with np.load(out / "demo_lk_instance_2_tracked.npz") as f:
        np.testing.assert_allclose(f["query_points"], q.points)
        t0 = int(q.points[0, 0])
        assert np.isnan(f["tracks_3d"][:t0]).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert "instance_0" in metrics["skipped"] or "instance_0" not in metrics["instances"]


def test_monocular_file(tmp_path):
    arrays = make_demo_scene(DemoParams(num_views=1, num_frames=8, height=64, width=80))
    npz = tmp_path / "mono.npz"
    np.savez(npz, **arrays)
    proc = run_cli([f"input.npz={npz}", f"output_dir={tmp_path / 'out'}", "progress=false",
                    "query.max_points=30"])
    assert proc.returncode == 0, proc.stderr


def test_empty_instance_is_skipped_others_run(tmp_path):
    arrays = make_demo_scene(DemoParams(num_views=2, num_frames=8, height=64, width=80))
    masks = dict(arrays["sam2_masks"].item())
    masks["instance_1"] = np.zeros_like(masks["instance_1"])
    arrays["sam2_masks"] = np.empty((), dtype=object)  # 0-d object array, the pickled form
    arrays["sam2_masks"][()] = masks
    npz = tmp_path / "s.npz"
    np.savez(npz, **arrays)
    out = tmp_path / "out"
    proc = run_cli([f"input.npz={npz}", f"output_dir={out}", "progress=false", "query.max_points=30"])
    assert proc.returncode == 0, proc.stderr
    assert "instance_1" in proc.stderr or "instance_1" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert "instance_1" in metrics["skipped"] and "instance_0" in metrics["instances"]


# ------------------------------------------- bad input: the corpus is in tests/test_bad_input.py

def test_unknown_instance_exits_2(tmp_path, cache_dir):
    proc = run_cli([*FAST, f"output_dir={tmp_path}", "instances=[instance_99]"])
    assert proc.returncode == 2
    assert "instance_99" in proc.stderr and "instances" in proc.stderr


def test_help_and_cfg_job():
    """--help prints the groups Hydra finds (what it lists: tests/test_plugins.py); --cfg job
    prints the composed config as YAML."""
    import yaml
    proc = run_cli(["--help"])
    assert proc.returncode == 0, proc.stderr
    for group in ("tracker", "depth", "query", "sweep", "hydra/launcher"):
        assert f"== {group}=NAME" in proc.stdout, group
    proc = run_cli(["--cfg", "job"])
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load(proc.stdout)
    assert job["tracker"]["name"] == "lk" and job["input"]["mask_key"] == "sam2_masks"
    assert job["depth"]["name"] == "gt" and job["query"]["mode"] == "first_frame"
