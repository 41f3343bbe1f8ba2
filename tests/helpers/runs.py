"""The run config and in-process runs: `permask.compose`, composed once per set of overrides.

Hydra's compose takes about 0.2 s; the in-process tests run the pipeline on hundreds of small
files that differ only in the input and output paths. Those two are plain string values (no
group choice, no range check), so setting them on a copy of the composed config gives what
composing with `input.npz=...` and `output_dir=...` gives.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import permask

QUIET = ["progress=false", "query.max_points=8", "record.enabled=false"]
"""A quiet in-process run: no progress bars, few queries, no Rerun recording."""


@functools.lru_cache(maxsize=None)
def _composed(overrides: tuple[str, ...]) -> Any:
    return permask.compose(*overrides)


def compose(*overrides: str) -> Any:
    """`permask.compose(*overrides)`, a fresh copy of the one composed for these overrides."""
    return copy.deepcopy(_composed(tuple(overrides)))


def config_on(path: str | Path | None, out: str | Path, *overrides: str) -> Any:
    """The config of a quiet run (QUIET, then `overrides`) of the recording `path` (None: the
    demo scene) into the folder `out`."""
    cfg = compose(*QUIET, *overrides)
    cfg.input.npz = None if path is None else str(path)
    cfg.output_dir = str(out)
    return cfg


def run_on(path: str | Path | None, out: str | Path, *overrides: str) -> Any:
    """`permask.run` of a quiet run of `path` into `out` (see `config_on`); the RunReport."""
    return permask.run(config_on(path, out, *overrides), out)


def files_under(folder: Path) -> set[Path]:
    """Every file below `folder`, at any depth."""
    return {p for p in folder.rglob("*") if p.is_file()}
