"""Hydra compose tests: the config groups, the override interface, typed schema checks."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

import permask


def make(overrides=()):
    return permask.compose(*overrides, return_hydra_config=True)


def test_defaults():
    cfg = make()
    assert cfg.tracker.name == "lk" and cfg.depth.name == "gt" and cfg.query.mode == "first_frame"
    assert cfg.input.npz is None and cfg.input.mask_key == "sam2_masks"
    assert cfg.instances == [] and cfg.temporal_stride == 1


def test_the_old_pipelines_settings_are_overrides():
    cfg = make(["input.npz=scene.npz", "input.mask_key=sam2_masks", "base_name=scene",
                "output_dir=out/scene", "tracker=lk", "query=contact_window",
                "query.frames_before=3", "query.frames_after=10", "query.max_points=50",
                "temporal_stride=2", "spatial_downsample=2", "instances=[instance_0]",
                "split.reuse_dir=prev/instances", "depth=gt"])
    assert cfg.query.mode == "contact_window" and cfg.query.frames_after == 10
    assert cfg.output_dir == "out/scene" and cfg.hydra.run.dir == "out/scene"
    assert cfg.instances == ["instance_0"] and cfg.split.reuse_dir == "prev/instances"


@pytest.mark.parametrize("tracker", ["static", "lk"])
def test_tracker_group(tracker):
    assert make([f"tracker={tracker}"]).tracker.name == tracker


@pytest.mark.parametrize("mode", ["first_frame", "contact_window", "npz"])
def test_query_group(mode):
    assert make([f"query={mode}"]).query.mode == mode


def test_default_output_dir_is_unique_per_run_and_names_tracker():
    cfg = make(["tracker=static", "base_name=scene"])
    assert cfg.output_dir.startswith("outputs/scene/static/")


@pytest.mark.parametrize("bad", ["query.max_points=many", "temporal_stride=1.5"])
def test_wrong_type_fails(bad):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        make([bad])


def test_job_dirname_names_input_by_stem_and_never_nests():
    from permask.config import job_dirname
    assert job_dirname("input.npz=/data/run 1/scene.npz,tracker=lk") == "input=scene,tracker=lk"
    assert job_dirname("split.reuse_dir=/a/b") == "split.reuse_dir=_a_b"
    assert job_dirname("") == "job"


def test_default_folders_carry_the_process_id():
    import os
    cfg = make()
    assert cfg.output_dir.endswith(f"_{os.getpid()}") and cfg.sweep_dir.endswith(f"_{os.getpid()}")
