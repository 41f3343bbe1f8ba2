"""Writing one .rrd file safely: atomically (temporary name beside it, finalized with its footer,
then renamed), and without hanging when the disk fills (Rerun's file sink would wait forever)."""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import rerun as rr
import rerun.blueprint as rrb

from permask.errors import OutputError
from permask.files.atomic import atomic_write
from permask.record.identity import RecordingIds


def _has_footer(path: Path) -> bool:
    """The file exists and ends with a complete RRD footer (existence only on other SDKs)."""
    if not path.exists():
        return False
    try:
        from rerun_bindings import check_for_rrd_footer
    except ImportError:  # pragma: no cover - not in every rerun-sdk version
        return True
    return bool(check_for_rrd_footer(str(path)))


_FILES: dict[int, Path] = {}  # id(recording stream) -> the file it writes, while it does
_STUCK: list[Path] = []  # files whose Rerun sink can no longer finish (see `sink_stuck`)


def sink_stuck() -> bool:
    """True once a Rerun file sink failed in a way Rerun cannot recover from (its writer waits
    forever on a full disk): the process must then end with `os._exit`, as Rerun's exit hooks
    would wait forever too."""
    return bool(_STUCK)
FLUSH_POLL_S = 2.0
FLUSH_STALL_S = 120.0  # no byte written for this long: the sink is stuck (disk full, dead mount)


def flush(rec: rr.RecordingStream, path: Path | None = None) -> None:
    """`rec.flush()` that cannot hang: Rerun's file sink waits forever when its disk is full.
    Polls; raises OSError(ENOSPC) when the file stopped growing on a full disk, or OSError after
    FLUSH_STALL_S without progress. A stream that writes no file we know of (a live viewer) is
    waited for at most FLUSH_POLL_S."""
    path = path or _FILES.get(id(rec))
    last_size, last_progress = -1, time.monotonic()
    while True:
        try:
            rec.flush(timeout_sec=FLUSH_POLL_S)
            return
        except RuntimeError as err:  # Rerun's timeout; any other error is the sink's own
            if "timed out" not in str(err):
                raise
            if path is None:  # not a file (a live viewer): the rest stays queued for it
                return
        size = path.stat().st_size if path.exists() else 0
        if size != last_size:
            last_size, last_progress = size, time.monotonic()
            continue
        if shutil.disk_usage(path.parent).free < 2**20:
            _STUCK.append(path)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        if time.monotonic() - last_progress > FLUSH_STALL_S:
            _STUCK.append(path)
            raise OSError(errno.EIO, f"writing stalled for {FLUSH_STALL_S:.0f} s", str(path))


def _check_space(path: Path, needed: int) -> None:
    """Refuse before writing when the disk cannot take about `needed` bytes (Rerun's sink
    cannot report a full disk, see `flush`)."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < needed + 2**20:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


def write_atomic(path: str | os.PathLike, ids: RecordingIds, blueprint: rrb.Blueprint | None,
                  log: Callable[[rr.RecordingStream], None], *, name: str | None = None,
                  expected_bytes: int = 0) -> Path:
    """Log with `log(rec)` into a temporary file beside `path`, finalize it, rename it to `path`
    (`permask.files.atomic.atomic_write`: on any failure nothing is left and an existing `path`
    is untouched; Rerun's sink errors become one OutputError naming the file)."""
    path = Path(path)
    rec = rr.RecordingStream(ids.application_id, recording_id=ids.recording_id)
    if not rr.is_enabled(recording=rec):
        raise OutputError("rerun logging is disabled, cannot write the recording", file=str(path),
                          fix="unset the environment variable RERUN (it is 'off')")
    with atomic_write(path) as tmp:
        _check_space(path, expected_bytes)
        try:
            rec.save(tmp)
            _FILES[id(rec)] = tmp  # for flush() inside log()
            if name:
                rec.send_recording_name(name)
            if blueprint is not None:
                rec.send_blueprint(blueprint, make_active=True, make_default=True)
            log(rec)
            flush(rec, tmp)  # until the batcher has handed everything to the file sink
            rec.disconnect()  # drops the file sink: writes the footer and closes the file
        finally:
            _FILES.pop(id(rec), None)
            if not sink_stuck():  # a stuck sink would make disconnect wait forever
                rec.disconnect()
        if not _has_footer(tmp):
            raise OSError("the recording was not finalized (no RRD footer; disk full?)")
    return path
