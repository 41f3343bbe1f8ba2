"""The Python front door, run the way the README shows it."""

import re

import numpy as np

import permask
from tests.helpers import ROOT
from tests.helpers.overrides import SMALL_DEMO_OVERRIDES


def test_front_door_tracks_one_instance_like_the_pipeline(tmp_path, small_demo_path):
    cfg = permask.compose(*SMALL_DEMO_OVERRIDES, "query.max_points=20", "progress=false",
                          "record.enabled=false")
    scene = permask.load_input(cfg)
    tracker = permask.make_tracker(cfg)
    queries = permask.build_queries(scene, "instance_0", cfg.query)
    result = tracker.track(scene, queries)
    assert result.tracks.shape == (scene.num_frames, len(queries), 3)
    report = permask.run(cfg, tmp_path / "out")
    np.testing.assert_array_equal(report.outcomes["instance_0"].result.tracks, result.tracks)


def test_readme_python_example_runs(tmp_path, monkeypatch, small_demo_path):
    """The README's ```python block under "Python front door" runs as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python front door", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert (tmp_path / "out" / "notebook" / "metrics.json").is_file()
