"""Multirun sweeps through `python run.py -m ...`: the comparison callback, the standalone compare
command, the launcher plugins (joblib, submitit local, ray), presets and their shell scripts."""

import csv
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from permask import metrics as met
from permask.compare.runs import Run, assign_labels
from permask.record.paths import cloud_path, image_path, track_path
from permask.record.readback import summarize
from tests.helpers import ROOT
from tests.helpers.overrides import quick
from tests.helpers.runners import run_cli

pytestmark = pytest.mark.slow  # multirun sweeps through run.py and the launchers: `pytest -m slow`

# the ranking sweep runs the small demo (16 frames); the launcher sweeps an 8-frame cut of it
RANK = quick(record=True)
QUICK = quick(num_frames=8)
INSTANCES = ["instance_0", "instance_1", "instance_2"]
GT_SUMMARY = ["AJ", "delta_avg", "OA", "median_error_cm", "survival"]
OUTPUTS = ["comparison.csv", "comparison.md", "comparison_bars.png", "comparison_over_time.png"]


def read_csv(path):
    """(label, instance, metric) -> value, and the rows."""
    rows = list(csv.DictReader(path.open()))
    return {(r["label"], r["instance"], r["metric"]): float(r["value"]) for r in rows}, rows


# Ray picks this machine's network address for its own processes; in tests every Ray process
# talks over loopback only (Ray's switch for that is named after the platforms where it is on).
RAY_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def job_names(sweep_dir):
    """The job folders of a sweep (not its `.permask` lock folder, nor a launcher's own)."""
    return sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def multirun(args, sweep_dir, timeout=120, env_extra=None):
    proc = run_cli(["-m", *args, f"sweep_dir={sweep_dir}"], timeout=timeout, env_extra=env_extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def has_module(name):
    try:  # find_spec raises when a parent package (hydra_plugins) is absent
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def tracker_sweep(tmp_path_factory, cache_dir):
    sweep = tmp_path_factory.mktemp("sweep") / "trackers"
    multirun(["tracker=static,lk", *RANK], sweep)
    return sweep


def test_sweep_jobs_in_folders_named_after_overrides(tracker_sweep):
    jobs = job_names(tracker_sweep)
    assert len(jobs) == 2
    assert jobs[0].endswith("tracker=lk") and jobs[1].endswith("tracker=static"), jobs
    for job in jobs:
        assert (tracker_sweep / job / "metrics.json").is_file()
        assert (tracker_sweep / job / "metrics.md").is_file()
        assert "sweep_dir" not in job and "progress" not in job


def test_callback_writes_comparison(tracker_sweep):
    for name in OUTPUTS + ["demo_comparison.rrd"]:
        assert (tracker_sweep / name).is_file(), name
    values, rows = read_csv(tracker_sweep / "comparison.csv")
    assert list(rows[0]) == ["run", "label", "tracker", "scene", "instance", "metric", "value",
                             "mode", "format_version", "permask_version"]
    assert {r["mode"] for r in rows if r["metric"] == "tapvid3d_AJ"} == {
        "scaling=none, thresholds=adaptive, camera=cam_00, every frame, 256 px short side"}
    assert {r["label"] for r in rows} == {"lk", "static"}
    for label in ("lk", "static"):
        for iid in INSTANCES:
            assert (label, iid, "mask_adherence") in values
            assert (label, iid, "AJ") in values
    text = (tracker_sweep / "comparison.md").read_text()
    assert "| instance | lk | static |" in text and "## AJ" in text and "## mask adherence" in text
    assert "![bars](comparison_bars.png)" in text
    assert not list(tracker_sweep.rglob("*.tmp*"))
    # the PNGs are real pictures
    for png in ("comparison_bars.png", "comparison_over_time.png"):
        assert (tracker_sweep / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lk_ranks_above_static_on_every_gt_metric_and_mask_adherence(tracker_sweep):
    values, rows = read_csv(tracker_sweep / "comparison.csv")
    gt_metrics = sorted({r["metric"] for r in rows
                         if r["metric"] in GT_SUMMARY or r["metric"].startswith(("pts_within_",
                                                                                   "jaccard_"))})
    assert len(gt_metrics) == len(GT_SUMMARY) + 10
    for iid in INSTANCES:
        for metric in [*gt_metrics, "mask_adherence", "motion_adherence", "tracked_at_end"]:
            lk, static = values[("lk", iid, metric)], values[("static", iid, metric)]
            sign = met.direction(metric)
            if metric == "OA":  # `static` calls every point visible: on a demo with little
                # occlusion that is a strong OA baseline, so lk only has to stay close to it
                # (OpenCV builds differ by a point or two here)
                assert lk > static - 0.05, (iid, metric, lk, static)
                continue
            assert sign * lk > sign * static, (iid, metric, lk, static)
    # and the table says so: lk in bold on every instance row of the AJ and adherence tables
    text = (tracker_sweep / "comparison.md").read_text()
    for section in ("## AJ", "## mask adherence"):
        table = text.split(section, 1)[1].split("##", 1)[0]
        for iid in INSTANCES:
            row = next(line for line in table.splitlines() if line.startswith(f"| {iid} |"))
            assert row.split("|")[2].strip().startswith("**"), row
            assert not row.split("|")[3].strip().startswith("**"), row


def test_merged_cross_tracker_recording(tracker_sweep):
    merged = summarize(tracker_sweep / "demo_comparison.rrd")
    for tracker in ("lk", "static"):
        for iid in INSTANCES:
            assert merged.rows.get(track_path(tracker, iid), 0) > 0, (tracker, iid)
    lk_job = next(p for p in tracker_sweep.iterdir() if p.name.endswith("tracker=lk"))
    single = summarize(lk_job / "demo_lk_combined.rrd")
    cloud = cloud_path("cam_00")
    assert merged.rows[cloud] == single.rows[cloud]  # the scene context once
    assert merged.rows[image_path("cam_00")] == single.rows[image_path("cam_00")]
    assert merged.has_blueprint
    assert (merged.application_id, merged.recording_id) == (single.application_id,
                                                            single.recording_id)


def test_per_frame_curves_in_metrics_json(tracker_sweep):
    job = next(p for p in tracker_sweep.iterdir() if p.name.endswith("tracker=lk"))
    data = json.loads((job / "metrics.json").read_text())
    per_frame = data["instances"]["instance_0"]["per_frame"]
    assert per_frame["frame"] == list(range(16))
    for key in ("mask_adherence", "tracked", "median_error_cm", "delta_avg"):
        assert len(per_frame[key]) == 16
    assert "per_frame" not in data["overall"]


def test_tracker_by_mode_sweep_is_one_comparison(tmp_path, cache_dir):
    """`-m tracker=static,lk tracking=per_mask,joint`: one comparison with tracker x mode
    columns, job folders naming the mode, joint jobs writing what per-mask jobs write, the
    merged recording holding every column, and best per mask choosing across modes."""
    multirun(["tracker=static,lk", "tracking=per_mask,joint", *RANK, "video=true",
              "hydra.callbacks.compare.select=aj"], tmp_path, timeout=300)
    jobs = {p.name.split(",tracker=")[1].removesuffix(",video=True"): p
            for p in tmp_path.iterdir() if p.is_dir() and ",tracker=" in p.name}
    assert sorted(jobs) == ["lk,tracking=joint", "lk,tracking=per_mask",
                            "static,tracking=joint", "static,tracking=per_mask"], jobs
    for tracker in ("lk", "static"):
        per_mask, joint = (sorted(p.name for p in jobs[f"{tracker},tracking={m}"].iterdir()
                                  if p.is_file()) for m in ("per_mask", "joint"))
        assert per_mask == joint and f"demo_{tracker}_cam_00.mp4" in joint, joint
        data = json.loads((jobs[f"{tracker},tracking=joint"] / "metrics.json").read_text())
        assert data["tracking"] == "joint"
    labels = ["lk joint", "lk per_mask", "static joint", "static per_mask"]
    values, rows = read_csv(tmp_path / "comparison.csv")
    assert sorted({r["label"] for r in rows}) == labels
    table = (tmp_path / "comparison.md").read_text().split("## AJ", 1)[1].split("##", 1)[0]
    assert "| instance | " + " | ".join(labels) + " |" in table
    merged = summarize(tmp_path / "demo_comparison.rrd")
    for label in labels:
        for iid in INSTANCES:
            assert merged.rows.get(track_path(label, iid), 0) > 0, (label, iid)
    selection = json.loads((tmp_path / "best" / "selection.json").read_text())
    for iid in INSTANCES:
        winner = selection["instances"][iid]["winner"]
        assert winner in labels
        assert values[(winner, iid, "AJ")] == max(values[(label, iid, "AJ")] for label in labels)
    assert (tmp_path / "demo_comparison_cam_00.mp4").is_file()


def test_instance_sweep_aggregates_into_one_table(tmp_path, cache_dir):
    multirun(["instances=[instance_0],[instance_1]", *QUICK], tmp_path)
    jobs = job_names(tmp_path)
    assert any("instances=[instance_0]" in j for j in jobs), jobs
    _, rows = read_csv(tmp_path / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk"}
    assert {r["instance"] for r in rows} >= {"instance_0", "instance_1"}
    text = (tmp_path / "comparison.md").read_text()
    table = text.split("## AJ", 1)[1].split("##", 1)[0]
    assert "| instance | lk |" in table
    assert "| instance_0 |" in table and "| instance_1 |" in table


def test_standalone_compare_over_separate_runs(tmp_path, cache_dir):
    runs = {}
    for tracker in ("static", "lk"):
        runs[tracker] = tmp_path / f"run_{tracker}"
        proc = run_cli([*QUICK, f"tracker={tracker}", f"output_dir={runs[tracker]}"])
        assert proc.returncode == 0, proc.stderr
    # another scene (other content): its own rows and its own recording, never merged
    other = tmp_path / "run_other_scene"
    proc = run_cli([*QUICK, "input.demo.seed=7", "base_name=other", f"output_dir={other}"])
    assert proc.returncode == 0, proc.stderr

    out = tmp_path / "cmp"
    cmd = [sys.executable, "-m", "permask.compare", str(runs["static"]), str(runs["lk"]),
           str(other), "-o", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    values, rows = read_csv(out / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"}
    assert {r["scene"] for r in rows} == {"demo", "other"}
    assert ("lk", "instance_0", "AJ") in values and ("lk", "instance_0", "mask_adherence") in values
    assert "| demo/instance_0 |" in (out / "comparison.md").read_text()
    demo = summarize(out / "demo_comparison.rrd")
    assert demo.rows.get(track_path("lk", "instance_0"), 0) > 0
    assert demo.rows.get(track_path("static", "instance_0"), 0) > 0
    other_rec = summarize(out / "other_comparison.rrd")
    assert track_path("static", "instance_0") not in other_rec.rows
    assert other_rec.recording_id != demo.recording_id

    # re-running a run into its folder (the lead's resume) and comparing again is fine
    proc = run_cli([*QUICK, "tracker=lk", f"output_dir={runs['lk']}"])
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    again, _ = read_csv(out / "comparison.csv")
    assert again == values
    assert not list(out.glob("*.tmp*"))


def test_compare_a_sweep_root_and_errors(tracker_sweep, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "permask.compare", str(tracker_sweep), "-o",
                           str(tmp_path / "again"), "--no-recording", "--no-plots"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "again" / "comparison.csv").is_file()
    assert not (tmp_path / "again" / "demo_comparison.rrd").exists()
    proc = subprocess.run([sys.executable, "-m", "permask.compare", str(tmp_path / "empty_x")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "permask.compare: error:" in proc.stderr


def test_same_command_in_two_folders_gets_two_columns(tmp_path):
    def run(name, tracker):
        return Run(tmp_path / name, {"tracker": tracker, "base_name": "demo",
                                     "input_fingerprint": "f", "instances": {"instance_0": {}}},
                   [f"tracker={tracker}", f"output_dir=x/{name}"])
    runs = [run("a", "lk"), run("b", "lk"), run("c", "static")]
    assign_labels(runs)
    assert runs[0].label != runs[1].label and runs[0].label.startswith("lk")
    assert runs[2].label == "static"


def test_callback_never_fails_the_sweep(tmp_path, caplog):
    from permask.callbacks import CompareCallback
    cfg = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, "record": {"enabled": False}})
    with caplog.at_level(logging.WARNING):
        CompareCallback().on_multirun_end(cfg)  # no job below: a warning, no exception
    assert "no comparison written" in caplog.text
    CompareCallback(enabled=False).on_multirun_end(cfg)


# ------------------------------------------------------------------------------------- launchers


@pytest.mark.skipif(not has_module("hydra_plugins.hydra_joblib_launcher"),
                    reason="hydra-joblib-launcher not installed: pip install -e '.[joblib]'")
def test_joblib_launcher(tmp_path, cache_dir):
    multirun(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "tracker=static,lk", *QUICK],
             tmp_path)
    _, rows = read_csv(tmp_path / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"}


@pytest.mark.skipif(not has_module("hydra_plugins.hydra_submitit_launcher"),
                    reason="hydra-submitit-launcher not installed: pip install -e '.[submitit]'")
def test_submitit_local_launcher(tmp_path, cache_dir):
    multirun(["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
              "tracker=static,lk", *QUICK], tmp_path)
    _, rows = read_csv(tmp_path / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"}
    assert (tmp_path / ".submitit").is_dir()


@pytest.mark.slow
@pytest.mark.skipif(not has_module("hydra_plugins.hydra_ray_launcher") or not has_module("ray"),
                    reason="hydra-ray-launcher / ray not installed: pip install -e '.[ray]'")
def test_ray_launcher_on_a_local_ray_instance(tmp_path, cache_dir):
    multirun(["hydra/launcher=ray_local", "hydra.launcher.ray.init.num_cpus=2",
              "tracker=static,lk", *QUICK], tmp_path, timeout=180, env_extra=RAY_LOOPBACK)
    _, rows = read_csv(tmp_path / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"}


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


@pytest.fixture
def ray_head():
    """A Ray head node on this machine (`ray start --head --block`), stopped afterwards by its
    process id. Token auth explicit on both sides (a driver naming an address does not turn it
    on by itself). Short temp dir: Ray's unix socket paths must stay under ~107 characters."""
    temp = tempfile.mkdtemp(prefix="rayh", dir="/tmp")
    port, client, agent, agent_grpc, runtime_env, metrics = free_ports(6)
    env = {**os.environ, "RAY_AUTH_MODE": "token", **RAY_LOOPBACK}
    log_path = os.path.join(temp, "head.log")
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
             "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
             "--object-store-memory=78643200", f"--ray-client-server-port={client}",
             f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
             f"--runtime-env-agent-port={runtime_env}", f"--metrics-export-port={metrics}"],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "block forever" not in open(log_path).read():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ray head did not start:\n" + open(log_path).read()[-3000:])
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        proc.terminate()  # --block: stops every process of this head node
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started, by its id
            proc.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not has_module("hydra_plugins.hydra_ray_launcher") or not has_module("ray"),
                    reason="hydra-ray-launcher / ray not installed: pip install -e '.[ray]'")
def test_ray_launcher_on_a_running_ray_cluster(tmp_path, cache_dir, ray_head):
    """The default, relative sweep_dir: the jobs (in Ray workers, whose working folder is Ray's)
    write below the folder the sweep was started in, and the comparison finds both runs."""
    address, env = ray_head
    proc = run_cli(["-m", "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={address}",
                    "tracker=static,lk", *QUICK],
                   cwd=tmp_path, env_extra={"RAY_AUTH_MODE": env["RAY_AUTH_MODE"], **RAY_LOOPBACK},
                   timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [sweep] = (tmp_path / "multirun" / "demo").iterdir()
    _, rows = read_csv(sweep / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"}
    assert sorted(p.name.rsplit("tracker=", 1)[-1] for p in sweep.glob("*tracker=*")) == ["lk", "static"]


@pytest.mark.skipif(not has_module("hydra_plugins.hydra_submitit_launcher"),
                    reason="hydra-submitit-launcher not installed")
def test_slurm_preset_composes():
    proc = run_cli(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra",
                    "-p", "hydra.launcher"])
    assert proc.returncode == 0, proc.stderr
    launcher = OmegaConf.create(proc.stdout)
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 1 and launcher.timeout_min > 0


# --------------------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset, params", [
    ("compare_trackers", {"tracker": "static,lk"}),
    ("query_windows", {"query.frames_before": "0,3", "query.frames_after": "5,10"}),
    ("stride_downsample", {"temporal_stride": "1,2", "spatial_downsample": "1,2"}),
])
def test_sweep_presets_compose(preset, params):
    proc = run_cli([f"sweep={preset}", "--cfg", "hydra", "-p", "hydra.sweeper.params"])
    assert proc.returncode == 0, proc.stderr
    assert {k: str(v) for k, v in OmegaConf.create(proc.stdout).items()} == params
    if preset == "query_windows":
        proc = run_cli([f"sweep={preset}", "--cfg", "job", "-p", "query"])
        assert "mode: contact_window" in proc.stdout


def test_preset_script_on_a_file_with_spaces(tmp_path, cache_dir):
    from permask.demo.params import DemoParams
    from permask.demo.scene import make_demo_scene
    npz = tmp_path / "my scene.npz"
    np.savez(npz, **make_demo_scene(DemoParams(num_views=2, num_frames=6, height=48, width=64)))
    work = tmp_path / "work dir"
    work.mkdir()
    proc = subprocess.run(["bash", str(ROOT / "multirun_sweeps" / "compare_trackers.sh"),
                           str(npz), "sam2_masks", "query.max_points=15", "progress=false",
                           "record.enabled=false"],
                          cwd=work, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHON": sys.executable})  # not whatever is on PATH
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = list((work / "multirun" / "my_scene" / "compare_trackers").iterdir())
    assert len(sweeps) == 1
    jobs = job_names(sweeps[0])
    assert len(jobs) == 2 and jobs[0].endswith(",tracker=lk") and jobs[1].endswith(",tracker=static")
    assert all("query.max_points=15" in j and "scene.npz" not in j for j in jobs), jobs
    _, rows = read_csv(sweeps[0] / "comparison.csv")
    assert {r["label"] for r in rows} == {"lk", "static"} and {r["scene"] for r in rows} == {"my_scene"}
