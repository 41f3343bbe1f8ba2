"""The learned trackers per mask and joint (`tracking=per_mask` / `joint`): wall time and peak
memory of one whole `python run.py` per mode, on the real upstream architectures at random weights
(`tests/upstream_models.py`), CPU, the demo scene with 8 objects.

    python benchmarks/learned_joint.py [--trackers cotracker3_offline,mvtracker] [--size 96x128]
                                       [--frames 8] [--repeats 1]

Each run is a fresh process (imports, model build, scene, tracking, files; no recordings); its
peak resident memory is the child's `ru_maxrss` (`os.wait4`), best of `--repeats` for the time.
Needs the upstream environment (`.ci/run` builds one). Writes learned_joint.md / .json into
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT
from learned_per_mask import checkpoints, overrides, settings_of

MODES = ("per_mask", "joint")


def run_once(args: list[str], out: Path) -> tuple[float, float]:
    """(seconds, peak resident MiB) of one `python run.py ARGS output_dir=OUT`."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args, f"output_dir={out}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run.py failed: {proc.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trackers", default="cotracker3_offline,mvtracker")
    ap.add_argument("--size", default="96x128", help="scene HxW")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--views", type=int, default=2, help="views (mvtracker; CoTracker3: 1)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    H, W = (int(x) for x in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ckpts = checkpoints(Path(tmp))
        for name in args.trackers.split(","):
            views = 1 if name.startswith("cotracker") else args.views
            demo = [f"input.demo.num_views={views}", f"input.demo.num_frames={args.frames}",
                    f"input.demo.height={H}", f"input.demo.width={W}", "input.demo.num_objects=8",
                    f"input.demo.cache_dir={tmp}"]
            base = [*demo, *overrides(name, settings_of(name, ckpts[name], [H, W])),
                    "record.enabled=false", "progress=false"]
            for mode in MODES:
                best, peak = float("inf"), 0.0
                for k in range(args.repeats):
                    seconds, mib = run_once([*base, f"tracking={mode}"],
                                            Path(tmp) / f"{name}_{mode}_{k}")
                    best, peak = min(best, seconds), max(peak, mib)
                rows.append({"tracker": name, "mode": mode, "views": views, "seconds": best,
                             "peak_mib": peak})
                print(f"{name:20s} {mode:9s} {best:6.1f} s  {peak:7.0f} MiB", flush=True)
    command = "python " + " ".join([f"benchmarks/{Path(__file__).name}", *sys.argv[1:]])
    lines = ["# Learned trackers per mask and joint: one `run.py` each (CPU, random weights)", "",
             f"`{command}`: demo scene, 8 objects, {args.size}, {args.frames} frames, default "
             "queries (first frame, at most 300 per instance)", "",
             "| tracker | views | mode | wall time | peak memory |", "|---|---:|---|---:|---:|"]
    lines += [f"| `{r['tracker']}` | {r['views']} | {r['mode']} | {r['seconds']:.1f} s | "
              f"{r['peak_mib']:.0f} MiB |" for r in rows]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learned_joint.md").write_text("\n".join(lines) + "\n")
    (args.out / "learned_joint.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
