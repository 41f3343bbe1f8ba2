"""`permask --help` / `python run.py --help`: the usage lines, then the config groups, sweep
presets and launchers as Hydra finds them on its search path (so an added tracker YAML or an
installed launcher plugin shows up without editing any list), each with the first sentence of
its YAML file's leading comment, wrapped at whole words."""

from __future__ import annotations

import importlib.resources
import re
import sys
import textwrap
from pathlib import Path

WIDTH = 100  # columns of the help text
# (arguments after the command, what they do)
USAGE = (
    ("", "run the built-in demo scene"),
    ("input.npz=FILE input.mask_key=sam2_masks base_name=NAME output_dir=DIR", ""),
    ("-m tracker=static,lk", "sweep: one job per tracker"),
    ("--cfg job", "print the resolved config"),
)
# (group, heading); COMMAND stands for how this process was started
HELP_GROUPS = (
    ("tracker", "tracker=NAME        point trackers"),
    ("depth", "depth=NAME          depth estimators"),
    ("query", "query=NAME          where queries come from"),
    ("sweep", "sweep=NAME          multirun presets: COMMAND -m sweep=NAME"),
    ("hydra/launcher", "hydra/launcher=NAME where multirun jobs run (-m)"),
)
# a sentence ends at . ! or ? followed by a space and a capital, a backtick or a bracket
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\[])")


def command() -> str:
    """How this process was started: `python run.py` from a checkout, else `permask`."""
    return "python run.py" if sys.argv[0].endswith("run.py") else "permask"


def _aligned(rows: list[tuple[str, str]], indent: str = "") -> list[str]:
    """Two columns, the second wrapped at whole words within WIDTH and aligned; a first cell too
    long for the column gets its text on the lines below."""
    width = max((len(left) for left, right in rows if right and len(left) <= 36), default=0)
    lines = []
    for left, right in rows:
        if not right:
            lines.append(f"{indent}{left}".rstrip())
            continue
        hang = indent + " " * (width + 2)
        first = f"{indent}{left:<{width}}  " if len(left) <= width else hang
        if len(left) > width:
            lines.append(f"{indent}{left}")
        lines += textwrap.wrap(right, WIDTH, initial_indent=first, subsequent_indent=hang,
                               break_long_words=False, break_on_hyphens=False)
    return lines


def usage_text() -> str:
    """The help's usage lines, named after the command that was started."""
    rows = [(f"{command()} {args}".rstrip(), about) for args, about in USAGE]
    rows.append(("permask inspect FILE", "look at a file first (permask inspect --help)"))
    return "\n".join(_aligned(rows)).replace("$", "$$")  # the help template is a string.Template


def group_options(group: str) -> list[str]:
    """The options of a config group on Hydra's current search path (sorted)."""
    from hydra.core.global_hydra import GlobalHydra

    return sorted(GlobalHydra.instance().config_loader().get_group_options(group))


def leading_comment(text: str) -> str:
    """The YAML's first comment paragraph as one line: its `#` lines up to the first line that is
    not a comment, an empty comment or an indented example (`#   python run.py ...`)."""
    words = []
    for line in text.splitlines():
        if line.startswith("# @package"):
            continue
        body = line[1:] if line.startswith("#") else None
        if body is None or not body.strip() or body.startswith("   "):
            if words:
                break
            continue
        words.append(body.strip())
    return " ".join(words)


def first_sentence(paragraph: str) -> str:
    """The paragraph up to its first sentence end (all of it where there is none)."""
    return _SENTENCE_END.split(paragraph, maxsplit=1)[0].strip()


def description(group: str, option: str) -> str:
    """The first sentence of the option's YAML comment ('' if none), naming this command."""
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
        return first_sentence(leading_comment(text)).replace("python run.py", command())
    return ""


def groups_text() -> str:
    """The help's group section: per group its heading, then the options with their
    descriptions."""
    lines = []
    for group, heading in HELP_GROUPS:
        options = group_options(group)
        if not options:
            continue
        lines.append(f"== {heading.replace('COMMAND', command())} ==")
        lines += _aligned([(option, description(group, option)) for option in options], "  ")
        lines.append("")
    return "\n".join(lines).replace("$", "$$")  # the help template is a string.Template
