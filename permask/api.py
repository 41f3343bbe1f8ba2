"""The Python front door: the few calls a notebook needs, without Hydra's command line.

    import permask
    cfg = permask.compose("tracker=lk", "query.max_points=100")
    scene = permask.load_input(cfg)                      # the scene a run would see
    tracker = permask.make_tracker(cfg)                  # built once, reused per instance
    queries = permask.build_queries(scene, "instance_0", cfg.query)
    result = tracker.track(scene, queries)               # tracks [T,N,3] world metres
    report = permask.run(cfg, "out/notebook")            # or the whole pipeline, as run.py

Every call takes the same config `run.py` composes (`conf/` + overrides), so a notebook and the
command line cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any



def compose(*overrides: str, return_hydra_config: bool = False) -> Any:
    """The run config for `overrides` (as on the command line), typed and validated; with
    `return_hydra_config`, Hydra's own settings too (`cfg.hydra`: run folder, job name)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from permask.config import CONF_DIR, register_configs, validate_config

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides),
                            return_hydra_config=return_hydra_config)
    validate_config(cfg)
    return cfg


def make_tracker(cfg: Any) -> Any:
    """The configured tracker (`cfg.tracker`), loaded and ready for `track(scene, queries)`."""
    import hydra.utils

    tracker = hydra.utils.instantiate(cfg.tracker)
    tracker.load()
    return tracker


def run(cfg: Any, output_dir: str | Path) -> Any:
    """The whole pipeline into `output_dir`, as `python run.py` does; returns the RunReport."""
    from permask.pipeline import run as run_pipeline

    return run_pipeline(cfg, output_dir)
