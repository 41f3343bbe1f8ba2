"""Hydra callbacks of a multirun, registered in `conf/config.yaml` under `hydra.callbacks`.

- `LaunchCallback` (at the start): the sweep folder becomes an absolute path on the driver, so
  jobs on any launcher (Ray workers, SLURM nodes) write below the folder the user asked for, and
  the SLURM or Ray cluster the launcher needs is checked before any job leaves. The driver then
  locks the sweep folder until the sweep ends: a second sweep into it is refused in one line, and
  the temporaries of a killed sweep's comparison are removed.
- `CompareCallback` (at the end): writes comparison.csv / comparison.md / PNG plots / the merged
  recording into the sweep folder, exactly as `python -m permask.compare SWEEP_DIR` would, and with
  `select=METRIC` the best-per-mask folder `SWEEP_DIR/best/` (`permask.compare.best`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class LaunchCallback(Callback):
    """`on_multirun_start`: pin `hydra.sweep.dir` to an absolute path and check the launcher's
    cluster (`permask.launchers.pin_sweep_dir`, `check_launcher`), then lock the sweep folder
    (`.permask/lock`, held by the driver until `on_multirun_end`, which Hydra calls for this
    callback last). A failure is one `permask: error:` line, exit 2 (carried past Hydra's
    reporting by `Abort`)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from permask.errors import Abort, PermaskError
        from permask.files.layout import STATE_DIR, ComparisonLayout
        from permask.files.lock import FolderLock
        from permask.launchers import check_launcher, pin_sweep_dir

        try:
            folder = pin_sweep_dir(config)
            check_launcher(config.hydra.launcher)
            created = not folder.exists()
            lock = FolderLock(folder / STATE_DIR / "lock", key="sweep_dir").__enter__()
        except PermaskError as err:
            raise Abort(err) from None
        _sweep_locks.append((lock, folder, created))
        lock.remove_orphaned_temporaries(ComparisonLayout(folder).folders())

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        release_sweep(remove_if_untouched=False)


# the sweep folder this driver locked: (lock, folder, whether this process created the folder)
_sweep_locks: list[tuple[Any, Path, bool]] = []


def release_sweep(remove_if_untouched: bool = True) -> None:
    """Release the sweep folder's lock. A sweep refused at start (a later callback's check)
    leaves no folder behind: with `remove_if_untouched`, a folder this process created that
    holds nothing but the lock is removed."""
    while _sweep_locks:
        lock, folder, created = _sweep_locks.pop()
        lock.__exit__(None, None, None)
        state = lock.lock_file.parent
        if not (remove_if_untouched and created):
            continue
        try:
            if [p.name for p in folder.iterdir()] == [state.name] and \
                    [p.name for p in state.iterdir()] == [lock.lock_file.name]:
                lock.lock_file.unlink()
                state.rmdir()
                folder.rmdir()
        except OSError:
            pass


class CompareCallback(Callback):
    """`on_multirun_end`: aggregate every job folder below the sweep folder.

    enabled: false turns it off (`hydra.callbacks.compare.enabled=false`); recording: write the
    merged cross-run .rrd (null: when the runs recorded, i.e. `record.enabled`); plots: the PNGs;
    print_table: print the headline comparison in the terminal (`permask.compare.printed`);
    select: a metric name (`permask.compare.select`) to also write `best/`, or null.
    A failure of the comparison is logged, never raised: the jobs' own outputs are complete either
    way. A selection that cannot be made (unknown metric: checked before any job starts; a metric
    the jobs lack) is one `permask: error:` line, exit 2, after the comparison is written.
    """

    def __init__(self, enabled: bool = True, recording: bool | None = None, plots: bool = True,
                 print_table: bool = True, select: str | None = None):
        self.enabled = enabled
        self.print_table = print_table
        self.recording = recording
        self.plots = plots
        self.select = select

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.enabled and self.select:
            from permask.compare.select import resolve_metric
            from permask.errors import Abort, PermaskError

            try:
                resolve_metric(self.select)
            except PermaskError as err:
                raise Abort(err) from None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        recording = self.recording
        if recording is None:
            recording = bool(OmegaConf.select(config, "record.enabled", default=True))
        from permask.compare.runs import CompareError
        from permask.compare.sweep import compare

        try:
            comp = compare([sweep_dir], sweep_dir, recording=recording, plots=self.plots)
        except CompareError as err:
            log.warning("permask: no comparison written: %s", err)
            return
        except Exception:  # noqa: BLE001 - never lose a finished sweep to the summary step
            log.exception("permask: comparing the jobs failed; retry with "
                          "`python -m permask.compare %s`", sweep_dir)
            return
        log.info("permask: compared %d job(s) (%s) over %d instance(s): %s", len(comp.runs),
                 ", ".join(comp.columns), len(comp.rows), comp.files.get("markdown"))
        if self.print_table:
            from permask.compare.printed import print_comparison

            print_comparison(comp)
        if self.select:
            self._select(comp, sweep_dir, recording)

    def _select(self, comp, sweep_dir: Path, recording: bool) -> None:
        from permask.compare.best import summary_lines, write_best
        from permask.errors import Abort, PermaskError

        try:
            files = write_best(comp.runs, sweep_dir, self.select, recording=recording)
        except PermaskError as err:
            raise Abort(err) from None
        print("\n".join(summary_lines(files)))
