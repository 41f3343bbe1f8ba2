"""Peak memory of a run against the decoded scene size, for N = 1 and N = 16 instances.

    python benchmarks/memory.py [--frames 40] [--views 4]

Each run is a separate `python run.py` process; its peak resident memory (ru_maxrss of that child)
minus the peak of a process that only imports what a run imports is the run's working memory,
reported as a ratio to the decoded scene (rgbs + depths + masks, in the loaded layout).
`benchmarks/perf.py` reuses `measure`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# what a run imports; pyarrow (under rerun) imports pandas on its first conversion where pandas
# is installed (the test extra installs it), so the baseline makes one conversion too: library
# code is not the run's working memory
IMPORTS_ONLY = ("import hydra, rerun, cv2, numpy, matplotlib, rich, tqdm, pyarrow; "
                "import permask.pipeline, permask.report, permask.trackers.lk; "
                "pyarrow.array([0])")


@dataclass
class MemoryRow:
    """One run: instances, decoded scene bytes, peak RSS bytes, working bytes (peak - imports)."""

    instances: int
    scene: int
    peak: int
    work: int

    @property
    def ratio(self) -> float:
        return self.work / self.scene


# Runs the command and prints its peak RSS (KiB). Linux carries a process's ru_maxrss across
# fork and exec, so a child forked straight from a big parent (benchmarks/perf.py holds scenes)
# would report the parent's size; this launcher is small, so its child's figure is its own.
_LAUNCHER = ("import os, subprocess, sys; "
             "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
             "_, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss); "
             "sys.exit(os.waitstatus_to_exitcode(status))")


def peak_rss_of(cmd: list[str]) -> int:
    """Peak resident set size (bytes) of one child process: its own rusage (wait4 in a small
    launcher), so the figure depends neither on earlier children nor on this process's size."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], cwd=ROOT, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=proc.stderr)
    return int(proc.stdout.split()[-1]) * 1024  # KiB on Linux


def scene_bytes(demo: dict) -> int:
    from common import demo_scene  # benchmarks/common.py
    scene = demo_scene(**demo)
    return scene.rgbs.nbytes + scene.depths.nbytes + sum(m.nbytes for m in scene.masks.values())


def imports_baseline() -> int:
    """Peak RSS (bytes) of a process that only imports what a run imports."""
    return peak_rss_of([sys.executable, "-c", IMPORTS_ONLY])


def measure(frames: int = 40, views: int = 4, counts: tuple[int, ...] = (1, 16),
            baseline: int | None = None) -> list[MemoryRow]:
    """One `python run.py` per instance count (N = 1 runs instance_0 of a 3-object scene)."""
    baseline = imports_baseline() if baseline is None else baseline
    rows = []
    for n in counts:
        demo = {"num_views": views, "num_frames": frames, "num_objects": max(n, 3)}
        size = scene_bytes(demo)
        with tempfile.TemporaryDirectory() as out:
            overrides = [f"input.demo.{k}={v}" for k, v in demo.items()]
            if n == 1:
                overrides.append("instances=[instance_0]")
            peak = peak_rss_of([sys.executable, "run.py", *overrides, f"output_dir={out}",
                                "progress=false"])
        rows.append(MemoryRow(n, size, peak, peak - baseline))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--views", type=int, default=4)
    args = ap.parse_args()
    baseline = imports_baseline()
    print(f"imports only: {baseline / 2**20:.0f} MiB")
    for row in measure(args.frames, args.views, baseline=baseline):
        print(f"N={row.instances:2d}: decoded scene {row.scene / 2**20:6.1f} MiB, "
              f"peak {row.peak / 2**20:6.0f} MiB, working {row.work / 2**20:6.0f} MiB = "
              f"{row.ratio:.2f}x the scene")


if __name__ == "__main__":
    main()
