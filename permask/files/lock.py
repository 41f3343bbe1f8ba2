"""One run per output folder at a time: an OS file lock (`fcntl.flock`) on `.permask/lock`.

The lock dies with its process (also on SIGKILL), so a folder is never left locked. While a run
holds it, temporary files in the folder that no live run owns are leftovers of a killed run and
are removed; a second run fails at once naming the folder and the holder's pid, or waits
(`on_locked=wait`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from pathlib import Path

from permask.errors import OutputError
from permask.files.atomic import TMP_GLOB, describe_os_error

log = logging.getLogger(__name__)


class FolderLock:
    """Context manager holding an exclusive lock on an output folder.

    lock_file: `.permask/lock` inside the folder; wait: block until the holder finishes instead
    of failing at once; key: the config key that chose the folder (named in errors).
    """

    def __init__(self, lock_file: Path, *, wait: bool = False, key: str = "output_dir"):
        self.lock_file = Path(lock_file)
        self.folder = self.lock_file.parent.parent
        self.wait = wait
        self.key = key
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise OutputError(f"cannot create the lock file: {describe_os_error(err)}",
                              file=str(self.lock_file), key=self.key) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            if not self.wait:
                os.close(fd)
                raise OutputError(f"another permask run ({holder}) is writing into this folder",
                                  file=str(self.folder), key=self.key,
                                  fix=f"wait for it, choose another {self.key}" + (
                                      ", or on_locked=wait" if self.key == "output_dir" else ""))
            log.warning("waiting for the permask run (%s) writing into %s", holder, self.folder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # who holds it, for the message of a run refused
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        except OSError as err:
            os.close(fd)  # also releases the lock
            raise OutputError(f"cannot write the lock file: {describe_os_error(err)}",
                              file=str(self.lock_file), key=self.key) from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def remove_orphaned_temporaries(self, folders: list[Path]) -> list[Path]:
        """Remove temporary files a killed run left in `folders` (call while holding the lock:
        every writer of this folder holds it, so no live run owns them)."""
        assert self._fd is not None, "hold the lock first"
        removed = []
        for folder in folders:
            for tmp in Path(folder).glob(TMP_GLOB):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
        if removed:
            log.info("removed %d temporary file(s) of an interrupted run", len(removed))
        return removed


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
