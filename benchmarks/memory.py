"""Peak memory of a run against the decoded scene size, for N = 1 and N = 16 instances.

    python benchmarks/memory.py [--frames 40] [--views 4]

Each run is a separate `python run.py` process; its peak resident memory (ru_maxrss) minus the
peak of a process that only imports what a run imports is the run's working memory, reported as
a ratio to the decoded scene (rgbs + depths + masks, in the loaded layout).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORTS_ONLY = ("import hydra, rerun, cv2, numpy, matplotlib, rich, tqdm; "
                "import permask.pipeline, permask.report, permask.trackers.lk")


def peak_rss_of(cmd: list[str]) -> int:
    """Peak resident set size (bytes) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:
        raise RuntimeError("ru_maxrss did not grow; run this benchmark with the smallest child first")
    return after * 1024


def scene_bytes(demo: dict) -> int:
    from permask.scene import load_scene
    from permask.synthetic import DemoParams, demo_scene_path
    scene = load_scene(demo_scene_path(DemoParams(**demo)))
    return scene.rgbs.nbytes + scene.depths.nbytes + sum(m.nbytes for m in scene.masks.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--views", type=int, default=4)
    args = ap.parse_args()
    baseline = peak_rss_of([sys.executable, "-c", IMPORTS_ONLY])
    print(f"imports only: {baseline / 2**20:.0f} MiB")
    rows = []
    for n in (1, 16):
        demo = {"num_views": args.views, "num_frames": args.frames, "num_objects": max(n, 3)}
        size = scene_bytes(demo)
        with tempfile.TemporaryDirectory() as out:
            overrides = [f"input.demo.{k}={v}" for k, v in demo.items()]
            if n == 1:
                overrides.append("instances=[instance_0]")
            peak = peak_rss_of([sys.executable, "run.py", *overrides, f"output_dir={out}",
                                "progress=false"])
        work = peak - baseline
        rows.append((n, size, peak, work))
        print(f"N={n:2d}: decoded scene {size / 2**20:6.1f} MiB, peak {peak / 2**20:6.0f} MiB, "
              f"working {work / 2**20:6.0f} MiB = {work / size:.2f}x the scene")


if __name__ == "__main__":
    main()
