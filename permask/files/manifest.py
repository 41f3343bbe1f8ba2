"""The run manifest `.permask/manifest.json`: which input a folder's results belong to and every
file the runs into it planned to write. It is written before the first output, so a killed run
leaves it too, and a later run can tell whether the folder holds results of another input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from permask.errors import OutputError
from permask.files.atomic import save_json
from permask.files.layout import OutputLayout, inside

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


def read_manifest(layout: OutputLayout) -> dict | None:
    path = layout.manifest()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # written atomically, so only hand edits get here: treat as absent
    return data if isinstance(data, dict) else None


def claim_folder(layout: OutputLayout, input_fingerprint: str, input_path: str,
                 planned: list[Path], on_existing: str) -> None:
    """Record this run's input and planned files, after checking the folder's earlier results.

    Results of another input (by content fingerprint) are refused, or with
    `on_existing=overwrite` every file the earlier runs planned is removed first, so old and new
    results never mix. `on_existing=error` refuses any folder that holds results.
    """
    earlier = read_manifest(layout)
    legacy = _legacy_fingerprint(layout)
    holds_results = earlier is not None or legacy is not None
    if holds_results and on_existing == "error":
        raise OutputError("already holds results", file=str(layout.root), key="output_dir",
                          fix="choose another output_dir, or on_existing=resume|overwrite")
    earlier_input = earlier.get("input_fingerprint") if earlier else legacy
    files: list[str] = []
    if earlier and earlier_input == input_fingerprint and on_existing != "overwrite":
        files = [f for f in earlier.get("files", []) if isinstance(f, str)]
    elif holds_results and on_existing != "overwrite":
        if earlier_input and earlier_input != input_fingerprint:
            raise OutputError("holds results of a different input file; not mixing them",
                              file=str(layout.root), key="output_dir",
                              fix="choose another output_dir, or on_existing=overwrite")
    elif earlier and on_existing == "overwrite":
        _remove_listed(layout, earlier.get("files", []))
    for path in planned:
        rel = str(path.relative_to(layout.root))
        if rel not in files:
            files.append(rel)
    save_json(layout.manifest(), {"format": MANIFEST_FORMAT, "input": input_path,
                                  "input_fingerprint": input_fingerprint, "files": files})


def _legacy_fingerprint(layout: OutputLayout) -> str | None:
    """A folder written before manifests existed: its metrics.json names the input."""
    path = layout.metrics_json()
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("input_fingerprint") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _remove_listed(layout: OutputLayout, files: list) -> None:
    """Remove files an earlier run planned (only names inside the folder, never a symlink's
    target, never a file this run reads)."""
    removed = 0
    reads = {p.resolve() for p in layout.reads}
    for rel in files:
        if not isinstance(rel, str) or ".." in Path(rel).parts:
            continue
        try:
            path = inside(layout.root, rel)
        except OutputError:
            continue
        if path.resolve() not in reads and (path.is_file() or path.is_symlink()):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("on_existing=overwrite: removed %d file(s) of the earlier results", removed)
