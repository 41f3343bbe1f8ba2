"""Figures in different metric modes never share a column, a table or a plot.

Each run's `metrics.json` names the mode of each protocol (`metric_modes`: permask, tapvid3d,
tapvid2d, mvtracker; permask/protocols/modes.py). Where the runs compared agree on a protocol's
mode, it is written next to that protocol's figures (table headings, plot axes, the CSV's `mode`
column). Where they differ, every run's figures of that protocol are renamed `NAME [MODE]`
(`tapvid3d_AJ [scaling=median, ...]`): separate metrics, separate tables, never one.
"""

from __future__ import annotations

from collections.abc import Sequence

from permask.compare.runs import Run
from permask.protocols.modes import protocol_of


def run_modes(run: Run) -> dict[str, str]:
    """The run's {protocol: mode} (empty for runs written before modes were recorded)."""
    modes = run.metrics.get("metric_modes") or {}
    return {str(k): str(v) for k, v in modes.items()} if isinstance(modes, dict) else {}


def separate_modes(runs: Sequence[Run]) -> dict[str, str]:
    """Rename the figures of every protocol whose mode differs between runs (see the module
    docstring), in place; returns {protocol: mode} for the protocols all runs share."""
    shared: dict[str, str] = {}
    protocols = {p for run in runs for p in run_modes(run)}
    for protocol in sorted(protocols):
        seen = {run_modes(run).get(protocol) for run in runs if _has(run, protocol)}
        seen.discard(None)
        if len(seen) == 1:
            shared[protocol] = seen.pop()
        elif len(seen) > 1:
            for run in runs:
                mode = run_modes(run).get(protocol)
                if mode is not None:
                    _rename(run, protocol, mode)
    return shared


def _groups(run: Run) -> list[dict]:
    groups = [f for f in run.instances.values() if isinstance(f, dict)]
    overall = run.metrics.get("overall")
    if isinstance(overall, dict):
        groups.append(overall)
    groups += [f["per_frame"] for f in list(groups) if isinstance(f.get("per_frame"), dict)]
    return groups


def _has(run: Run, protocol: str) -> bool:
    return any(protocol_of(k) == protocol for g in _groups(run) for k in g)


def _rename(run: Run, protocol: str, mode: str) -> None:
    for figures in _groups(run):
        for key in [k for k in figures if protocol_of(k) == protocol]:
            figures[f"{key} [{mode}]"] = figures.pop(key)
