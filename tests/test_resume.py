"""Interruptions and reruns with real subprocesses: nothing half-written, resume reuses what was
finished, and the end result equals an uninterrupted run."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import ROOT
from tests.helpers.runners import run_cli

pytestmark = pytest.mark.slow  # kills and resumes real run.py processes: `pytest -m slow`

# the default demo size: long enough per instance (~1 s) to be killed in the middle of one
ARGS = ["query.max_points=150", "record.log_video=false", "progress=false"]
IDS = ("instance_0", "instance_1", "instance_2")


def tracked(out, iid):
    return out / f"demo_lk_{iid}_tracked.npz"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("reference")
    proc = run_cli([*ARGS, f"output_dir={out}"])
    assert proc.returncode == 0, proc.stderr
    return out


def _as_in_a_terminal():
    """Ctrl-C's default action in the child: a shell starts background jobs (`pytest ... &`,
    nohup) with SIGINT ignored, which the child would inherit and rightly keep."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(out):
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *ARGS, f"output_dir={out}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_as_in_a_terminal)


def wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def assert_no_half_files(out):
    for npz in out.rglob("*.npz"):
        with np.load(npz) as f:  # a half-written zip would not open
            f.files
    from permask.record.readback import summarize
    for rrd in out.glob("*.rrd"):
        summarize(rrd)


def assert_same_as(out, reference):
    for iid in IDS:
        with np.load(tracked(out, iid)) as a, np.load(tracked(reference, iid)) as b:
            np.testing.assert_array_equal(a["tracks_3d"], b["tracks_3d"])
            np.testing.assert_array_equal(a["visibility"], b["visibility"])
            np.testing.assert_array_equal(a["query_points"], b["query_points"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_kill_mid_instance_then_resume(sig, reference, tmp_path):
    out = tmp_path / "run"
    proc = start(out)
    wait_for(tracked(out, "instance_0"), proc)
    time.sleep(0.1)  # now inside instance_1
    started = time.time()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert time.time() - started < 10, "did not stop promptly"
    if sig == signal.SIGKILL:
        assert proc.returncode == -9
    else:
        assert proc.returncode == 130, stderr
        assert "Resume with:" in stderr and "Traceback" not in stderr
        assert "instance_0" in stderr
    assert not tracked(out, "instance_2").exists()
    assert_no_half_files(out)

    again = run_cli([*ARGS, f"output_dir={out}"])
    assert again.returncode == 0, again.stderr
    assert re.search(r"reused \d+ finished instance\(s\)[^\n]*instance_0", again.stdout)
    assert "instance_0: 150 points, reused" in again.stdout  # the plain per-instance line
    assert_same_as(out, reference)
    assert not list(out.rglob(".*.tmp*")), "temporary files left behind"


def test_changed_setting_reruns_instances(reference, tmp_path):
    out = tmp_path / "run"
    assert run_cli([*ARGS, f"output_dir={out}", "instances=[instance_2]"]).returncode == 0
    proc = run_cli([*ARGS, f"output_dir={out}", "instances=[instance_2]", "query.seed=1"])
    assert proc.returncode == 0, proc.stderr
    assert "reused" not in proc.stdout
    proc = run_cli([*ARGS, f"output_dir={out}", "instances=[instance_2]", "query.seed=1"])
    assert "reused 1" in proc.stdout


def test_output_of_another_input_is_not_mixed(reference, tmp_path):
    from permask.demo.params import DemoParams
    from permask.demo.scene import make_demo_scene
    npz = tmp_path / "other.npz"
    np.savez(npz, **make_demo_scene(DemoParams(num_views=2, num_frames=6, height=48, width=64)))
    proc = run_cli([f"input.npz={npz}", f"output_dir={reference}", "progress=false"])
    assert proc.returncode == 2 and "different input" in proc.stderr
    proc = run_cli([*ARGS, f"output_dir={reference}", "on_existing=error"])
    assert proc.returncode == 2 and "already holds results" in proc.stderr


def test_unwritable_output_fails_before_work(tmp_path):
    target = tmp_path / "file_not_dir"
    target.write_text("x")
    proc = run_cli([*ARGS, f"output_dir={target / 'sub'}"])
    assert proc.returncode == 2 and "output_dir" in proc.stderr
