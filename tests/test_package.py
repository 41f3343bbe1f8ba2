"""The installed package: a built wheel, installed outside the checkout, gives a
`permask` command that runs the demo and a sweep from an empty folder, with clean logs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # builds a wheel: `pytest -m slow`

QUICK = ["progress=true", "query.max_points=8", "input.demo.num_frames=5", "record.enabled=false"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel installed into a folder of its own (dependencies: this environment's)."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp / "dist").glob("permask-*.whl"))
    site = tmp / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(site), str(wheel)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    empty = tmp / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PERMASK_CACHE_DIR": str(tmp / "cache")}
    return site, empty, env


def _run(installed, *args):
    site, empty, env = installed
    return subprocess.run([str(site / "bin" / "permask"), *args], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wheel_holds_configs_license_and_types(installed):
    site, empty, env = installed
    where = subprocess.run([sys.executable, "-c", "import permask; print(permask.__file__)"],
                           cwd=empty, env=env, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(site))  # not the checkout
    assert (site / "permask" / "conf" / "config.yaml").is_file()
    assert (site / "permask" / "py.typed").is_file()
    assert list(site.glob("permask-*.dist-info/licenses/LICENSE"))


def test_permask_runs_the_demo_with_clean_logs(installed):
    proc = _run(installed, *QUICK, "output_dir=demo")
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stderr, proc.stdout):  # piped: no bars, no escapes, no carriage returns
        assert "\x1b" not in text and "\r" not in text
    log = (installed[1] / "demo" / "run.log").read_text()
    assert "per instance" in log and "overall" in log  # the report is in the run's log
    assert "instance_0: 8 points, tracked" in log  # one plain line per instance


def test_permask_sweep_writes_the_comparison(installed):
    proc = _run(installed, "-m", "tracker=static,lk", *QUICK, "sweep_dir=sweep")
    assert proc.returncode == 0, proc.stderr
    assert (installed[1] / "sweep" / "comparison.md").is_file()
    site, empty, env = installed
    compare = subprocess.run([sys.executable, "-m", "permask.compare", "sweep"], cwd=empty,
                             env=env, capture_output=True, text=True, timeout=300)
    assert compare.returncode == 0, compare.stderr


def test_a_failed_start_leaves_no_folder(installed):
    proc = _run(installed, "tracker=mvtracker", "tracker.hub_repo=/nonexistent", "output_dir=x/y")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert not (installed[1] / "x").exists()


def test_the_installed_permask_inspects(installed):
    """`permask inspect` from the wheel: the run's demo folder checks out, a missing file is
    the run's one line with exit 2, and `python -m permask.inspect` is the same command."""
    _run(installed, *QUICK, "output_dir=inspected")
    proc = _run(installed, "inspect", "inspected", "--verify")
    assert proc.returncode == 0 and "0 with problems" in proc.stdout, proc.stderr
    missing = _run(installed, "inspect", "nothing.npz")
    assert missing.returncode == 2 and missing.stderr.startswith("permask: error: ")
    assert missing.stderr.count("\n") == 1
    site, empty, env = installed
    module = subprocess.run([sys.executable, "-m", "permask.inspect", "--json"], cwd=empty,
                            env=env, capture_output=True, text=True, timeout=300)
    assert module.returncode == 0 and '"instance_2"' in module.stdout, module.stderr
