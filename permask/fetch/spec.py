"""What a learned model needs from upstream, as typed config values (visible in the YAML)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from permask.errors import ConfigError

COMMIT = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class WeightFile:
    """One weight file on the Hugging Face Hub. `sha256` (64 hex) is checked after every
    download and before first use of a cached copy; null: not pinned, the hash seen on first
    fetch is kept and printed so it can be pinned."""

    repo: str  # Hugging Face repo id, e.g. ethz-vlg/mvtracker
    file: str  # file name inside the repo
    revision: str = "main"  # branch, tag or commit of the Hugging Face repo
    sha256: Optional[str] = None
    size_mb: float = 0.0  # for the docs and the progress line; 0: unknown
    licence: str = ""  # of the weights, as upstream states it


@dataclass(frozen=True)
class Pin:
    """A pinned GitHub commit: `owner/repo:<40-hex commit>`."""

    owner: str
    repo: str
    commit: str

    @property
    def name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def __str__(self) -> str:
        return f"{self.name}:{self.commit}"


def parse_pin(upstream: str, key: str) -> Pin:
    """'owner/repo:<commit>' -> Pin; anything not pinned to a full commit is a ConfigError (an
    archive can be checked against a commit, never against a branch name)."""
    repo, _, ref = str(upstream).partition(":")
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name or not COMMIT.match(ref):
        raise ConfigError(f"'{upstream}' is not pinned as owner/repo:<40-hex commit>", key=key,
                          fix=f"e.g. {key}=owner/repo:<commit>")
    return Pin(owner, name, ref)


def check_sha256(value: str | None, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not SHA256.match(str(value).lower()):
        raise ConfigError(f"'{value}' is not a sha256 (64 hex digits)", key=key)
    return str(value).lower()


def as_weight_files(items) -> list[WeightFile]:
    """The `weights` entries of a config (dataclasses, or the dicts Hydra passes) as
    WeightFile objects."""
    out = []
    for item in items or []:
        if isinstance(item, WeightFile):
            out.append(item)
        else:
            out.append(WeightFile(**{k: item[k] for k in item}))
    return out
