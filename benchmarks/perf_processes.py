"""Item 2 of `benchmarks/perf.py`: one `python run.py` for N instances against N processes with
`instances=[instance_k]` (the old way); wall time, same settings (recordings on) for both."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ROOT
from permask.demo.cache import demo_scene_path
from permask.demo.params import DemoParams


@dataclass
class ProcessRow:
    """Item 2: wall seconds of one run for N instances and of N runs of one instance each."""

    instances: int
    one_process_s: float
    per_instance_processes_s: float

    @property
    def speedup(self) -> float:
        return self.per_instance_processes_s / self.one_process_s


def run_cli(overrides: Sequence[str], output_dir: Path) -> float:
    """Wall seconds of one `python run.py ...` subprocess (fails loudly with its stderr)."""
    cmd = [sys.executable, "run.py", *overrides, f"output_dir={output_dir}", "progress=false"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def one_run_vs_processes(base: Sequence[str], n: int, work: Path) -> tuple[float, float]:
    """Wall seconds of one run of instance_0..instance_{n-1} and the sum of n runs of one
    instance each (the old way), all with the overrides `base`, each into its own folder under
    `work`."""
    chosen = ",".join(f"instance_{k}" for k in range(n))
    one = run_cli([*base, f"instances=[{chosen}]"], work / "one")
    old = sum(run_cli([*base, f"instances=[instance_{k}]"], work / f"instance_{k}")
              for k in range(n))
    return one, old


def bench_processes(counts: Sequence[int], work: Path) -> list[ProcessRow]:
    """One run of N instances against N single-instance runs (each into its own folder)."""
    for n in counts:
        demo_scene_path(DemoParams(num_objects=n))  # generated before timing
    rows = []
    for n in counts:
        one, old = one_run_vs_processes([f"input.demo.num_objects={n}"], n, work / f"n{n}")
        rows.append(ProcessRow(n, one, old))
        print(f"  N={n:2d}: one process {one:6.1f} s, {n} processes {old:6.1f} s "
              f"-> {old / one:.2f}x faster", flush=True)
    return rows
