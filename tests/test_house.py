"""The shape of the code base: no import circles, small modules, a tracker in two files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT

MAX_MODULE_LINES = 400  # one idea per module


def _graph():
    grimp = pytest.importorskip("grimp", reason="grimp (the import-graph reader) is not installed")
    return grimp.build_graph("permask")


def test_no_import_circles():
    """Every import, module-level or inside a function, leads back to no importer."""
    graph = _graph()
    circles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                chain = graph.find_shortest_chain(importer=imported, imported=module)
                circles.add(" -> ".join((module, *chain)))
    assert not circles, "\n".join(sorted(circles))


def test_the_demo_generator_is_a_leaf():
    """Only the demo-loading path uses the scene generator: evaluation does not depend on it."""
    graph = _graph()
    generator = {m for m in graph.modules if m.startswith("permask.demo")}
    assert generator
    for module in ("permask.metrics", "permask.geometry", "permask.trackers.lk"):
        for target in generator:
            assert not graph.chain_exists(importer=module, imported=target), (module, target)


def test_the_cpu_tracker_imports_nothing_of_the_learned_trackers():
    """`lk` (everything it imports, at module level or inside functions) reaches neither the
    torch.hub loader nor torch: the CPU tracker runs where neither is installed."""
    grimp = pytest.importorskip("grimp", reason="grimp (the import-graph reader) is not installed")
    graph = grimp.build_graph("permask", include_external_packages=True)
    closure = graph.find_upstream_modules("permask.trackers.lk", as_package=True)
    assert "permask.trackers.lk.flow" in graph.find_upstream_modules("permask.trackers.lk.tracker")
    learned = {m for m in closure if m == "torch" or m.startswith(("torch.", "permask.trackers.hub",
                                                                  "permask.fetch",
                                                                  "permask.torch_support"))}
    assert not learned, sorted(learned)


def test_modules_are_small():
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "permask").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not big, big


def readme_files(section: str) -> dict[str, str]:
    """{path: text} of the fenced blocks under a heading of docs/trackers.md whose first line
    names a file (`# permask/trackers/toy.py`); that line is dropped for Python files, kept for
    YAML (Hydra reads the first comment as the option's description after it)."""
    text = (ROOT / "docs" / "trackers.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", body, flags=re.S):
        first, rest = block.split("\n", 1)
        name = first.lstrip("# ").strip()
        files[name] = rest if name.endswith(".py") else rest
    return files


def _tree(root: Path) -> set[str]:
    """Every file below root (symlinked folders not followed), relative paths."""
    return {os.path.relpath(os.path.join(folder, name), root)
            for folder, _, names in os.walk(root) if "__pycache__" not in folder
            for name in names}


@pytest.mark.slow
def test_a_new_tracker_is_one_module_and_one_yaml(tmp_path):
    """Copy the package, add exactly docs/trackers.md's two files, and the new tracker runs end
    to end with its setting; nothing else was edited (that every option found in conf/ composes
    on its schema, refuses a mistyped key and shows in --help: tests/test_plugins.py,
    test_typos.py)."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "permask", copy / "permask",
                    ignore=shutil.ignore_patterns("__pycache__", "local"))
    shutil.copy(ROOT / "run.py", copy / "run.py")
    os.symlink(os.readlink(ROOT / "conf"), copy / "conf")  # conf/ links into the package
    before = _tree(copy)
    files = readme_files("Adding your own tracker")  # the documented example is what runs
    assert set(files) == {"permask/trackers/toy.py", "conf/tracker/toy.yaml"}
    for name, text in files.items():
        (copy / name).write_text(text)
    assert _tree(copy) - before == {"permask/trackers/toy.py", "permask/conf/tracker/toy.yaml"}
    assert all((copy / f).read_bytes() == (ROOT / f).read_bytes() for f in before)

    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "PERMASK_CACHE_DIR": str(tmp_path / "cache")}

    def run(*args):
        return subprocess.run([sys.executable, "run.py", *args], cwd=copy, env=env,
                              capture_output=True, text=True, timeout=300)

    out = tmp_path / "out"
    done = run("tracker=toy", "tracker.speed=0.5", f"output_dir={out}", "progress=false",
               "record.enabled=false", "query.max_points=5", "input.demo.num_frames=6")
    assert done.returncode == 0, done.stderr[-2000:]
    tracked = sorted(out.glob("*_toy_*_tracked.npz"))
    assert tracked, sorted(p.name for p in out.iterdir())
    with np.load(tracked[0]) as data:
        tracks = data["tracks_3d"]
        step = tracks[1:, :, 0] - tracks[:-1, :, 0]
        assert np.allclose(step[np.isfinite(step)], 0.5, atol=1e-5)
