"""Checks on a run's output folder after a fault: nothing half-written under a final name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.helpers.runs import files_under


def temporaries(folder: Path) -> list[Path]:
    """The temporary files (`.NAME.tmp*`) left below `folder`."""
    return [p for p in folder.rglob(".*.tmp*")]


def assert_complete(folder: Path) -> None:
    """Every file under its final name is whole: NPZ archives pass their CRC check, JSON
    parses, Rerun files end with their footer-bearing size > 0."""
    for path in files_under(folder):
        if path.name.startswith(".") and ".tmp" in path.name:
            continue
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as zf:
                assert zf.testzip() is None, path
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".rrd":
            assert path.stat().st_size > 0, path
