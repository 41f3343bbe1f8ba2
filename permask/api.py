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
    """The run config, typed and validated, as `python run.py` would compose it.

    Args:
      overrides: command-line overrides, e.g. "tracker=static", "query.max_points=50".
      return_hydra_config: also Hydra's own settings (`cfg.hydra`: run folder, job name).

    Returns:
      The composed DictConfig.

    Raises:
      Hydra's composition errors for a mistyped key or choice; permask.errors.ConfigError for a
      value out of range.
    """
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
    """The configured tracker, loaded (learned models: code and weights) once.

    Args:
      cfg: a composed config (`compose`).

    Returns:
      The tracker of `cfg.tracker`, ready for `track(scene, queries)` on every instance.
    """
    import hydra.utils

    tracker = hydra.utils.instantiate(cfg.tracker)
    tracker.load()
    return tracker


def run(cfg: Any, output_dir: str | Path) -> Any:
    """The whole pipeline, as `python run.py` does.

    Args:
      cfg: a composed config (`compose`).
      output_dir: the run's folder; every output is written inside it.

    Returns:
      The RunReport: per instance its queries, tracks and figures, the overall figures and
      every file written.
    """
    from permask.pipeline import run as run_pipeline

    return run_pipeline(cfg, output_dir)
