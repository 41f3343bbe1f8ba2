"""Reading a recording back: which entities it holds and how many rows each (tests and checks)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from permask.errors import OutputError


@dataclass
class RrdSummary:
    """What a recording file holds.

    application_id, recording_id: of its (first) recording store.
    rows: entity path (no leading slash, spelled as the path helpers spell it) -> temporal rows.
    static: entity path -> static rows, for entities with static data.
    has_blueprint: the file carries a blueprint store.
    """

    application_id: str
    recording_id: str
    rows: dict[str, int]
    static: dict[str, int]
    has_blueprint: bool


def summarize(path: str | os.PathLike) -> RrdSummary:
    """Read a .rrd back with `rerun.chunk.RrdReader`; count rows per entity path."""
    from rerun.chunk import RrdReader

    reader = RrdReader(path)
    recordings = reader.recordings()
    if not recordings:
        raise OutputError("no recording in the file", file=str(path))
    rows: dict[str, int] = {}
    static: dict[str, int] = {}
    for chunk in reader.stream(store=recordings[0]):
        counts = static if chunk.is_static else rows
        key = chunk.entity_path.lstrip("/")
        counts[key] = counts.get(key, 0) + chunk.num_rows
    return RrdSummary(recordings[0].application_id, recordings[0].recording_id, rows, static,
                      bool(reader.blueprints()))


def read_back(path: str | os.PathLike) -> dict[str, int]:
    """Entity path -> number of temporal rows (frames logged) in the file's recording."""
    return summarize(path).rows
