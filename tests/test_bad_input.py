"""The corpus of broken inputs (tests/helpers/bad_inputs.py), each run in process through
`permask.compose` and `permask.run` (what `run.py` calls), plus a sample through `python run.py`
(slow).

Every case must fail with a `PermaskError` whose one line names the file, the key and the
problem (which `run.py` prints with exit code 2); the input byte-identical afterwards; no pickle
code run.
"""

from pathlib import Path

import pytest

from permask.errors import PermaskError
from tests.helpers.bad_inputs import CASES, SPECIAL, special_file, write_case
from tests.helpers.runners import run_cli
from tests.helpers.runs import run_on


def check_refused(path: Path, key: str | None, tmp_path: Path) -> str:
    """In process: the run raises a PermaskError naming the file (and key); input untouched."""
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(PermaskError) as info:
        run_on(path, tmp_path / "out")
    line = str(info.value)
    assert "\n" not in line and str(path) in line, line
    if key:
        assert key in line, line
    if before is not None:
        assert path.read_bytes() == before
    return line


def check_refused_cli(path: Path, key: str | None, tmp_path: Path) -> str:
    """Through `python run.py`: exit 2, exactly one line on stderr, no traceback."""
    before = path.read_bytes() if path.is_file() else None
    proc = run_cli([f"input.npz={path}", f"output_dir={tmp_path / 'out'}", "progress=false",
                    "query.max_points=10"], timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("permask: error: ") and "Traceback" not in proc.stderr
    assert str(path) in line, line
    if key:
        assert key in line, line
    if before is not None:
        assert path.read_bytes() == before
    return line


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_content_refused(name, tmp_path):
    path, key = write_case(name, tmp_path)
    check_refused(path, key, tmp_path)
    assert not (tmp_path / "CANARY").exists(), "pickle code ran"


@pytest.mark.parametrize("name", SPECIAL)
def test_broken_file_refused(name, tmp_path):
    check_refused(special_file(name, tmp_path), None, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pickle_that_carries_code", "views_disagree", "mask_key_missing"])
def test_broken_content_refused_through_run_py(name, tmp_path):
    path, key = write_case(name, tmp_path)
    check_refused_cli(path, key, tmp_path)
    assert not (tmp_path / "CANARY").exists(), "pickle code ran"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["truncated_zip", "directory", "unreadable"])
def test_broken_file_refused_through_run_py(name, tmp_path):
    check_refused_cli(special_file(name, tmp_path), None, tmp_path)
