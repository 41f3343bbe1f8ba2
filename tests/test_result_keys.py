"""The settings that never change a result (`permask.result_keys`), as resume, the comparison and
Hydra's job folder names read them."""

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from tests.helpers.runs import compose  # cached per set of overrides
from permask.compare.runs import names_run
from permask.config import CONF_DIR
from permask.resume import instance_fingerprint
from permask.result_keys import RESULT_FREE, covers, exact_keys, without

RESULT_FREE_OVERRIDES = ["video=true", "video_settings.fps=5", "on_locked=wait", "progress=false",
                         "record.spawn=true", "input.limits.max_depth=8"]


def test_a_key_covers_what_lies_below_it():
    assert covers(["video_settings"], "video_settings.fps")
    assert not covers(["video"], "video_settings.fps") and not covers(["video"], "vid")
    nested = {"input": {"npz": "a", "limits": {"max_depth": 3}}, "video": True}
    assert without(nested, ["input.limits", "video", "absent.key"]) == {"input": {"npz": "a"}}


def test_exact_keys_spell_out_the_schema_below_a_key():
    from permask.config import PermaskConfig

    keys = exact_keys(["video_settings", "depth.cache"], PermaskConfig)
    assert keys == ["video_settings", "video_settings.per_instance", "video_settings.trail",
                    "video_settings.radius", "video_settings.max_points", "video_settings.fps",
                    "depth.cache"]


@pytest.mark.parametrize("base,override", [([], o) for o in RESULT_FREE_OVERRIDES]
                         + [(["depth=gt_filled"], "depth.cache=false")])
def test_result_free_settings_keep_an_instance_fingerprint(base, override, small_demo_scene):
    scene = small_demo_scene
    plain = instance_fingerprint(compose(*base), scene, "instance_0")
    assert instance_fingerprint(compose(*base, override), scene, "instance_0") == plain


@pytest.mark.parametrize("override", ["query.seed=1", "tracker=static", "temporal_stride=2"])
def test_settings_that_change_tracks_change_the_fingerprint(override, small_demo_scene):
    scene = small_demo_scene
    assert instance_fingerprint(compose(override), scene, "instance_0") != \
        instance_fingerprint(compose(), scene, "instance_0")


def test_scoring_and_instance_choice_keep_the_fingerprint(small_demo_scene):
    scene = small_demo_scene
    plain = instance_fingerprint(compose(), scene, "instance_0")
    for override in ("metrics.mvtracker=kubric", "instances=[instance_0]"):
        assert instance_fingerprint(compose(override), scene, "instance_0") == plain


def test_result_free_settings_never_name_a_run():
    for override in RESULT_FREE_OVERRIDES:
        assert not names_run(override.split("=")[0]), override
    for key in ("tracker", "query.seed", "metrics.mvtracker", "tracker.win_size"):
        assert names_run(key), key


def test_sweep_job_folders_leave_out_the_result_free_keys():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="config", return_hydra_config=True,
                            overrides=["tracker=static", *RESULT_FREE_OVERRIDES])
    excluded = list(cfg.hydra.job.config.override_dirname.exclude_keys)
    assert "base_name" in excluded and all(k in excluded for k in RESULT_FREE)
    assert cfg.hydra.job.override_dirname == "tracker=static"
