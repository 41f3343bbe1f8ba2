"""A mistyped key or choice stops the run before any work: `permask.compose` raises Hydra's error,
and `python run.py` prints Hydra's message, exit 1, and writes nothing into the output folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

import permask
from tests.helpers import ROOT
from tests.helpers.runners import run_cli

# every option's schema is closed: a key it does not declare stops at compose
PLUGIN_KEYS = [[f"{group}={path.stem}", f"{group}.no_such_setting=1"]
               for group in ("tracker", "depth")
               for path in sorted((ROOT / "conf" / group).glob("*.yaml"))]
OTHER_KEYS = [["query.max_pionts=3"], ["nonsense=1"]]
CHOICES = [["tracker=nonexistent"], ["query.sampling=farthst"], ["query.mode=first"], ["on_existing=never"],
           ["on_locked=maybe"], ["tracking=combined"],
           ["tracker=cotracker3_offline", "tracker.views=visable"],
           ["depth=moge", "depth.precision=bf61"], ["metrics.scaling=bogus"],
           ["metrics.thresholds=[0.01]"], ["metrics.mvtracker=kitti"]]


@pytest.mark.parametrize("overrides", [*PLUGIN_KEYS, *OTHER_KEYS, *CHOICES], ids=" ".join)
def test_a_mistyped_key_or_choice_stops_at_compose(overrides):
    with pytest.raises((HydraException, OmegaConfBaseException)) as info:
        permask.compose(*overrides)
    typo = overrides[-1].split("=")
    assert typo[0].rsplit(".", 1)[-1] in str(info.value) or typo[1] in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("typo, words", [("query.max_pionts=3", "max_pionts"),
                                         ("query.sampling=farthst", "Invalid value 'farthst'")])
def test_a_typo_on_the_command_line_is_hydras_message_before_any_work(typo, words,
                                                                      tmp_path: Path):
    out = tmp_path / "out"
    proc = run_cli([f"output_dir={out}", typo])
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())
