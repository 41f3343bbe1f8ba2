"""Multirun launch: the sweep folder pinned to an absolute path on the driver, the cluster checks
(one line, exit 2, when there is no SLURM or Ray cluster), and a real sweep through SLURM
(`scripts/slurm.sh start` runs a one-node SLURM on this machine; .ci/run starts it)."""

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from permask.errors import ConfigError, LauncherError
from permask.launchers import check_launcher, check_ray_cluster, check_slurm, pin_sweep_dir
from tests.helpers import ROOT
from tests.helpers.overrides import quick
from tests.helpers.runners import run_cli

QUICK = quick(num_frames=8)
SLURM_DIR = Path(os.environ.get("PERMASK_SLURM_DIR", "/var/tmp/permask-slurm"))
# what a job may ask of the one-node test cluster (the preset asks for 8 CPUs, a GPU, 32 GB)
SLURM_SMALL = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.gpus_per_node=0",
               "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10"]


def hydra_cfg(sweep_dir, overrides=()):
    return OmegaConf.create({"hydra": {"sweep": {"dir": sweep_dir},
                                       "overrides": {"hydra": list(overrides), "task": []}}})


def parsed(override):
    return OverridesParser.create().parse_override(override).value()


# ------------------------------------------------------------------------------ sweep folder


def test_pin_sweep_dir_makes_it_absolute_for_every_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = hydra_cfg("multirun/a b,c=d", ["hydra/launcher=joblib", "hydra.sweep.dir=old"])
    folder = pin_sweep_dir(cfg)
    assert folder == tmp_path / "multirun/a b,c=d" and folder.is_absolute()
    assert cfg.hydra.sweep.dir == str(folder)
    overrides = list(cfg.hydra.overrides.hydra)
    assert overrides[0] == "hydra/launcher=joblib" and len(overrides) == 2  # the old one replaced
    assert parsed(overrides[1]) == str(folder)


@pytest.mark.parametrize("name", ["it's", 'say "x"', "back\\slash", "dollar\\${x}"])
def test_pin_sweep_dir_round_trips_or_refuses(tmp_path, name):
    cfg = hydra_cfg(str(tmp_path / name))
    name = name.replace("\\$", "$")  # OmegaConf's escape of a literal `${`
    try:
        folder = pin_sweep_dir(cfg)
    except ConfigError as err:
        assert "sweep_dir" in str(err)
        return
    assert parsed(cfg.hydra.overrides.hydra[-1]) == str(folder) == str(tmp_path / name)


# ----------------------------------------------------------------------------- cluster checks


def test_no_slurm_on_path_is_one_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LauncherError, match="srun") as info:
        check_launcher(OmegaConf.create({
            "_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
            "partition": None, "cpus_per_task": 1, "mem_gb": 1, "gpus_per_node": 0}))
    assert "\n" not in str(info.value)


def fake_sinfo(tmp_path, monkeypatch, nodes):
    """sbatch / srun / sinfo on PATH; sinfo prints `nodes` (the `-N -o %P|%c|%m|%G` lines)."""
    for exe in ("sbatch", "srun"):
        (tmp_path / exe).write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "sinfo").write_text("#!/bin/sh\ncat <<'EOF'\n" + "\n".join(nodes) + "\nEOF\n")
    for exe in ("sbatch", "srun", "sinfo"):
        (tmp_path / exe).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_slurm_partition_and_resources_checked(tmp_path, monkeypatch):
    fake_sinfo(tmp_path, monkeypatch, ["cpu*|16|64000|(null)", "gpu|32|256000|gpu:a100:4(S:0-1)"])
    check_slurm(None, cpus=8, mem_gb=32, gpus=0)
    check_slurm("gpu", cpus=32, mem_gb=200, gpus=4)
    with pytest.raises(LauncherError, match="no SLURM partition 'a100'.*cpu, gpu"):
        check_slurm("a100")
    with pytest.raises(LauncherError, match="default partition has no node with 1 GPUs"):
        check_slurm(None, gpus=1)
    with pytest.raises(LauncherError, match="gpus_per_node"):
        check_slurm("gpu", gpus=8)
    with pytest.raises(LauncherError, match="mem_gb"):
        check_slurm("cpu", mem_gb=100)


def test_slurm_controller_down_is_one_error(tmp_path, monkeypatch):
    fake_sinfo(tmp_path, monkeypatch, [])
    (tmp_path / "sinfo").write_text("#!/bin/sh\necho 'slurm_load_partitions: Unable to contact "
                                    "slurm controller (connect failure)' >&2\nexit 1\n")
    with pytest.raises(LauncherError, match="Unable to contact slurm controller"):
        check_slurm(None)


def test_no_ray_cluster_is_one_error(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # where `auto` looks for a running cluster
    with pytest.raises(LauncherError, match="no Ray cluster runs on this machine"):
        check_ray_cluster("auto")
    with pytest.raises(LauncherError, match="no Ray cluster answers at 127.0.0.1:1"):
        check_ray_cluster("127.0.0.1:1")
    check_ray_cluster("local")  # ray_local starts its own


@pytest.mark.slow
def test_cli_without_a_cluster_says_one_line(tmp_path):
    env = {"RAY_TMPDIR": str(tmp_path), "PATH": str(Path(os.sys.executable).parent)}
    for launcher in ("slurm", "ray_cluster"):
        proc = run_cli(["-m", f"hydra/launcher={launcher}", "tracker=static,lk", *QUICK],
                       cwd=tmp_path, env_extra=env, timeout=120)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("permask: error:"), proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "multirun").exists() or not any((tmp_path / "multirun").rglob("*.npz"))


# ----------------------------------------------------------------------------- a real SLURM


def slurm_unavailable():
    """None when a SLURM controller answers here; else why not (from scripts/slurm.sh)."""
    why = SLURM_DIR / "unavailable"
    started = f"; `sudo {ROOT / 'scripts/slurm.sh'} start` runs one here"
    if why.is_file():
        return f"scripts/slurm.sh could not start SLURM on this machine: {why.read_text().strip()}"
    if shutil.which("sbatch") is None:
        return "no SLURM on this machine (sbatch not on PATH)" + started
    proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return f"SLURM does not answer: {proc.stderr.strip()}" + started
    if not {"idle", "mix"} & set(proc.stdout.split()):
        return f"no idle SLURM node (sinfo: {' '.join(proc.stdout.split())})"
    return None


def jobcomp_lines():
    """The lines of the job completion log (jobcomp/filetxt) of the running SLURM."""
    conf = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    match = re.search(r"^JobCompLoc\s*=\s*(\S+)", conf, re.M)
    if not match or not Path(match.group(1)).is_file():
        return []
    return Path(match.group(1)).read_text().splitlines()


@pytest.mark.slow
def test_sweep_through_slurm(tmp_path, cache_dir):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    # relative sweep_dir: the jobs must still write below the folder the sweep started in
    proc = run_cli(["-m", "hydra/launcher=slurm", "tracker=static,lk", *QUICK, *SLURM_SMALL,
                    "sweep_dir=multirun/slurm"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "slurm"
    with (sweep / "comparison.csv").open() as table:
        assert {row["label"] for row in csv.DictReader(table)} == {"lk", "static"}
    for tracker in ("static", "lk"):
        [job] = sweep.glob(f"*tracker={tracker}")
        assert (job / "metrics.json").is_file()

    # submitit's folders are named <array job id>_<task id>; each job logged from a SLURM node
    tasks = {}
    for folder in (sweep / ".submitit").iterdir():
        if folder.is_dir() and re.fullmatch(r"\d+_\d+", folder.name):
            out = list(folder.glob("*_log.out"))
            assert out and "JobEnvironment(job_id=" + folder.name in out[0].read_text()
            array, task = folder.name.split("_")
            tasks[(array, task)] = folder
    assert len(tasks) == 2 and len({array for array, _ in tasks}) == 1

    # SLURM's own record: both array tasks completed (the job completion log, and `sacct -c`)
    done = {}
    for line in jobcomp_lines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        key = (fields.get("ArrayJobId"), fields.get("ArrayTaskId"))
        if key in tasks:
            done[key] = (fields["JobId"], fields["JobState"])
    assert set(done) == set(tasks) and {state for _, state in done.values()} == {"COMPLETED"}
    sacct = subprocess.run(["sacct", "-c", "-n", "-P", "-o", "JobID,State"], capture_output=True,
                           text=True, timeout=60).stdout
    completed = {line.split("|")[0] for line in sacct.splitlines() if line.endswith("|COMPLETED")}
    assert {job_id for job_id, _ in done.values()} <= completed
