"""Upstream code that calls `.cuda()` whatever the model's device (SpatialTrackerV2 allocates its
outputs and moves segments that way), run on the model's device instead.

`cuda_calls_to(device)` redirects `Tensor.cuda()` and `Module.cuda()` to `device` while the
block runs, in this thread only: the patch is installed on entry of the first block and removed
when the last one ends; a thread outside any block (another model running in the same process)
gets torch's own `.cuda()`. Upstream files are never edited.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_lock = threading.Lock()
_active = threading.local()  # .targets: stack of devices for this thread
_users = 0  # blocks open in any thread
_originals: dict[str, object] = {}


def _target():
    targets = getattr(_active, "targets", None)
    return targets[-1] if targets else None


def _tensor_cuda(self, *args, **kwargs):
    target = _target()
    if target is None:
        return _originals["tensor"](self, *args, **kwargs)
    options = {k: kwargs[k] for k in ("non_blocking", "memory_format") if k in kwargs}
    return self.to(target, **options)


def _module_cuda(self, *args, **kwargs):
    target = _target()
    if target is None:
        return _originals["module"](self, *args, **kwargs)
    return self.to(target)


@contextlib.contextmanager
def cuda_calls_to(device) -> Iterator[None]:
    """`.cuda()` on tensors and modules goes to `device` (a torch.device) inside the block."""
    import torch

    global _users
    with _lock:
        if _users == 0:
            _originals["tensor"], _originals["module"] = torch.Tensor.cuda, torch.nn.Module.cuda
            torch.Tensor.cuda, torch.nn.Module.cuda = _tensor_cuda, _module_cuda
        _users += 1
    targets = _active.__dict__.setdefault("targets", [])
    targets.append(torch.device(device))
    try:
        yield
    finally:
        targets.pop()
        with _lock:
            _users -= 1
            if _users == 0:
                torch.Tensor.cuda, torch.nn.Module.cuda = _originals["tensor"], _originals["module"]
                _originals.clear()
