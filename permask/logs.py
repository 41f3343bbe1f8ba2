"""What a run tells a person, in a terminal and in files alike.

- Progress bars (tqdm) only where stderr is a terminal: in a file, a SLURM or CI log or under Ray
  their carriage returns and cursor moves become clutter, so there a run logs one plain line per
  instance instead (`bars_on`).
- Everything the run reports (the end-of-run table, the outputs, a failure) also goes to the run
  folder's log file, Hydra's job log `run.log` (`to_run_log`).
- A `run.log` that cannot be written (a full disk) never prints logging's own traceback: the first
  failure is kept (`guard_run_log`) and the run ends on it as one line (`run_log_failure`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import sys
from pathlib import Path
from typing import Iterator

from rich.console import Console

from permask.errors import OutputError

_failures: list[OutputError] = []  # run.log writes that failed since `guard_run_log`


def bars_on(progress: bool) -> bool:
    """Progress bars are drawn when `progress` is set and stderr is a terminal."""
    return bool(progress) and sys.stderr.isatty()


@contextlib.contextmanager
def bars_and_logs(progress: bool) -> Iterator[None]:
    """While bars are drawn, log lines are written above them (not through them)."""
    if not bars_on(progress):
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        yield


def run_log_handlers() -> list[logging.FileHandler]:
    """The file handlers Hydra's job logging put on the root logger (the run's `run.log`)."""
    return [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]


def guard_run_log() -> None:
    """Keep a failed write of a run.log handler (an OSError, for `run_log_failure`) instead of
    letting `logging` print a traceback for it on stderr; other errors are logging's to report."""
    _failures.clear()
    for handler in run_log_handlers():
        handler.handleError = functools.partial(_handle_error, handler, handler.handleError)


def _handle_error(handler: logging.FileHandler, report, record: logging.LogRecord) -> None:
    err = sys.exc_info()[1]
    if isinstance(err, OSError):
        _note_failure(handler, err)
    else:
        report(record)


def _note_failure(handler: logging.FileHandler, err: BaseException | None) -> None:
    """Keep the failure; the log's stream is closed and replaced by one that discards, so its
    unwritable buffer is neither retried nor complained about at exit."""
    from permask.files.atomic import describe_os_error

    reason = describe_os_error(err) if err is not None else "unknown error"
    _failures.append(OutputError(f"cannot write: {reason}", file=str(Path(handler.baseFilename))))
    stream, handler.stream = handler.stream, io.StringIO()
    with contextlib.suppress(Exception):
        if stream is not None:
            stream.close()


def run_log_failure() -> OutputError | None:
    """The first failed write of the run's log since `guard_run_log`, as one-line error."""
    return _failures[0] if _failures else None


def to_run_log(text: str) -> None:
    """Append plain `text` to the run's log file(s) only (the terminal has it already).
    Raises OutputError naming the log when it cannot be written (a full disk)."""
    for handler in run_log_handlers():
        try:
            stream = handler.stream if handler.stream is not None else handler._open()
            handler.stream = stream
            stream.write(text.rstrip("\n") + "\n")
            handler.flush()
        except (OSError, ValueError) as err:  # ValueError: the stream was closed
            _note_failure(handler, err)
            raise run_log_failure() from None


def plain_text(render, width: int = 120) -> str:
    """What `render(console)` prints on a rich Console, as plain text (no colours, no escapes)."""
    buffer = io.StringIO()
    render(Console(file=buffer, width=width, no_color=True, color_system=None,
                   force_terminal=False, highlight=False))
    return buffer.getvalue()
