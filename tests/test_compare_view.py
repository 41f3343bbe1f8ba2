"""What a person sees of a comparison: the terminal tables, column order, plot colours, axes and
legends (on hand-made runs, no tracking)."""

import json

import numpy as np
import pytest
from rich.console import Console

from permask.compare import plots
from permask.compare.printed import print_comparison
from permask.compare.runs import assign_labels, load_run
from permask.compare.sweep import compare
from permask.compare.table import build

FRAMES = list(range(1, 9))


def make_run(root, name, tracker, overrides, aj, err_scale):
    """A run folder with metrics.json (two instances) and .hydra/overrides.yaml."""
    folder = root / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    instances = {}
    for k, iid in enumerate(["instance_2", "instance_10"]):
        err = [err_scale * (k + 1) * f for f in FRAMES]
        instances[iid] = {"points": 20, "AJ": aj[k], "mask_adherence": aj[k], "OA": 0.9,
                          "median_error_cm": float(np.median(err)),
                          "per_frame": {"frame": FRAMES, "median_error_cm": err}}
    metrics = {"base_name": "demo", "tracker": tracker, "input_fingerprint": "f", "instances":
               instances, "overall": {}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def window_sweep(tmp_path):
    """A sweep over query.frames_after=5,10 for lk plus one static run, written so that a plain
    text sort of the folders would put `=10` first."""
    root = tmp_path / "sweep"
    make_run(root, "a_query.frames_after=10,tracker=lk", "lk",
             ["query.frames_after=10", "tracker=lk"], [0.6, 0.5], 0.05)
    make_run(root, "b_query.frames_after=5,tracker=lk", "lk",
             ["query.frames_after=5", "tracker=lk"], [0.7, 0.4], 0.05)
    make_run(root, "c_query.frames_after=5,tracker=static", "static",
             ["query.frames_after=5", "tracker=static"], [0.2, 0.1], 3.0)
    return root


def comparison(root):
    runs = [load_run(p) for p in sorted(root.iterdir())]
    assign_labels(runs)
    return build(runs)


def test_columns_and_rows_in_natural_order(window_sweep):
    comp = comparison(window_sweep)
    assert comp.columns == ["query.frames_after=5,tracker=lk", "query.frames_after=5,tracker=static",
                            "query.frames_after=10,tracker=lk"]
    assert comp.rows == ["instance_2", "instance_10"]
    assert [r.label for r in comp.runs] == comp.columns


def test_colours_fixed_per_tracker(window_sweep):
    comp = comparison(window_sweep)
    styles = plots.column_styles(comp)
    lk5, static5, lk10 = comp.columns
    from matplotlib.colors import to_rgb

    assert styles[lk5]["color"] == to_rgb(plots.TRACKER_COLORS["lk"])  # first lk column: lk's
    assert styles[static5]["color"] == to_rgb(plots.TRACKER_COLORS["static"])
    assert styles[lk10]["color"] != styles[lk5]["color"]  # a shade of it, and a dashed line
    assert styles[lk10]["linestyle"] != styles[lk5]["linestyle"]
    assert plots.tracker_color("mytracker") == plots.tracker_color("mytracker")


def test_terminal_tables_show_the_winner_per_mask(window_sweep):
    comp = comparison(window_sweep)
    console = Console(record=True, width=200, force_terminal=False)
    print_comparison(comp, console=console, show_files=False)
    text = console.export_text()
    assert "AJ ↑ per mask" in text and "median err (cm) ↓ per mask" in text
    aj_table = text.split("AJ ↑ per mask")[1].split("median err")[0]
    row = next(line for line in aj_table.splitlines() if "instance_10" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["instance_10", "0.400", "0.100",
                                                               "0.500"]
    won = next(line for line in aj_table.splitlines() if "masks won" in line)
    assert [c.strip() for c in won.strip("│ ").split("│")] == ["masks won", "1", "0", "1"]


def axes_of(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_over_time_plot_axes_and_legend(window_sweep, tmp_path, monkeypatch):
    comp = comparison(window_sweep)
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    plots.plot_over_time(comp, tmp_path / "t.png")
    [fig] = figures
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in axes_of(fig):
        assert not legend.overlaps(ax.get_window_extent(renderer))  # the legend covers no curve
        # errors from 0.05 to 48 cm: a symlog axis with several plain-number ticks, 0 included
        assert ax.get_yscale() == "symlog"
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert len(labels) >= 5 and "0" in labels and all("^" not in t for t in labels)
        assert all(float(t).is_integer() for t in ax.get_xticks())  # frames
    assert fig.get_figwidth() >= 7.0


def test_small_errors_stay_linear_and_one_mask_figure_is_not_tiny(tmp_path, monkeypatch):
    root = tmp_path / "s"
    make_run(root, "tracker=lk", "lk", ["tracker=lk"], [0.6, 0.5], 0.05)
    make_run(root, "tracker=static", "static", ["tracker=static"], [0.2, 0.1], 0.5)
    comp = comparison(root)
    comp.rows = comp.rows[:1]
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    plots.plot_over_time(comp, tmp_path / "t.png")
    plots.plot_bars(comp, tmp_path / "b.png")
    over_time, bars = figures
    [ax] = axes_of(over_time)
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    assert "instance_2" in ax.get_title() and not over_time._suptitle  # one title, not two
    assert over_time.get_figwidth() >= 7.0 and over_time.get_figheight() >= 4.0
    assert bars.get_figwidth() >= 2 * plots.PANEL_W


def test_compare_writes_pngs_that_open(window_sweep, tmp_path):
    comp = compare([window_sweep], tmp_path / "out", recording=False)
    from matplotlib.image import imread

    for kind in ("bars", "over_time"):
        image = imread(comp.files[kind])
        assert image.shape[0] > 300 and image.shape[1] > 500
