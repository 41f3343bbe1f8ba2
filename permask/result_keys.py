"""Which settings never change a run's result, declared once.

Read by resume (an instance's fingerprint leaves them out, so changing one reuses the finished
instances), the comparison (they never name a run's column) and Hydra's job folder names
(`exclude_keys` in conf/config.yaml, through the `${permask_result_free_keys:}` resolver).
A dotted key covers everything below it (`video_settings` covers `video_settings.fps`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

# Where a run's files go, how it talks, waits or is watched live, where caches live, which
# bounds guard the reading, which preset launched it, and the videos drawn from its finished
# tracks: the same run with any of these changed computes the same tracks, files and figures.
RESULT_FREE = (
    "output_dir", "sweep_dir", "sweep", "progress", "on_existing", "on_locked",
    "record.spawn", "record.connect",
    "input.limits", "input.demo.cache_dir", "depth.cache", "depth.cache_dir",
    "video", "video_settings",
)

# What changes the figures or which instances run, but never one instance's tracks: a run
# re-scored in another metric mode, or run on fewer instances, reuses its tracked files.
TRACK_FREE = RESULT_FREE + ("metrics", "instances")


def covers(keys: Iterable[str], key: str) -> bool:
    """Whether dotted `key` is one of `keys` or lies below one of them."""
    return any(key == k or key.startswith(k + ".") for k in keys)


def without(settings: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`settings` (a nested dict, e.g. a resolved config) with every dotted key of `keys`
    removed where present; the dict is changed in place and returned."""
    for key in keys:
        *parents, last = key.split(".")
        node = settings
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return settings


def exact_keys(keys: Iterable[str], schema: type) -> list[str]:
    """`keys` with every field below them in the dataclass `schema` spelled out (Hydra compares
    override keys exactly: `video_settings.fps=5` has the key `video_settings.fps`)."""
    found = []
    for key in keys:
        found.append(key)
        node: Any = schema
        for part in key.split("."):
            fields = {f.name: f for f in dataclasses.fields(node)} \
                if dataclasses.is_dataclass(node) else {}
            node = fields[part].default_factory if part in fields else None
        found += [f"{key}.{leaf}" for leaf in _leaves(node)]
    return found


def _leaves(schema: Any) -> list[str]:
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return []
    leaves = []
    for f in dataclasses.fields(schema):
        below = _leaves(f.default_factory)
        leaves += [f"{f.name}.{leaf}" for leaf in below] if below else [f.name]
    return leaves
