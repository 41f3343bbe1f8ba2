"""permask entry point: `python run.py [overrides]`, `python run.py -m tracker=static,lk`.

All logic lives in the `permask` package; this file only hands Hydra's config to it.
"""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from permask.config import register_configs
from permask.errors import PermaskError

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from permask.pipeline import run
    from permask.report import print_report

    try:
        report = run(cfg, HydraConfig.get().runtime.output_dir)
    except PermaskError as err:
        print(f"permask: error: {err}", file=sys.stderr)
        sys.exit(2)
    print_report(report)
    return report.overall.get("AJ")


if __name__ == "__main__":
    main()
