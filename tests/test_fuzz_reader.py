"""Fuzzing the reader: valid recordings of every input form (tests/fuzz_inputs.py), mutated by
Hypothesis (members dropped, swapped or doubled; dtypes, shapes, versions of .npy headers;
pickle opcodes; truncation, flipped bytes, zip sizes and methods), each run through the pipeline.

Invariant for every example: either a run whose outputs are complete and inside the output
folder, or one `PermaskError` line naming the input file (what `permask` prints as
`permask: error: ...`, exit 2); never another exception (a traceback), never a hang (60 s),
peak traced memory under `MEMORY_BOUND`; the input is never modified.

A quick, fixed profile runs by default; `pytest -m slow` runs thousands of random examples. A
failing example is saved under tests/fixtures/fuzz_regressions/, which every run replays.
"""

from __future__ import annotations

import hashlib
import signal
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings

from permask.errors import PermaskError
from permask.pipeline import run
from tests.fuzz_inputs import FORMS, mutated_file, seed_members, zip_members
from tests.helpers.outputs import assert_complete, temporaries
from tests.helpers.runs import config_on, files_under

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # a mutation

REGRESSIONS = Path(__file__).parent / "fixtures" / "fuzz_regressions"
MEMORY_BOUND = 512 * 2**20  # bytes traced at peak (numpy's arrays included); the unpickle
HANG_SECONDS = 60           # budget of these tiny files is 64 MiB


class Hang(BaseException):
    """Raised by the alarm: not an Exception, so no stage can mistake it for its own error."""


def _alarm(signum, frame):
    raise Hang(f"no result after {HANG_SECONDS} s")


@pytest.fixture(scope="module")
def cfg():
    return config_on("x.npz", "out", "tracker=static")


def check_invariant(data: bytes, cfg) -> str:
    """Run the pipeline on `data` as an input file; assert the invariant; return the outcome
    ('ran' or the error's class name)."""
    with tempfile.TemporaryDirectory(prefix="permask-fuzz-") as tmp:
        work = Path(tmp)
        path = work / "in" / "scene.npz"
        path.parent.mkdir()
        path.write_bytes(data)
        out = work / "out"
        cfg.input.npz, cfg.output_dir = str(path), str(out)
        before = files_under(work)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_SECONDS)
        tracemalloc.start()
        try:
            report = run(cfg, out)
            outcome = "ran"
        except PermaskError as err:
            line = str(err)
            assert "\n" not in line and line.isprintable(), line
            assert str(path) in line, f"the error does not name the input: {line}"
            outcome = type(err).__name__
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        assert peak < MEMORY_BOUND, f"peak traced memory {peak / 2**20:.0f} MiB"
        assert path.read_bytes() == data, "the input changed"
        outside = [p for p in files_under(work) - before if out not in p.parents]
        assert not outside, outside
        if outcome == "ran":
            assert (out / "metrics.json").is_file() and (out / "metrics.md").is_file()
            for outcome_files in (o.files for o in report.outcomes.values()):
                assert all(Path(p).is_file() for p in outcome_files.values()), outcome_files
            assert not temporaries(out)
            assert_complete(out)
        return outcome


_failing: dict[str, bytes] = {}  # the test's last failing example: Hypothesis's shrunk one


def check_and_keep(data: bytes, cfg) -> str:
    """`check_invariant`, remembering a failing example for `keep_failing_example`."""
    try:
        return check_invariant(data, cfg)
    except BaseException:
        _failing["last"] = data
        raise


@pytest.fixture
def keep_failing_example():
    """After a fuzzing test: its shrunk failing example saved as a regression file."""
    _failing.clear()
    yield
    if "last" in _failing:
        data = _failing.pop("last")
        REGRESSIONS.mkdir(parents=True, exist_ok=True)
        (REGRESSIONS / (hashlib.sha256(data).hexdigest()[:16] + ".npz")).write_bytes(data)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("deflated", [False, True])
def test_every_seed_runs(form, deflated, cfg):
    assert check_invariant(zip_members(list(seed_members(form)), deflated), cfg) == "ran"


QUICK = settings(max_examples=12, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=3000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("form", FORMS)
def test_mutated_recordings_run_or_fail_in_one_line_quick(form, cfg, keep_failing_example):
    """12 fixed examples per input form."""

    @QUICK
    @given(example=mutated_file((form,)))
    def check(example):
        event(f"{example.form}: {check_and_keep(example.data, cfg)}")

    check()


@pytest.mark.slow
@LONG
@given(example=mutated_file())
def test_mutated_recordings_run_or_fail_in_one_line_long(example, cfg, keep_failing_example):
    event(f"{example.form}: {check_and_keep(example.data, cfg)}")


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.npz")), ids=lambda p: p.name)
def test_saved_fuzz_regressions(path, cfg):
    check_invariant(path.read_bytes(), cfg)
