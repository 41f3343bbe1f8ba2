"""Typed schemas of the `depth` config group."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class DepthConfig:
    _target_: str = "permask.depth.gt.GroundTruthDepth"
    name: str = "gt"


def register_depth_schemas(cs: ConfigStore) -> None:
    """Schemas under `schema/depth/<name>`; conf/depth/<name>.yaml extends them."""
    cs.store(group="schema/depth", name="gt", node=DepthConfig)
