"""Docs that run: every shell command in README.md and docs/*.md that needs no GPU, network, root
or display is run as written, with placeholders (`scene.npz`, the shared clip) replaced by real
files and small-demo overrides appended, so a documented command cannot rot unnoticed. A command
that cannot run here must be listed in NOT_RUN with the reason."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.helpers.overrides import quick

pytestmark = pytest.mark.slow  # dozens of run.py processes: `pytest -m slow`

SHARED = ROOT.parent / "shared"
QUICK = quick(max_points=8, num_frames=6)  # appended to every documented run
# (a fragment of the line, why it does not run here)
NOT_RUN = [
    ("pip install", "installs: CI runs the install commands themselves"),
    ("python -m venv", "makes the upstream tests' venv: .ci/run makes it"),
    ("python -m pytest", "the test run itself"),
    ("rerun ", "opens the viewer (needs a display)"),
    ("view_demo_lk_combined.sh", "opens the viewer (needs a display)"),
    ("[MASK_KEY] [OVERRIDE ...]", "a usage synopsis, not a command"),
    ("mytracker", "needs a tracker of your own: tests/test_house.py runs docs/trackers.md's "
                  "example"),
    ("2026-11-24_10-00-00", "names earlier run folders: tests/test_sweeps.py compares real ones"),
    ("sudo ", "needs root: tests/test_launch.py runs the SLURM recipe"),
    ("sinfo", "SLURM recipe: tests/test_launch.py"),
    ("sacct", "SLURM recipe: tests/test_launch.py"),
    ("hydra/launcher=slurm", "SLURM recipe: tests/test_launch.py"),
    ("tracker=spatialtrackerv2", "fetches from the network and needs the upstream packages: "
                                 "tests/test_upstream.py runs it against a local server"),
    ("tracker=mvtracker,cotracker3_offline", "fetches the learned trackers' code and weights from "
                                             "the network: tests/test_upstream.py runs each"),
    ("permask fetch", "fetches from the network: tests/test_fetch.py runs it against a local "
                      "server"),
]


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_commands() -> list[str]:
    """The shell lines of the bash blocks of README.md and docs/*.md, continuation lines joined,
    each once."""
    lines = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].strip()
                if line and not line.startswith("#"):
                    lines.append(line)
    return list(dict.fromkeys(lines))


def runnable(line: str) -> bool:
    return not any(fragment in line for fragment, _ in NOT_RUN)


def test_every_readme_command_is_run_or_excused():
    commands = readme_commands()
    assert len(commands) >= 40
    known = ("python run.py", "python -m permask", "bash multirun_sweeps/", "PYTHON=", "permask")
    for line in filter(runnable, commands):
        assert line.startswith(known), f"a documented command this test does not know: {line}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, small_demo_path):
    """An empty folder holding the files the documented commands name (`scene.npz`,
    `my data/`)."""
    work = tmp_path_factory.mktemp("readme")
    shutil.copy(small_demo_path, work / "scene.npz")
    (work / "my data").mkdir()
    shutil.copy(small_demo_path, work / "my data" / "scene.npz")
    return work


def _argv(line: str) -> tuple[list[str], dict[str, str]]:
    """The command as argv (this interpreter, the checkout's files) plus its env prefix."""
    line = line.replace("../shared/", f"{SHARED}/")
    env = {}
    words = shlex.split(line)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = sys.executable if key == "PYTHON" else value
    if words[:1] == ["permask"]:  # the console script installed beside this interpreter
        exe = shutil.which("permask", path=os.path.dirname(sys.executable))
        assert exe, "the permask console script is not installed beside this interpreter"
        return [exe, *words[1:]], env
    if words[:2] == ["python", "run.py"]:
        return [sys.executable, str(ROOT / "run.py"), *words[2:], *QUICK], env
    if words[:1] == ["python"]:
        return [sys.executable, *words[1:]], env
    if words[:1] == ["bash"] and words[1].startswith("multirun_sweeps/"):
        env.setdefault("PYTHON", sys.executable)
        return ["bash", str(ROOT / words[1]), *words[2:], *QUICK], env
    raise AssertionError(f"cannot run: {line}")


@pytest.mark.parametrize("line", [c for c in readme_commands() if runnable(c)])
def test_readme_command_runs(line, workdir, cache_dir):
    if "../shared/" in line and not SHARED.is_dir():
        pytest.skip(f"no {SHARED} beside the checkout")
    argv, env = _argv(line)
    proc = subprocess.run(argv, cwd=workdir, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{line}\n{proc.stderr[-3000:]}"


def test_readme_figures_are_what_the_code_prints(cache_dir):
    """The figures README.md and docs/*.md quote are regenerated by one script; drift fails
    here."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"), "--check"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
