"""Hydra callbacks: compare the jobs of a multirun when it ends.

Registered in `conf/config.yaml` under `hydra.callbacks`; at the end of `python run.py -m ...` it
writes comparison.csv / comparison.md / PNG plots / the merged recording into the sweep folder,
exactly as `python -m permask.compare SWEEP_DIR` would.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class CompareCallback(Callback):
    """`on_multirun_end`: aggregate every job folder below the sweep folder.

    enabled: false turns it off (`hydra.callbacks.compare.enabled=false`); recording: write the
    merged cross-run .rrd (null: when the runs recorded, i.e. `record.enabled`); plots: the PNGs.
    A failure here is logged, never raised: the jobs' own outputs are complete either way.
    """

    def __init__(self, enabled: bool = True, recording: bool | None = None, plots: bool = True):
        self.enabled = enabled
        self.recording = recording
        self.plots = plots

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        recording = self.recording
        if recording is None:
            recording = bool(OmegaConf.select(config, "record.enabled", default=True))
        from permask.compare import CompareError, compare

        try:
            comp = compare([sweep_dir], sweep_dir, recording=recording, plots=self.plots)
        except CompareError as err:
            log.warning("permask: no comparison written: %s", err)
            return
        except Exception:  # noqa: BLE001 - never lose a finished sweep to the summary step
            log.exception("permask: comparing the jobs failed; retry with "
                          "`python -m permask.compare %s`", sweep_dir)
            return
        log.info("permask: compared %d job(s) (%s) over %d instance(s): %s", len(comp.runs),
                 ", ".join(comp.columns), len(comp.rows), comp.files.get("markdown"))
