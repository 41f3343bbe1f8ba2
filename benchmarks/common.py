"""What the benchmarks share: the demo scene as a run loads it, and timers (one call; the time
spent inside patched functions)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from permask.data import Scene
from permask.demo.cache import demo_scene_path
from permask.demo.params import DemoParams
from permask.inputs.load import load_scene

ROOT = Path(__file__).resolve().parents[1]


def demo_scene(**params) -> Scene:
    """The (cached) demo scene with these DemoParams, loaded as a run loads it."""
    return load_scene(demo_scene_path(DemoParams(**params)))


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


@contextmanager
def attribute_timers(owner: object, names: Sequence[str]) -> Iterator[dict[str, float]]:
    """Wrap `owner.<name>` (a module's function, a class's method) with a timer for the duration;
    yields name -> seconds spent inside. Callers must look the name up on `owner` at call time
    (cv2 functions as `cv2.<name>`, methods through the instance)."""
    spent = dict.fromkeys(names, 0.0)
    originals = {name: getattr(owner, name) for name in names}

    def wrap(name: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed_call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return timed_call

    for name, fn in originals.items():
        setattr(owner, name, wrap(name, fn))
    try:
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(owner, name, fn)
