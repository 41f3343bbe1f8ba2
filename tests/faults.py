"""Fault injection at every write a run makes into its output folder (tests only).

A run writes its folder through four calls, and only through them (every output goes through
`permask.files.atomic.atomic_write`):

- `replace`: `os.replace` of a finished temporary onto its final name (every output file);
- `lock`: `os.ftruncate` of `.permask/lock` before the holder's line is written;
- `log`: each write to a `logging.FileHandler` stream (Hydra's job log `run.log`);
- `config`: Hydra's `.hydra/*.yaml` records (`hydra.core.utils._save_config`).

`install(plan)` wraps them. A `Plan` names the folder watched (`root`; writes elsewhere, such as
the demo cache, pass untouched), a `mode` and the index `at` of the write it acts on:
- `count`: only append `kind path` per write to `log_file` (enumerates the write points);
- `enospc`: from write `at` on, every write fails with ENOSPC (a disk that filled up there);
- `kill`: SIGKILL this process at write `at` (a `replace`: its temporary is complete, not yet
  renamed).

`python -m tests.faults OVERRIDES...` runs `permask` with the plan from $PERMASK_FAULT
(`mode:at:root:log_file`), as a killed or starved run would behave on a real machine.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Plan:
    mode: str  # count | enospc | kill
    at: int
    root: Path
    log_file: Path | None = None
    seen: int = 0

    @classmethod
    def from_env(cls, text: str) -> "Plan":
        mode, at, root, log_file = text.split(":", 3)
        return cls(mode, int(at), Path(root).absolute(), Path(log_file) if log_file else None)

    def write(self, kind: str, path: str | os.PathLike) -> None:
        """Called before each write into the folder: count it, or fail / die as planned."""
        path = Path(path).absolute()
        if self.root != path and self.root not in path.parents:
            return
        index, self.seen = self.seen, self.seen + 1
        if self.log_file is not None:
            with open(self.log_file, "a", encoding="utf-8") as fh:
                fh.write(f"{kind} {path.relative_to(self.root)}\n")
        if self.mode == "kill" and index == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "enospc" and index >= self.at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


class _FaultyStream:
    """A log file stream whose every write is a write point."""

    def __init__(self, stream, path: str, plan: Plan):
        self._stream, self._path, self._plan = stream, path, plan

    def write(self, text: str) -> int:
        self._plan.write("log", self._path)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def install(plan: Plan, patch) -> None:
    """Wrap the four write calls with `plan`; `patch(obj, name, value)` sets an attribute (e.g.
    pytest's `monkeypatch.setattr`, or plain `setattr` in a throwaway process)."""
    import hydra.core.utils as hydra_utils

    real_replace, real_ftruncate = os.replace, os.ftruncate
    real_open, real_save = logging.FileHandler._open, hydra_utils._save_config

    def replace(src, dst, *args, **kwargs):
        plan.write("replace", dst)
        return real_replace(src, dst, *args, **kwargs)

    def ftruncate(fd, length):
        plan.write("lock", os.readlink(f"/proc/self/fd/{fd}"))
        return real_ftruncate(fd, length)

    def open_log(handler):
        return _FaultyStream(real_open(handler), handler.baseFilename, plan)

    def save_config(cfg, filename, output_dir):
        plan.write("config", Path(output_dir) / filename)
        return real_save(cfg, filename, output_dir)

    patch(os, "replace", replace)
    patch(os, "ftruncate", ftruncate)
    patch(logging.FileHandler, "_open", open_log)
    patch(hydra_utils, "_save_config", save_config)


def main() -> None:
    from permask.allocators import release_freed_memory_promptly

    release_freed_memory_promptly()
    install(Plan.from_env(os.environ["PERMASK_FAULT"]), setattr)  # before permask.cli wraps Hydra
    from permask.cli import main as permask_main

    sys.argv = ["run.py", *sys.argv[1:]]
    permask_main()


if __name__ == "__main__":
    main()
