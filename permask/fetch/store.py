"""Where fetched code and weights live, and the sha256 check of weight files.

Layout of the models folder (`models_dir()`):

    code/<owner>/<repo>@<commit>/            an upstream repository at a pinned commit
    weights/<hf owner>/<hf repo>/<revision>/<file>   a weight file from the Hugging Face Hub
    .verified/<digest of the path>.json      size, mtime and sha256 of a checked file, so an
                                             unchanged file is not hashed again on every run
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from permask.cache_dir import default_cache_dir
from permask.errors import FetchError
from permask.fetch.spec import Pin, WeightFile

MODELS_DIR_ENV = "PERMASK_MODELS_DIR"
GITHUB_URL_ENV = "PERMASK_GITHUB_URL"  # base URL of GitHub's archives (a mirror, or a test server)


def offline() -> bool:
    """HF_HUB_OFFLINE set (read now, not at import): fetch nothing, report what is missing."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def models_dir() -> Path:
    """$PERMASK_MODELS_DIR, else <permask cache>/models (~/.cache/permask/models)."""
    if os.environ.get(MODELS_DIR_ENV):
        return Path(os.environ[MODELS_DIR_ENV]).expanduser()
    return default_cache_dir() / "models"


def github_url() -> str:
    return os.environ.get(GITHUB_URL_ENV, "https://github.com").rstrip("/")


def code_dir(pin: Pin, root: Path | None = None) -> Path:
    return (root or models_dir()) / "code" / pin.owner / f"{pin.repo}@{pin.commit}"


def weight_path(weight: WeightFile, root: Path | None = None) -> Path:
    return (root or models_dir()) / "weights" / weight.repo / weight.revision / weight.file


def fetch_command(choice: str) -> str:
    """The command that fetches `choice` (e.g. 'tracker=mvtracker') where there is network."""
    return (f"run 'permask fetch {choice} --to DIR' where there is network, copy DIR here and "
            f"set {MODELS_DIR_ENV}=DIR (or copy its contents to {models_dir()})")


def progress(text: str) -> None:
    """A progress line on stdout; downloads also draw the libraries' progress bars where stderr
    is a terminal. Not on stderr (a fetch that fails leaves one line there, its error) and not in
    the run's log (a run that fails at its start leaves no folder behind)."""
    print(f"permask: {text}", file=sys.stdout, flush=True)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _record_path(path: Path) -> Path:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return models_dir() / ".verified" / f"{digest}.json"


def verified_sha256(path: Path, expected: str | None, *, key: str, choice: str) -> str:
    """The sha256 of `path`, checked against `expected` (None: not pinned, anything goes).
    A record of the last check (size, mtime) spares hashing an unchanged file again.
    FetchError (one line) when it differs: the file is corrupt or another version."""
    stat = path.stat()
    record = _record_path(path)
    seen = None
    try:
        data = json.loads(record.read_text())
        if data.get("size") == stat.st_size and data.get("mtime_ns") == stat.st_mtime_ns:
            seen = data.get("sha256")
    except (OSError, ValueError):
        pass
    if seen is None:
        progress(f"checking sha256 of {path}")
        seen = sha256_of(path)
    if expected is not None and seen != expected:
        raise FetchError(f"weight file {path} has sha256 {seen}, the config pins {expected}: "
                         "corrupt or another version, refused", key=key,
                         fix=f"delete {path} and run again to fetch it anew, or "
                             f"{fetch_command(choice)}")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": str(path), "size": stat.st_size,
                                   "mtime_ns": stat.st_mtime_ns, "sha256": seen}))
        os.replace(tmp, record)
    except OSError:  # a read-only models folder (a cluster's shared copy): check again next time
        pass
    return seen
