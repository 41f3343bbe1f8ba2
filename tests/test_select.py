"""Best per mask (`--select METRIC`): winners per instance on hand-made runs (fast, in process),
and on the demo sweep `tracker=static,lk` (slow, subprocess)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from permask.compare.__main__ import main as compare_main
from permask.compare.best import write_best
from permask.compare.runs import assign_labels, find_runs, load_run
from permask.compare.select import resolve_metric, select_best
from permask.errors import SelectionError
from permask.files.atomic import save_npz
from tests.helpers.overrides import quick
from tests.helpers.runners import run_cli

# instance -> (AJ, median error cm, mask adherence) per tracker: a wins instance_2 and instance_10,
# b wins instance_3; on median error (lower is better) b wins instance_10 as well
FIGURES = {
    "a": {"instance_2": (0.8, 1.0, 0.9), "instance_3": (0.3, 9.0, 0.5),
          "instance_10": (0.6, 5.0, 0.7)},
    "b": {"instance_2": (0.5, 4.0, 0.6), "instance_3": (0.7, 2.0, 0.8),
          "instance_10": (0.55, 3.0, 0.6)},
}


def make_run(root, tracker, ground_truth=True):
    """A run folder of tracker `tracker`: metrics.json, overrides and one tracked NPZ per instance
    whose tracks hold a tracker-specific constant (so a copy can be told apart)."""
    folder = root / f"tracker={tracker}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- tracker={tracker}\n")
    instances = {}
    for iid, (aj, err, adherence) in FIGURES[tracker].items():
        figures = {"points": 4, "mask_adherence": adherence}
        if ground_truth:
            figures.update({"AJ": aj, "median_error_cm": err})
        instances[iid] = figures
        value = float(ord(tracker))
        save_npz(folder / f"demo_{tracker}_{iid}_tracked.npz",
                 tracks_3d=np.full((3, 4, 3), value, np.float32), visibility=np.ones((3, 4), bool),
                 query_points=np.zeros((4, 4), np.float32), query_view=np.zeros(4, np.int64),
                 query_pixel=np.zeros((4, 2), np.float32), instance_id=np.array(iid),
                 tracker=np.array(tracker))
    (folder / "metrics.json").write_text(json.dumps({
        "base_name": "demo", "tracker": tracker, "input_fingerprint": "fp", "instances": instances,
        "overall": {}}))
    return folder


@pytest.fixture
def pair(tmp_path):
    root = tmp_path / "sweep"
    for tracker in ("a", "b"):
        make_run(root, tracker)
    return root


def labelled_runs(root):
    runs = [load_run(p) for p in find_runs([root])]
    assign_labels(runs)
    return runs


def winners(selection):
    (scene,) = selection.scenes
    return {iid: c.winner.label for iid, c in scene.choices.items()}


def test_picks_per_instance_in_the_metric_direction(pair):
    runs = labelled_runs(pair)
    by_aj = select_best(runs, "aj")
    assert by_aj.direction == 1
    assert winners(by_aj) == {"instance_2": "a", "instance_3": "b", "instance_10": "a"}
    choice = by_aj.scenes[0].choices["instance_10"]
    assert choice.runner_up == "b" and choice.margin == pytest.approx(0.05)
    by_error = select_best(runs, "median_error")  # lower is better
    assert by_error.direction == -1 and by_error.metric == "median_error_cm"
    assert winners(by_error) == {"instance_2": "a", "instance_3": "b", "instance_10": "b"}
    assert winners(select_best(runs, "mask_adherence"))["instance_3"] == "b"
    assert select_best(runs, "auto").metric == "AJ"


def test_best_folder_holds_the_winners(pair):
    files = write_best(labelled_runs(pair), pair, "AJ", recording=False)
    best = pair / "best"
    selection = json.loads((best / "selection.json").read_text())
    assert selection["metric"] == "AJ" and selection["better"] == "higher"
    entry = selection["instances"]["instance_3"]
    assert entry["winner"] == "b" and entry["run"] == "../tracker=b"
    assert entry["runner_up"] == "a" and entry["margin"] == pytest.approx(0.4)
    for iid, tracker in (("instance_2", "a"), ("instance_3", "b"), ("instance_10", "a")):
        with np.load(best / f"demo_best_{iid}_tracked.npz") as f:
            assert str(f["tracker"]) == tracker and f["tracks_3d"][0, 0, 0] == ord(tracker)
    metrics = json.loads((best / "metrics.json").read_text())
    assert metrics["instances"]["instance_3"]["AJ"] == 0.7
    assert metrics["instances"]["instance_3"]["selected_from"] == "b"
    assert "**b**" in (best / "selection.md").read_text()
    assert files["selection"] == best / "selection.json"
    # comparing the sweep again does not take the best folder for a run
    assert sorted(r.label for r in labelled_runs(pair)) == ["a", "b"]


def test_unknown_or_missing_metric_is_one_line_exit_2(pair, tmp_path, capsys):
    with pytest.raises(SelectionError, match="unknown selection metric 'speed'"):
        resolve_metric("speed")
    assert compare_main([str(pair), "--select", "speed", "--no-plots", "--no-recording"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("permask.compare: error:") and "\n" not in err and "aj (higher" in err
    no_truth = tmp_path / "real"
    make_run(no_truth, "a", ground_truth=False)
    make_run(no_truth, "b", ground_truth=False)
    assert compare_main([str(no_truth), "--select", "aj", "--no-plots", "--no-recording"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no AJ" in err and "mask_adherence" in err and "\n" not in err
    assert compare_main([str(no_truth), "--select", "auto", "--no-plots",
                         "--no-recording"]) == 0
    out = capsys.readouterr().out
    assert "best per mask by mask adherence" in out and "instance_3: b" in out


@pytest.mark.slow
def test_demo_sweep_picks_lk_for_every_instance(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "tracker=static,lk", *quick(num_views=4, num_frames=8), "video=true",
                    "hydra.callbacks.compare.plots=false", "hydra.callbacks.compare.select=aj",
                    f"sweep_dir={sweep}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the runs wrote videos: the sweep gets side-by-side ones, the best folder its own
    from permask.video import read_frame_count

    assert read_frame_count(sweep / "demo_comparison_cam_00.mp4") == 8
    assert read_frame_count(sweep / "best" / "demo_best_cam_00.mp4") == 8
    selection = json.loads((sweep / "best" / "selection.json").read_text())
    assert selection["instances"] and all(
        c["winner"] == "lk" and c["margin"] > 0 for c in selection["instances"].values())
    assert "best per mask by AJ" in proc.stdout
    bad = run_cli(["-m", "tracker=static,lk", "hydra.callbacks.compare.select=speed",
                   f"sweep_dir={tmp_path / 'bad'}"])
    assert bad.returncode == 2 and "unknown selection metric" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()


def test_side_by_side_tiles_panels_in_rows():
    from permask.compare.videos import tile

    panels = [np.full((10, 16, 3), k * 40, np.uint8) for k in range(1, 5)]
    grid = tile(panels, columns=3, max_width=10_000)
    assert grid.shape == (20, 48, 3)
    assert grid[0, 0, 0] == 40 and grid[0, 40, 0] == 120 and grid[15, 5, 0] == 160
    assert grid[15, 40].sum() == 0  # the empty place
    assert tile(panels, columns=3, max_width=24).shape[1] == 24
