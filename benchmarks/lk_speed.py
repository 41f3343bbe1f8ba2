"""Microseconds of `lk` tracking per point, frame and view on the default demo (3 instances x 300
points, 40 frames, 4 views): the fastest of `--repeats` passes over every instance.

    python benchmarks/lk_speed.py [--repeats 5]

To compare two versions of the tracker, run it with each on PYTHONPATH in turn, alternated, on a
quiet machine, e.g. `git worktree add ../permask-old REV` and
`PYTHONPATH=../permask-old python benchmarks/lk_speed.py` against `python benchmarks/lk_speed.py`.
"""

from __future__ import annotations

import argparse

from common import demo_scene, timed
from permask.config import QueryConfig
from permask.queries import build_queries
from permask.trackers.lk import LKTracker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    scene = demo_scene()
    scene.gray()  # a run converts the video once, for every instance
    queries = [build_queries(scene, iid, QueryConfig()) for iid in scene.instance_ids]
    tracker = LKTracker()
    units = sum(int((scene.num_frames - 1 - q.frame).sum()) * scene.num_views for q in queries)
    best = min(timed(lambda: [tracker.track(scene, q) for q in queries])[0]
               for _ in range(args.repeats))
    print(f"{1e6 * best / units:.2f} us per point-frame-view")


if __name__ == "__main__":
    main()
