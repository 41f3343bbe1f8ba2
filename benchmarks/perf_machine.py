"""The machine a `benchmarks/perf.py` run measured on: platform, CPUs, versions, commit, load."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import rerun as rr

from common import ROOT


def machine_info() -> dict[str, str]:
    import platform

    import matplotlib

    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in
              (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
              if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "permask")
    return {
        "platform": platform.platform(),
        "CPU": f"{cpu}; os.cpu_count() = {os.cpu_count()}, usable {usable}",
        "cv2 threads": str(cv2.getNumThreads()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "rerun-sdk": rr.__version__,
        "matplotlib": matplotlib.__version__,
        "git": commit + (" (permask/ has uncommitted changes)" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load average at start": load_average(),
    }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True,
                          check=False).stdout.strip()


def load_average() -> str:
    """1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
