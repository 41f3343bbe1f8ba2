"""The `permask` command (and `python run.py`, which calls it): hands Hydra's config to the
pipeline and turns expected failures into one line on stderr (exit 2) and interruptions into a
resume hint (exit 130). The configs are the package's own `conf/` folder (`CONF_DIR`)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path

from permask.allocators import release_freed_memory_promptly

release_freed_memory_promptly()  # before rerun-sdk loads its allocator (the `permask` command)

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from permask.config import CONF_DIR, register_configs  # noqa: E402
from permask.errors import Abort, PermaskError, unexpected_failure  # noqa: E402
from permask.logs import guard_run_log, plain_text, run_log_failure, to_run_log  # noqa: E402
from permask.help import command  # noqa: E402

register_configs()


def _hydra_record_failures_as_one_line() -> None:
    """Hydra writes the run's `.hydra/*.yaml` before any permask code runs, and reports a failed
    write (a full disk) as a traceback with exit 1: carry it out as one line, exit 2, instead."""
    import hydra.core.utils as hydra_utils

    real = hydra_utils._save_config
    if getattr(real, "one_line", False):
        return

    def save_config(cfg, filename, output_dir):
        try:
            real(cfg, filename, output_dir)
        except OSError as err:
            from permask.errors import OutputError
            from permask.files.atomic import describe_os_error

            raise Abort(OutputError(f"cannot write: {describe_os_error(err)}",
                                    file=str(Path(output_dir) / filename))) from None

    save_config.one_line = True
    hydra_utils._save_config = save_config


_hydra_record_failures_as_one_line()

# run folders named on the command line that existed before this process (never removed)
_PREEXISTING: set[Path] = set()


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # unwinds like Ctrl-C: temporary files removed, resume hint printed


def _exit(code: int) -> None:
    """sys.exit, or os._exit when a Rerun file sink is stuck (its exit hook would never end)."""
    from permask.record.sink import sink_stuck

    if sink_stuck():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _resume_command(output_dir) -> str:
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("output_dir=")]
    return shlex.join([*command().split(), *overrides, f"output_dir={output_dir}"])


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def run_job(cfg: DictConfig) -> float | None:
    """One run (one job of a multirun): the pipeline, then the report; errors as one line."""
    from permask.pipeline import Interrupted, run
    from permask.report import print_report

    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    guard_run_log()
    output_dir = HydraConfig.get().runtime.output_dir
    try:
        report = run(cfg, output_dir)
    except PermaskError as err:
        _remove_untouched_run_dir(output_dir)  # a failed start leaves no folder behind
        _fail(f"permask: error: {err}", output_dir, 2)
    except (MemoryError, RecursionError, OSError) as err:  # nothing expected gets here: say it
        _fail(f"permask: error: {unexpected_failure(err)}", output_dir, 2)
    except Interrupted as stop:
        _fail(f"permask: interrupted; finished {len(stop.finished)} instance(s) {stop.finished} "
              f"in {stop.output_dir}. Resume with: {_resume_command(stop.output_dir)}",
              output_dir, 130)
    print_report(report)
    try:
        to_run_log(plain_text(lambda console: print_report(report, console)))
    except PermaskError as err:
        _fail(f"permask: error: {err}", output_dir, 2)
    failed_log = run_log_failure()  # the outputs are complete; the run's log is not
    if failed_log is not None:
        _fail(f"permask: error: {failed_log}", output_dir, 2)
    return report.overall.get("AJ")


def _fail(message: str, output_dir, code: int) -> None:
    """The one line on stderr, also in the run's log when its folder is still there; exit.
    Whatever goes wrong while reporting (the log on a full disk) never replaces the error."""
    print(message, file=sys.stderr)
    with contextlib.suppress(Exception):
        if Path(output_dir).is_dir():
            to_run_log(message)
    if code == 130:
        sys.exit(code)
    _exit(code)


def _remove_untouched_run_dir(output_dir) -> None:
    """A run that failed before writing anything leaves no folder behind: the run folder goes
    when this process created it and it holds nothing but Hydra's `.hydra` record and an empty
    job log (`run.log`); then its empty parents up to the working directory."""
    path = Path(output_dir).absolute()
    hydra_dir = path / ".hydra"
    log = path / "run.log"
    try:
        if path in _PREEXISTING or any(p.name not in (".hydra", "run.log") for p in path.iterdir()):
            return
        if log.exists():
            if not log.is_file() or log.stat().st_size:
                return
            log.unlink()
        if hydra_dir.is_dir():
            if any(not p.is_file() or p.suffix != ".yaml" for p in hydra_dir.iterdir()):
                return
            for p in hydra_dir.iterdir():
                p.unlink()
            hydra_dir.rmdir()
        path.rmdir()
        cwd = Path.cwd().absolute()
        parent = path.parent
        while parent != cwd and cwd in parent.parents:
            parent.rmdir()  # OSError when not empty: stops here
            parent = parent.parent
    except OSError:
        pass


def _note_existing_run_dirs(argv: list[str]) -> None:
    for arg in argv:
        for key in ("output_dir=", "hydra.run.dir="):
            if arg.startswith(key):
                path = Path(os.path.expanduser(arg.split("=", 1)[1])).absolute()
                if path.exists():
                    _PREEXISTING.add(path)


def _check_output_dir_early(argv: list[str]) -> None:
    """Hydra creates the run folder before any of our code runs; an explicit output_dir that
    cannot be written would fail there with a traceback-like message. Say it in one line."""
    from permask.files.writable import ensure_writable_dir

    for arg in argv:
        if arg.startswith("output_dir=") and "$" not in arg:
            try:
                ensure_writable_dir(arg.split("=", 1)[1])
            except PermaskError as err:
                print(f"permask: error: {err}", file=sys.stderr)
                sys.exit(2)


def main() -> None:
    """Entry point of `permask` and `python run.py`; `permask inspect ...` goes to
    `permask.inspect`, `permask fetch ...` to `permask.fetch` (a Hydra override always holds
    `=`, so no run is taken for them)."""
    if sys.argv[1:2] == ["inspect"]:
        from permask.inspect.command import main as inspect

        sys.exit(inspect(sys.argv[2:]))
    if sys.argv[1:2] == ["fetch"]:
        from permask.fetch.command import main as fetch_main

        sys.exit(fetch_main(sys.argv[2:]))
    for stream in (sys.stdout, sys.stderr):  # odd ids in messages never crash the printing
        stream.reconfigure(errors="backslashreplace")
    _note_existing_run_dirs(sys.argv[1:])
    _check_output_dir_early(sys.argv[1:])
    try:
        run_job()
    except Abort as stop:  # raised on the driver of a multirun (launcher, callback)
        from permask.callbacks import release_sweep

        release_sweep()
        print(f"permask: error: {stop.error}", file=sys.stderr)
        sys.exit(2)
