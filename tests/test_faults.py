"""Faults at every write a run makes (tests/faults.py enumerates them): a disk that fills up at
each write gives one line naming the file, exit 2; a SIGKILL at each write, then the same command
again, gives what an uninterrupted run gives; nothing half-written ever lies under a final name.

The in-process cases run by default; the end-to-end ones (`python -m tests.faults`, which is
`python run.py` with the faults installed) and the sweep are in the slow suite.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from permask.errors import OutputError
from tests import faults
from tests.helpers import ROOT
from tests.helpers.bad_inputs import small_masks, with_masks
from tests.helpers.outputs import assert_complete, temporaries
from tests.helpers.overrides import quick
from tests.helpers.runs import run_on

TINY_DEMO = {"num_views": 2, "num_frames": 6, "height": 48, "width": 64}
RUN = quick(max_points=8, record=True, **TINY_DEMO)


# ------------------------------------------------------------------ in process (default run)


def _recording_handler(path: Path) -> logging.FileHandler:
    handler = logging.FileHandler(path)
    logging.getLogger().addHandler(handler)
    return handler


def test_a_full_disk_while_reporting_an_error_leaves_the_error_as_the_one_line(
        tmp_path, monkeypatch, capsys):
    """The error path appends its line to run.log; on a full disk that write fails too, and
    must not replace the error (before: a traceback, exit 1)."""
    from permask import cli

    handler = _recording_handler(tmp_path / "run.log")
    try:
        faults.install(faults.Plan("enospc", 0, tmp_path), monkeypatch.setattr)
        handler.stream = None  # reopened through the faulty writer on the next write
        with pytest.raises(SystemExit) as stop:
            cli._fail("permask: error: out/x.npz: cannot write: no space left on the device",
                      tmp_path, 2)
    finally:
        logging.getLogger().removeHandler(handler)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == "permask: error: out/x.npz: cannot write: no space left on the device\n"


def test_a_log_line_that_cannot_be_written_is_kept_as_the_runs_error(tmp_path, monkeypatch,
                                                                       capsys):
    from permask.logs import guard_run_log, run_log_failure

    handler = _recording_handler(tmp_path / "run.log")
    try:
        faults.install(faults.Plan("enospc", 0, tmp_path), monkeypatch.setattr)
        handler.stream = None
        guard_run_log()
        logging.getLogger("permask.test").warning("a line for the log")
        failure = run_log_failure()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "Logging error" not in capsys.readouterr().err
    assert isinstance(failure, OutputError)
    assert str(failure) == f"{tmp_path / 'run.log'}: cannot write: no space left on the device"


def _write_points(path: Path, out: Path, monkeypatch) -> list[str]:
    log = out.parent / "writes.txt"
    with monkeypatch.context() as patch:
        faults.install(faults.Plan("count", -1, out, log), patch.setattr)
        run_on(path, out, "record.enabled=true")
    return log.read_text().splitlines()


def test_a_full_disk_at_every_write_of_a_run_is_one_error(tmp_path, monkeypatch):
    """In process (the pipeline, no Hydra): the disk fills at write k, for every k."""
    path = tmp_path / "scene.npz"
    np.savez(path, **with_masks(small_masks()))
    points = _write_points(path, tmp_path / "count" / "out", monkeypatch)
    kinds = {p.split()[0] for p in points}
    assert kinds == {"lock", "replace"} and len(points) >= 10, points
    for at, point in enumerate(points):
        out = tmp_path / f"full_{at}" / "out"
        with monkeypatch.context() as patch:
            faults.install(faults.Plan("enospc", at, out), patch.setattr)
            with pytest.raises(OutputError) as info:
                run_on(path, out, "record.enabled=true")
        line = str(info.value)
        assert "no space left on the device" in line and str(out / point.split()[1]) in line, \
            (point, line)
        assert not temporaries(out), (point, temporaries(out))
        assert_complete(out)


# ------------------------------------------------------------------ end to end (slow suite)


def run_faulty(mode: str, at: int, out: Path, args: list[str], log_file: Path | None = None,
               cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python run.py ARGS` with `tests.faults` installed, watching `out`."""
    env = dict(os.environ, PERMASK_FAULT=f"{mode}:{at}:{out}:{log_file or ''}",
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tests.faults", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("permask: error: "), proc.stderr[-3000:]
    return lines[0]


def enumerate_writes(out: Path, args: list[str]) -> list[str]:
    log = out.parent / f"{out.name}-writes.txt"
    proc = run_faulty("count", -1, out, args, log)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return log.read_text().splitlines()


def tracked_results(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every tracked file's tracks and visibility, by path inside `folder`."""
    found = {}
    for path in sorted(folder.rglob("*_tracked.npz")):
        with np.load(path) as f:
            found[str(path.relative_to(folder))] = {k: f[k] for k in ("tracks_3d", "visibility")}
    return found


def assert_same_results(resumed: Path, whole: Path) -> None:
    got, want = tracked_results(resumed), tracked_results(whole)
    assert got.keys() == want.keys() and want
    for name in want:
        for key in want[name]:
            np.testing.assert_array_equal(got[name][key], want[name][key], err_msg=name)
    for path in whole.rglob("metrics.json"):
        rel = path.relative_to(whole)
        assert (json.loads((resumed / rel).read_text())["instances"]
                == json.loads(path.read_text())["instances"]), rel


@pytest.mark.slow
def test_cli_full_disk_at_every_write_is_one_line_exit_2(tmp_path, cache_dir):
    """Hydra's records, the lock, the manifest, every output and run.log: each write in turn is
    where the disk fills up."""
    points = enumerate_writes(tmp_path / "count", [f"output_dir={tmp_path / 'count'}", *RUN])
    assert {p.split()[0] for p in points} == {"config", "lock", "log", "replace"}, points
    for at, point in enumerate(points):
        out = tmp_path / f"full_{at}"
        line = one_line(run_faulty("enospc", at, out, [f"output_dir={out}", *RUN]))
        assert "no space left on the device" in line and str(out) in line, (point, line)
        assert not temporaries(out), point
        assert_complete(out)


@pytest.mark.slow
def test_cli_killed_at_every_write_then_resumed_equals_an_uninterrupted_run(tmp_path, cache_dir):
    whole = tmp_path / "whole"
    points = enumerate_writes(whole, [f"output_dir={whole}", *RUN])
    for at, point in enumerate(points):
        out = tmp_path / f"kill_{at}"
        proc = run_faulty("kill", at, out, [f"output_dir={out}", *RUN])
        assert proc.returncode == -9, (point, proc.returncode, proc.stderr[-2000:])
        assert_complete(out)  # a temporary may be left, never a half file under a final name
        again = run_faulty("count", -1, tmp_path / "elsewhere", [f"output_dir={out}", *RUN])
        assert again.returncode == 0, (point, again.stderr[-3000:])
        assert not temporaries(out), (point, temporaries(out))
        assert_same_results(out, whole)


SWEEP = [*quick(max_points=8, **TINY_DEMO), "tracker=static,lk",
         "hydra.callbacks.compare.plots=false"]


@pytest.mark.slow
def test_sweep_killed_at_every_write_then_rerun_equals_an_uninterrupted_sweep(tmp_path,
                                                                            cache_dir):
    whole = tmp_path / "whole"
    points = enumerate_writes(whole, ["-m", f"sweep_dir={whole}", *SWEEP])
    assert any(p.endswith("comparison.csv") for p in points), points
    for at, point in enumerate(points):
        out = tmp_path / f"kill_{at}"
        proc = run_faulty("kill", at, out, ["-m", f"sweep_dir={out}", *SWEEP])
        assert proc.returncode == -9, (point, proc.returncode, proc.stderr[-2000:])
        assert_complete(out)
        again = run_faulty("count", -1, tmp_path / "elsewhere", ["-m", f"sweep_dir={out}",
                                                                 *SWEEP])
        assert again.returncode == 0, (point, again.stderr[-3000:])
        assert not temporaries(out), (point, temporaries(out))
        assert_same_results(out, whole)
        assert (out / "comparison.csv").read_text() == (whole / "comparison.csv").read_text()


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_line(tmp_path, cache_dir):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        line = one_line(run_faulty("count", -1, tmp_path / "none", [f"output_dir={out}", *RUN]))
    finally:
        out.chmod(0o755)
    assert str(out) in line and "output_dir" in line


@pytest.mark.slow
def test_parallel_sweep_and_a_second_sweep_into_its_folder(tmp_path, cache_dir):
    """Two joblib workers write sibling job folders; a second sweep started into the same
    sweep folder while the first runs is refused in one line; the first sweep's results are
    whole and only its own."""
    import time

    sweep = tmp_path / "sweep"
    args = [sys.executable, str(ROOT / "run.py"), "-m", f"sweep_dir={sweep}",
            *quick(), "tracker=static,lk", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    lock = sweep / ".permask" / "lock"
    deadline = time.monotonic() + 120
    while not (lock.is_file() and lock.read_text().startswith(f"pid {first.pid} ")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.2)
    second = subprocess.run([*args[:3], f"sweep_dir={sweep}", *args[4:]], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    running = first.poll() is None
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert running, "the first sweep ended before the second started; make it longer"
    line = one_line(second)
    assert str(sweep) in line and "sweep_dir" in line and f"pid {first.pid}" in line, line
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name.rsplit("tracker=", 1)[1] for p in jobs] == ["lk", "static"]
    for job in jobs:
        tracker = job.name.rsplit("tracker=", 1)[1]
        names = [p.name for p in job.glob("*_tracked.npz")]
        assert names and all(f"_{tracker}_" in n for n in names), names
        assert not temporaries(job)
        assert_complete(job)
    with open(sweep / "comparison.csv", newline="") as fh:
        assert {row["label"] for row in csv.DictReader(fh)} == {"static", "lk"}
