"""Error types. Each kind of failure has its own class; `run.py` catches `PermaskError`
once and prints `str(err)` as one line, exit code 2."""

from __future__ import annotations


class PermaskError(Exception):
    """Base of every expected failure. Formats as `permask: FILE: KEY: PROBLEM[ (fix: ...)]`."""

    def __init__(self, problem: str, *, file: str | None = None, key: str | None = None,
                 fix: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.key = key
        self.fix = fix
        super().__init__(self.format())

    def format(self) -> str:
        parts = [p for p in (self.file, f"key '{self.key}'" if self.key else None) if p]
        text = ": ".join(parts + [self.problem])
        if self.fix:
            text += f" (fix: {self.fix})"
        text = " ".join(text.split())  # always one line
        # and printable: a control character from a file (in a key, a pickled name) escaped
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(PermaskError):
    """A config value is out of its valid range (types and key names are Hydra's job)."""


class InputFileError(PermaskError):
    """The input file is missing, unreadable, not an NPZ, or truncated."""


class InputFormatError(PermaskError):
    """A key is missing or has the wrong shape, dtype or values."""


class UnsafePickleError(PermaskError):
    """A pickled entry references something other than plain data."""


class InstanceError(PermaskError):
    """An instance id is unknown, or instance files are inconsistent."""


class QueryError(PermaskError):
    """Query points cannot be built or are invalid."""


class TrackerError(PermaskError):
    """A tracker cannot be built or failed."""


class OutputError(PermaskError):
    """An output location cannot be written."""


class FormatVersionError(PermaskError):
    """A permask output file was written in a newer format than this permask reads."""


class DepthError(PermaskError):
    """A depth estimator cannot be built (model code or weights missing) or failed."""


def unexpected_failure(err: BaseException) -> str:
    """One line for a failure no stage turned into a `PermaskError` (out of memory, too deep
    recursion, an OS error outside any named file), naming the file where the error has one."""
    if isinstance(err, MemoryError):
        problem = "out of memory"
    elif isinstance(err, RecursionError):
        problem = "input nested too deeply"
    else:
        problem = getattr(err, "strerror", None) or str(err) or type(err).__name__
    file = getattr(err, "filename", None)
    return PermaskError(problem, file=None if file is None else str(file)).format()


class FetchError(PermaskError):
    """Upstream code or weights cannot be fetched (no network, not found) or fail their check
    (an archive of another commit, a weight file whose sha256 differs from the config's)."""


class LauncherError(PermaskError):
    """A sweep cannot be launched: no SLURM or Ray cluster to submit to, or the cluster refused it."""


class Abort(BaseException):
    """Carries a PermaskError raised on the driver while Hydra runs a multirun (a callback or a
    launcher) past Hydra's own reporting, which catches every `Exception` and prints a traceback,
    up to `run.py`, which prints it as one line, exit 2."""

    def __init__(self, error: PermaskError):
        self.error = error
        super().__init__(str(error))


class SelectionError(PermaskError):
    """Best per mask cannot be chosen: an unknown metric, or one the runs lack."""
