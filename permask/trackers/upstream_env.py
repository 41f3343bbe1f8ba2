"""What SpatialTrackerV2's upstream code expects of its environment that a shared environment
may not give it, provided around its import and calls only (upstream files untouched):

- `modules_from(folder, "utils3d")`: its own pinned `utils3d` (d3a577a, its requirements.txt),
  which differs from MoGe's pin (3fab839 lacks `utils3d.torch.depth_edge`, which
  SpatialTrackerV2 calls). While a block runs, `import utils3d` finds the copy in `folder`;
  afterwards the process's own `utils3d` (if any) is back in `sys.modules`. Upstream modules
  bind the copy they imported, so both models work in one process. Swapping `sys.modules` is
  process-wide: another thread importing `utils3d` at that very moment would get this copy.
- `torchvision_write_video()`: its TrackRefiner imports `torchvision.io.write_video` (for debug
  videos only), which torchvision 0.22+ removed; a stand-in that raises if ever called is there
  during the import only.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


def _package_modules(package: str) -> dict:
    return {name: module for name, module in sys.modules.items()
            if name == package or name.startswith(package + ".")}


class ModuleSwap:
    """Keeps one copy of `package` (from `folder`) and puts it in `sys.modules` while a block
    runs; the modules imported inside a block are kept for the next one."""

    def __init__(self, package: str, folder: str | None):
        self.package = package
        self.folder = folder
        self.mine: dict = {}

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        if self.folder is None:
            yield
            return
        theirs = _package_modules(self.package)
        for name in theirs:
            del sys.modules[name]
        sys.modules.update(self.mine)
        sys.path.insert(0, self.folder)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(self.folder)
            self.mine = _package_modules(self.package)
            for name in self.mine:
                del sys.modules[name]
            sys.modules.update(theirs)


def has_attribute(module: str, attribute: str) -> bool:
    """Whether the installed `module` imports and has `attribute` (False when not installed)."""
    try:
        imported = __import__(module, fromlist=["_"])
    except Exception:  # noqa: BLE001 - not installed or broken: not usable
        return False
    return hasattr(imported, attribute)


@contextlib.contextmanager
def torchvision_write_video() -> Iterator[None]:
    try:
        import torchvision.io as tvio
    except Exception:  # noqa: BLE001 - no torchvision: upstream's import reports it
        yield
        return
    if hasattr(tvio, "write_video"):
        yield
        return

    def write_video(*args, **kwargs):
        raise NotImplementedError("torchvision.io.write_video is not in this torchvision "
                                  "(SpatialTrackerV2 uses it for debug videos only)")

    tvio.write_video = write_video
    try:
        yield
    finally:
        del tvio.write_video
