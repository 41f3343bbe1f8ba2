"""What a run tells a person, in a terminal and in files alike.

- Progress bars (tqdm) only where stderr is a terminal: in a file, a SLURM or CI log or under Ray
  their carriage returns and cursor moves become clutter, so there a run logs one plain line per
  instance instead (`bars_on`).
- Everything the run reports (the end-of-run table, the outputs, a failure) also goes to the run
  folder's log file, Hydra's job log `run.log` (`to_run_log`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from typing import Iterator

from rich.console import Console


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


def to_run_log(text: str) -> None:
    """Append plain `text` to the run's log file(s) only (the terminal has it already)."""
    for handler in run_log_handlers():
        stream = handler.stream if handler.stream is not None else handler._open()
        handler.stream = stream
        stream.write(text.rstrip("\n") + "\n")
        handler.flush()


def plain_text(render, width: int = 120) -> str:
    """What `render(console)` prints on a rich Console, as plain text (no colours, no escapes)."""
    buffer = io.StringIO()
    render(Console(file=buffer, width=width, no_color=True, color_system=None,
                   force_terminal=False, highlight=False))
    return buffer.getvalue()
