"""`permask fetch tracker=NAME[,NAME...] depth=NAME[,...] [OVERRIDES] [--to DIR]` (also
`python -m permask.fetch ...`): fetch, where there is network, everything those configs need into
one models folder, then print how to point runs at it. A run whose models folder holds them
never touches the network. Exit 2 with one line when something cannot be fetched or checked."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from permask.errors import ConfigError, PermaskError
from permask.fetch import store
from permask.fetch.code import fetch_code
from permask.fetch.spec import as_weight_files
from permask.fetch.weights import fetch_weights

# per group: the weights' local key, and (pin key, local key) of every piece of code it fetches
GROUPS = {"tracker": ("checkpoint", [("upstream", "hub_repo"), ("utils3d", "utils3d_dir")]),
          "depth": ("checkpoint", [("upstream", "repo_dir")])}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="permask fetch",
        description="Fetch the upstream code and weights of learned trackers and depth models "
                    "(pinned commits, sha256-checked weights) into a models folder.")
    parser.add_argument("overrides", nargs="+", metavar="OVERRIDE",
                        help="tracker=NAME[,NAME...] and/or depth=NAME[,...], plus config "
                             "overrides of those groups (e.g. tracker.weights.0.sha256=...)")
    parser.add_argument("--to", metavar="DIR",
                        help=f"models folder (default: ${store.MODELS_DIR_ENV}, else "
                             "~/.cache/permask/models)")
    return parser.parse_args(argv)


def chosen(overrides: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """[(group, name)] from `tracker=a,b depth=c`, and the remaining overrides."""
    picks, rest = [], []
    for item in overrides:
        key, eq, value = item.partition("=")
        if eq and key in GROUPS:
            picks += [(key, name.strip()) for name in value.split(",") if name.strip()]
        else:
            rest.append(item)
    if not picks:
        raise ConfigError("nothing chosen to fetch", key="tracker",
                          fix="e.g. permask fetch tracker=mvtracker,spatialtrackerv2 depth=moge")
    return picks, rest


def group_config(group: str, name: str, overrides: list[str]):
    """The composed `group` node of the run config with `group=name` (and its overrides)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from permask.config import CONF_DIR, register_configs

    register_configs()
    mine = [o for o in overrides if o.lstrip("+~").startswith(f"{group}.")]
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"{group}={name}", *mine])
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(" ".join(str(err).split())[:300], key=group,
                          fix=f"check {group}={name} and its overrides") from None
    return cfg[group]


def fetch_one(group: str, name: str, node, root: Path | None) -> list[str]:
    """Fetch what `node` (a tracker or depth config) names; returns the overrides that point a
    run at the fetched copies (empty: nothing to fetch)."""
    weights_key, codes = GROUPS[group]
    choice = f"{group}={name}"
    pointers = []
    for pin_key, local_key in codes:
        upstream = node.get(pin_key)
        if upstream and not node.get(local_key):
            folder = fetch_code(upstream, key=f"{group}.{local_key}", choice=choice, root=root,
                                pin_key=f"{group}.{pin_key}")
            pointers.append(f"{group}.{local_key}={folder}")
    weights = as_weight_files(node.get("weights"))
    if weights and not node.get(weights_key):
        paths = fetch_weights(weights, key=f"{group}.{weights_key}", choice=choice, root=root)
        where = paths[0] if len(paths) == 1 else paths[0].parent
        pointers.append(f"{group}.{weights_key}={where}")
    return pointers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="permask: %(message)s")  # sha256 notes
    before = os.environ.get(store.MODELS_DIR_ENV)
    try:
        return _fetch_all(args)
    finally:  # a caller in the same process (tests, the Python API) keeps its setting
        if before is None:
            os.environ.pop(store.MODELS_DIR_ENV, None)
        else:
            os.environ[store.MODELS_DIR_ENV] = before


def _fetch_all(args: argparse.Namespace) -> int:
    root = None
    try:
        picks, rest = chosen(args.overrides)
        if args.to:
            root = Path(args.to).expanduser().absolute()
            root.mkdir(parents=True, exist_ok=True)
            os.environ[store.MODELS_DIR_ENV] = str(root)  # verification records live there too
        lines = []
        for group, name in picks:
            pointers = fetch_one(group, name, group_config(group, name, rest), root)
            if pointers:
                lines.append(f"  {group}={name} " + " ".join(pointers))
            else:
                print(f"permask: {group}={name} needs nothing fetched", file=sys.stderr)
    except PermaskError as err:
        print(f"permask: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"permask: error: {getattr(err, 'filename', '') or ''} {err.strerror or err}",
              file=sys.stderr)
        return 2
    folder = root or store.models_dir()
    print(f"Fetched into {folder}. Runs find them there with {store.MODELS_DIR_ENV}={folder}, "
          "or with these overrides:")
    print("\n".join(lines))
    return 0
