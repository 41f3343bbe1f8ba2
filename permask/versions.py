"""Format versions of permask's own output files, and the check every reader makes.

Each tracked NPZ, `metrics.json` and comparison records `format_version` (bumped when a key is
renamed, removed or changes meaning; adding keys does not bump it) and `permask_version` (the
package that wrote it). A reader accepts its own format and older ones (files written before
versions were recorded count as format 0) and refuses a newer format with one line, rather
than misreading it.
"""

from __future__ import annotations

from pathlib import Path

from permask import __version__
from permask.errors import FormatVersionError

TRACKED_FORMAT = 1  # {base}_{tracker}_{instance}_tracked.npz
METRICS_FORMAT = 1  # metrics.json of a run
COMPARISON_FORMAT = 2  # comparison.csv / .md / .json of several runs (2: the CSV's `mode` column)


def stamp(format_version: int) -> dict[str, object]:
    """The two version keys a writer adds to a file of format `format_version`."""
    return {"format_version": format_version, "permask_version": __version__}


def check_readable(path: str | Path, found: object, supported: int) -> int:
    """The file's format version (0 when `found` is None: written before versions existed);
    FormatVersionError when it is newer than this permask reads (`supported`)."""
    try:
        version = 0 if found is None else int(found)
    except (TypeError, ValueError):
        raise FormatVersionError(f"format_version {found!r} is not a number", file=path,
                                 key="format_version") from None
    if version > supported:
        raise FormatVersionError(
            f"written in format {version} by a newer permask; this permask ({__version__}) "
            f"reads format {supported} and older", file=path, key="format_version",
            fix="upgrade permask (pip install -U permask) to read it")
    return version
