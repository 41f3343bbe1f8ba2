"""`python run.py --help`: the config groups, sweep presets and launchers as Hydra finds them
on its search path (so an added tracker YAML or an installed launcher plugin shows up without
editing any list), each with the first comment line of its YAML file."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

# (group, heading)
HELP_GROUPS = (
    ("tracker", "tracker=NAME        point trackers"),
    ("depth", "depth=NAME          depth estimators"),
    ("query", "query=NAME          where queries come from"),
    ("sweep", "sweep=NAME          multirun presets: python run.py -m sweep=NAME"),
    ("hydra/launcher", "hydra/launcher=NAME where multirun jobs run (-m)"),
)


def group_options(group: str) -> list[str]:
    """The options of a config group on Hydra's current search path (sorted)."""
    from hydra.core.global_hydra import GlobalHydra

    return sorted(GlobalHydra.instance().config_loader().get_group_options(group))


def _first_comment(group: str, option: str) -> str:
    """The first `# ...` line of the option's YAML file, where a file holds it ('' if none)."""
    from hydra.core.global_hydra import GlobalHydra

    for source in GlobalHydra.instance().config_loader().repository.get_sources():
        kind, root = type(source).__name__, getattr(source, "path", "")
        relative = f"{group}/{option}.yaml"
        try:
            if kind == "FileConfigSource":
                text = (Path(root) / relative).read_text()
            elif kind == "ImportlibResourcesConfigSource":
                text = (importlib.resources.files(root) / relative).read_text()
            else:
                continue
        except (OSError, ModuleNotFoundError):
            continue
        for line in text.splitlines():
            if line.startswith("#") and not line.startswith("# @package"):
                return line.lstrip("# ").strip()
        return ""
    return ""


def groups_text() -> str:
    """The help's group section: per group its heading, then one line per option."""
    lines = []
    for group, heading in HELP_GROUPS:
        options = group_options(group)
        if not options:
            continue
        lines.append(f"== {heading} ==")
        width = max(len(o) for o in options)
        for option in options:
            about = _first_comment(group, option)
            lines.append(f"  {option:<{width}}  {about}".rstrip())
        lines.append("")
    return "\n".join(lines).replace("$", "$$")  # the help template is a string.Template
