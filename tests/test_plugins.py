"""Every option of the plug-in groups, listed from conf/ (nothing here names a tracker or a depth
model): it composes on its discovered schema, instantiates without loading a model, and --help
lists it (a mistyped key of any option: tests/test_typos.py)."""

from __future__ import annotations

import hydra.utils
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore

import permask
from permask.config import register_configs
from permask.help import WIDTH, first_sentence, groups_text, leading_comment
from tests.helpers import ROOT

CONF = ROOT / "conf"
OPTIONS = [(group, p.stem) for group in ("tracker", "depth")
           for p in sorted((CONF / group).glob("*.yaml"))]


def test_every_yaml_has_its_schema_and_every_schema_its_yaml():
    register_configs()
    store = ConfigStore.instance()
    for group in ("tracker", "depth"):
        schemas = {name.removesuffix(".yaml") for name in store.list(f"schema/{group}")}
        yamls = {stem for g, stem in OPTIONS if g == group}
        assert schemas == yamls, group


@pytest.mark.parametrize("group, name", OPTIONS)
def test_option_composes_and_instantiates_without_loading(group, name):
    cfg = permask.compose(f"{group}={name}")
    node = cfg[group]
    assert node.name == name
    built = hydra.utils.instantiate(node)
    assert built.name == name
    assert getattr(built, "_model", None) is None  # learned models load on `load()`
    if group == "tracker":
        assert built.config.name == name and built.progress is False


def test_help_lists_every_option_with_its_description():
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        text = groups_text()
    for group in ("tracker", "depth", "query", "sweep"):
        for path in sorted((CONF / group).glob("*.yaml")):
            first = next(line for line in path.read_text().splitlines()
                         if line.startswith("#") and "@package" not in line)
            assert f"  {path.stem} " in text, path
            assert " ".join(first.lstrip("# ").split()[:5]) in " ".join(text.split()), path
    assert "== hydra/launcher=NAME" in text and "  basic" in text


@pytest.mark.parametrize("argv0, started_as", [("/env/bin/permask", "permask"),
                                               ("/checkout/run.py", "python run.py")])
def test_help_names_its_command_and_wraps_whole_sentences(monkeypatch, argv0, started_as):
    """The rendered help says `permask ...` when started as `permask` and `python run.py ...`
    when started as run.py; each description is its YAML comment's first sentence, whole,
    wrapped at whole words within WIDTH columns."""
    monkeypatch.setattr("sys.argv", [argv0, "--help"])
    register_configs()
    # Hydra's own compose: the help template resolves through Hydra's global state, so it is
    # read inside the context (permask.compose returns after leaving it)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        shown = compose(config_name="config", return_hydra_config=True).hydra.help.template
    other = "python run.py" if started_as == "permask" else "permask -m"
    assert f"\n{started_as} -m tracker=static,lk " in shown and other not in shown
    assert f"== Config ({started_as} --cfg job) ==" in shown
    assert all(len(line) <= WIDTH for line in shown.splitlines() if " " in line.strip())
    flat = " ".join(shown.split())
    for group in ("tracker", "depth", "query", "sweep", "hydra/launcher"):
        for path in sorted((CONF / group).glob("*.yaml")):
            paragraph = leading_comment(path.read_text()).replace("python run.py", started_as)
            sentence = first_sentence(paragraph)
            if not sentence:
                continue
            assert f"{path.stem} {' '.join(sentence.split())}" in flat, path
            assert sentence == paragraph or sentence.endswith((".", "!", "?")), path
