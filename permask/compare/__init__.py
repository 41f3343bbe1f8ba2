"""Compare trackers (and settings) per mask across run output folders.

    python -m permask.compare DIR [DIR ...] -o OUT

Each DIR is a run's output folder (it holds `metrics.json`) or any folder above runs, e.g. a
multirun sweep folder: every folder below it holding a `metrics.json` is a run. Writes to OUT:

    comparison.csv            long format: run, label, tracker, scene, instance, metric, value, mode
    comparison.md             per key metric an instance x run table, best per row in bold
    comparison_bars.png       per-mask grouped bars per run (AJ with ground truth, else mask
                              adherence; and a second GT-free measure)
    comparison_over_time.png  per mask, error over time (ground truth) or mask adherence over time
    {base}_comparison.rrd     per scene: the scene once and every run's tracks of every instance
                              under world/tracks/{label}/{instance}
    {base}_comparison_{camera}.mp4  per scene and camera, one panel per run side by side (when
                              the runs wrote videos, or `--video`)
    best/                     with `--select METRIC`: the winners per mask (`best`)

Figures in different metric modes are never mixed: runs whose modes differ get their figures
renamed by mode (`modes`), and the shared modes are written next to the figures.

Runs are columns, labelled by the Hydra overrides that tell them apart (`runs`); masks are rows.
Runs of different scenes (input content fingerprints) become separate rows and separate
recordings, never one. Re-running into a folder simply replaces that run's figures.

The Hydra callback `permask.callbacks.CompareCallback` runs `compare` over a sweep folder at the
end of every multirun.

The package, one job per module (callers import the module they need; nothing is re-exported here):

    runs        finding run folders, reading them back, labelling them (`CompareError`)
    modes       keeping figures of different metric modes apart
    table       the comparison's cells (`Comparison`, `build`) and its CSV and Markdown text
    printed     the headline tables in the terminal
    plots       the PNG plots
    recordings  the merged cross-run recording of each scene
    videos      the side-by-side videos
    select      which run wins each mask on one metric
    best        the best-per-mask folder of a selection
    sweep       `compare`: all of the above for a set of folders, every file written
    __main__    the command line
"""
