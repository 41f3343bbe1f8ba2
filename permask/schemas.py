"""Typed schemas of the plug-in config groups (`tracker`, `depth`), found by discovery.

A tracker (or depth model) is one module plus one YAML file: the module defines its settings as a
dataclass deriving from `TrackerConfig` (or `DepthConfig`) whose `name` default names it, next to
the class that `_target_` points to; `conf/tracker/<name>.yaml` extends `/schema/tracker/<name>`.
`register_schemas` walks the packages below and stores every such dataclass in Hydra's
ConfigStore, so nothing else needs to list it.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# group -> (package searched, dotted name of the base schema class)
PLUGIN_GROUPS = {
    "tracker": ("permask.trackers", "permask.trackers.base.TrackerConfig"),
    "depth": ("permask.depth", "permask.depth.base.DepthConfig"),
}

S = TypeVar("S")


def settings(schema: type[S], config: S | None, overrides: dict[str, Any]) -> S:
    """The settings a component runs with: `config` (default: the schema's defaults) with
    `overrides` replaced. Hydra's instantiate passes the YAML's keys as overrides; a key the
    schema does not have raises TypeError naming it."""
    base = config if config is not None else schema()
    return dataclasses.replace(base, **overrides) if overrides else base


def _named_class(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def discover(package: str, base: type) -> dict[str, type]:
    """{name: schema} for every dataclass deriving from `base`, defined in a module below
    `package` (sub-packages included), whose `name` field has a default."""
    found: dict[str, type] = {}
    root = importlib.import_module(package)
    modules = [root] + [importlib.import_module(info.name) for info in
                        pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
    for module in modules:
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, base) and value is not base
                    and dataclasses.is_dataclass(value) and value.__module__ == module.__name__):
                name = {f.name: f.default for f in dataclasses.fields(value)}.get("name", MISSING)
                if name is not MISSING:
                    if name in found and found[name] is not value:
                        raise RuntimeError(f"two schemas named '{name}': {found[name]} and {value}")
                    found[name] = value
    return found


def register_schemas(cs: ConfigStore) -> dict[str, dict[str, type]]:
    """Store each discovered schema as `schema/<group>/<name>`; returns them per group."""
    groups = {}
    for group, (package, base) in PLUGIN_GROUPS.items():
        groups[group] = discover(package, _named_class(base))
        for name, schema in groups[group].items():
            cs.store(group=f"schema/{group}", name=name, node=schema)
    return groups
