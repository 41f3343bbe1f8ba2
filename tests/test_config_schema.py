"""The schema and the YAMLs: each tracker and depth YAML shows its settings (every field of its
schema but the few the schema fills in) at the schema's default, so a value changed in one place
fails here; the ranges declared next to the schema's fields stop a run with one line each."""

import copy
import dataclasses
import enum
from pathlib import Path

import pytest
import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from permask import compose
from permask.config import CONF_DIR, ranges, validate_config
from permask.errors import ConfigError
from permask.schemas import register_schemas

# filled in by the schema, never set by a user: the class built, the option's own name, and the
# verified weight files (their hashes; `permask fetch` lists them)
NOT_SHOWN = {"_target_", "name", "weights"}
SCHEMAS = register_schemas(ConfigStore.instance())
YAMLS = sorted(Path(CONF_DIR).glob("tracker/*.yaml")) + sorted(Path(CONF_DIR).glob("depth/*.yaml"))


def shown_settings(path: Path) -> tuple[type, dict]:
    """The schema a group YAML extends and the settings it lists."""
    shown = yaml.safe_load(path.read_text())
    (extends,) = shown.pop("defaults")
    _, _, group, name = extends.split("@")[0].split("/")
    return SCHEMAS[group][name], shown


def schema_defaults(schema: type) -> dict:
    """{field: default} of a schema, as a YAML would write it (enums by value)."""
    values = {}
    for f in dataclasses.fields(schema):
        if f.name in NOT_SHOWN:
            continue
        value = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        values[f.name] = value.value if isinstance(value, enum.Enum) else value
    return values


def test_every_group_yaml_is_checked():
    names = {p.relative_to(CONF_DIR).as_posix() for p in YAMLS}
    assert {"tracker/lk.yaml", "tracker/cotracker3_online.yaml", "depth/moge.yaml"} <= names


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_yaml_shows_every_setting_at_its_default(path):
    schema, shown = shown_settings(path)
    assert shown == schema_defaults(schema)


def test_a_yaml_value_off_its_default_is_caught(tmp_path):
    changed = tmp_path / "lk.yaml"
    changed.write_text((Path(CONF_DIR) / "tracker" / "lk.yaml").read_text()
                       .replace("win_size: 15", "win_size: 17"))
    schema, shown = shown_settings(changed)
    assert shown != schema_defaults(schema)


@pytest.fixture(scope="module")
def default_cfg():
    return compose()


@pytest.mark.parametrize("key,must_be", [(key, must_be) for key, _, must_be in ranges()])
def test_every_ranged_field_refuses_a_value_out_of_range(key, must_be, default_cfg):
    cfg = copy.deepcopy(default_cfg)
    OmegaConf.update(cfg, key, -1)  # out of every range declared (all start at 0 or above)
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert refused.value.key == key and f"must be {must_be}, got -1" in str(refused.value)


def test_the_ranges_cover_the_run_settings_that_need_one():
    keys = [key for key, _, _ in ranges()]
    assert {"query.max_points", "temporal_stride", "input.limits.max_depth", "input.depth_scale",
            "record.instance_cloud_stride", "metrics.short_side"} <= set(keys)
    assert len(keys) == len(set(keys)) == 21
