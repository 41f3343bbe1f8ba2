"""Bytes per run of the recordings, per `record.scene` layout (issue 15: recordings that scale).

    python benchmarks/recording_size.py              # 8 views, 120 frames, 360x640, 6 objects
    python benchmarks/recording_size.py --small      # 4 views, 40 frames, ~1 min
    python benchmarks/recording_size.py --modes per_file,shared,per_file_stride1

Runs `python run.py` once per layout on the demo scene of that size (tracker lk) and writes
`benchmarks/results/recording_size[_small].{json,md}`: every file's bytes, the .rrd bytes per
run and the whole run folder. `per_file_stride1` (`record.instance_cloud_stride=1`) writes what
every run wrote before the option existed: each per-instance file with the full scene context.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = {"num_views": 8, "num_frames": 120, "height": 360, "width": 640, "num_objects": 6}
SMALL = {"num_views": 4, "num_frames": 40, "height": 240, "width": 320, "num_objects": 3}
MODES = {
    "per_file": [],  # the default
    "shared": ["record.scene=shared"],
    "per_file_stride1": ["record.instance_cloud_stride=1"],
}


def measure(mode: str, size: dict, work: Path) -> dict:
    out = work / mode
    overrides = [f"input.demo.{k}={v}" for k, v in size.items()] + MODES[mode]
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides, f"output_dir={out}",
                           "progress=false"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{mode}: run.py failed:\n{proc.stderr[-3000:]}")
    files = {p.name: p.stat().st_size for p in sorted(out.glob("*.rrd"))}
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"mode": mode, "overrides": overrides, "seconds": round(time.monotonic() - start, 1),
            "rrd_files": files, "rrd_bytes": sum(files.values()), "run_bytes": total}


def markdown(result: dict) -> str:
    size = ", ".join(f"{k}={v}" for k, v in result["size"].items())
    lines = [f"# Recording bytes per run ({size})", "",
             "| layout | .rrd bytes per run | whole run folder | largest per-instance .rrd | "
             "vs per_file_stride1 |", "|---|---:|---:|---:|---:|"]
    base = {r["mode"]: r["rrd_bytes"] for r in result["runs"]}.get("per_file_stride1")
    for run in result["runs"]:
        per_instance = [b for n, b in run["rrd_files"].items()
                        if not n.endswith(("_combined.rrd", "_scene.rrd"))]
        ratio = f"{run['rrd_bytes'] / base:.2f}" if base else "-"
        lines.append(f"| {run['mode']} | {run['rrd_bytes'] / 1e6:.1f} MB | "
                     f"{run['run_bytes'] / 1e6:.1f} MB | {max(per_instance) / 1e6:.1f} MB | "
                     f"{ratio} |")
    lines += ["", "Files:", ""]
    for run in result["runs"]:
        lines.append(f"- {run['mode']} (`{' '.join(run['overrides'][len(result['size']):]) or '-'}`"
                     f", {run['seconds']} s): " + ", ".join(
                         f"{n} {b / 1e6:.1f} MB" for n, b in run["rrd_files"].items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the demo size (fast)")
    parser.add_argument("--modes", default="per_file,shared",
                        help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    size = SMALL if args.small else FULL
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}; choose from {list(MODES)}")
    with tempfile.TemporaryDirectory(prefix="permask-rrd-size-") as work:
        runs = [measure(mode, size, Path(work)) for mode in modes]
    result = {"size": size, "runs": runs, "python": platform.python_version(),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                       capture_output=True, text=True).stdout.strip()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "recording_size_small" if args.small else "recording_size"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
