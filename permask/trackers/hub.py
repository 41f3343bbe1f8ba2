"""Loading the learned trackers' upstream code (a local clone, else the pinned commit fetched by
`permask.fetch`) and weights (a local file, else the config's `weights`, fetched and verified),
once per tracker object. torch is imported only when a model loads; every failure is a
`PermaskError` of one line (docs/learned_trackers.md, "Fetching code and weights").
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, Optional

from omegaconf import MISSING

from permask import torch_support
from permask.choices import Precision
from permask.errors import ConfigError, TrackerError
from permask.fetch.code import fetch_code
from permask.fetch.spec import WeightFile, as_weight_files
from permask.fetch.weights import fetch_weights
from permask.trackers.base import TrackerBase, TrackerConfig



@dataclass(frozen=True)
class UpstreamSource:
    """Where a tracker's code and weights live upstream (for messages and docs).

    repo_url: git URL of the code; weights: URL of the checkpoint file (or `hf:owner/name` for a
    Hugging Face repo snapshot); weights_name: the file or folder name to store it under.
    """

    repo_url: str
    weights: str
    weights_name: str

    def fetch_commands(self, ref: str) -> str:
        """Shell commands that put the code and weights on disk (run where there is network)."""
        clone = f"git clone {self.repo_url} /path/to/clone && git -C /path/to/clone checkout {ref}"
        if self.weights.startswith("hf:"):
            get = (f"huggingface-cli download {self.weights[3:]} "
                   f"--local-dir /path/to/{self.weights_name}")
        else:
            get = f"wget {self.weights} -O /path/to/{self.weights_name}"
        return f"{clone}; {get}"

    def fix(self, ref: str) -> str:
        return (f"{self.fetch_commands(ref)}; then set tracker.hub_repo=/path/to/clone "
                f"tracker.checkpoint=/path/to/{self.weights_name}")


def split_upstream(upstream: str) -> tuple[str, str]:
    """'owner/repo:ref' -> ('owner/repo', 'ref'); a missing ref is a config error (unpinned)."""
    repo, _, ref = upstream.partition(":")
    if not ref or repo.count("/") != 1:
        raise ConfigError(f"'{upstream}' is not pinned as owner/repo:<commit or tag>",
                          key="tracker.upstream", fix="e.g. tracker.upstream=owner/repo:<commit>")
    return repo, ref


def import_torch():
    """torch, or a TrackerError saying how to install it."""
    return torch_support.import_torch(TrackerError, "tracker", "tracker=lk")


def resolve_device(device: str):
    """'auto' -> cuda if available else cpu; 'cuda'/'cuda:N'/'cpu' as given (checked)."""
    return torch_support.resolve_device(device, TrackerError, "tracker")


def check_precision(precision: str) -> str:
    return torch_support.check_precision(precision, "tracker")


def autocast(device, precision: str):
    """Mixed-precision context for the forward pass (weights stay fp32, as upstream demos do)."""
    torch = import_torch()
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def query_batches(num_points: int, max_points_per_batch: int) -> list[slice]:
    """Consecutive slices of at most `max_points_per_batch` queries (0 or less: one batch)."""
    if num_points == 0:
        return []
    step = num_points if max_points_per_batch <= 0 else int(max_points_per_batch)
    return [slice(i, min(i + step, num_points)) for i in range(0, num_points, step)]


def check_clone(hub_repo: str, marker: str, source: UpstreamSource, ref: str) -> Path:
    """The clone directory, checked to hold `marker` (a file every copy of the upstream has)."""
    path = Path(os.path.expanduser(str(hub_repo))).resolve()
    if not (path / marker).is_file():
        what = "does not exist" if not path.exists() else f"has no {marker}"
        raise TrackerError(f"{path} {what}", key="tracker.hub_repo", fix=source.fix(ref))
    return path


def check_checkpoint(checkpoint: str, source: UpstreamSource, ref: str, directory: bool = False
                     ) -> Path:
    path = Path(os.path.expanduser(str(checkpoint))).resolve()
    if not (path.is_dir() if directory else path.is_file()):
        raise TrackerError(f"checkpoint {path} does not exist", key="tracker.checkpoint",
                           fix=source.fix(ref))
    return path


def load_hub_entry(upstream: str, entry: str, hub_repo: str, checkpoint: str | None,
                   source: UpstreamSource, entry_kwargs: dict[str, Any] | None = None,
                   allow_missing_keys: bool = False):
    """Build the predictor of `entry` from the local code folder `hub_repo` (a clone, or the
    fetched pinned commit), then load the local checkpoint into it (None: the entry point's own
    weights, `pretrained=True`, which needs network)."""
    torch = import_torch()
    _, ref = split_upstream(upstream)
    ckpt = check_checkpoint(checkpoint, source, ref) if checkpoint else None
    kwargs = dict(entry_kwargs or {})
    kwargs["pretrained"] = ckpt is None
    where = str(check_clone(hub_repo, "hubconf.py", source, ref))
    try:
        model = torch.hub.load(where, entry, source="local", **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure here is "code or weights missing"
        raise hub_error(err, where, entry, ckpt is None, source, ref) from None
    if where not in sys.path:
        # torch.hub puts the clone on sys.path only while building; upstream code that imports
        # more of its own modules later (inside forward) still finds them
        sys.path.append(where)
    if ckpt is not None:
        apply_checkpoint(getattr(model, "model", model), ckpt, source, ref, allow_missing_keys)
    return model


def hub_error(err: Exception, where: str, entry: str, downloading_weights: bool,
              source: UpstreamSource, ref: str) -> TrackerError:
    reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
    if isinstance(err, ModuleNotFoundError) and err.name:
        return TrackerError(f"upstream code at {where} needs the Python module '{err.name}' "
                            f"({reason})", key="tracker.hub_repo",
                            fix=f"pip install the upstream requirements (e.g. pip install {err.name})")
    text = str(err).lower()
    if isinstance(err, RuntimeError) and "missing dependencies" in text:
        return TrackerError(f"upstream code at {where} needs more packages ({reason})",
                            key="tracker.hub_repo", fix="pip install the upstream requirements")
    if isinstance(err, RuntimeError) and "cannot find callable" in text:
        return TrackerError(f"{where} has no entry point '{entry}' ({reason})",
                            key="tracker.entry", fix=source.fix(ref))
    key = "tracker.checkpoint" if downloading_weights else "tracker.hub_repo"
    what = "code or weights" if downloading_weights else "code"
    return TrackerError(f"cannot load {what} of '{entry}' from {where} ({reason})", key=key,
                        fix=source.fix(ref))


def load_state_dict_file(path: Path) -> dict:
    """The model state dict inside a checkpoint file: unwraps {'state_dict': ...} / {'model': ...}
    and strips a 'module.' or 'model.' prefix carried by every key (DataParallel / wrapper)."""
    torch = import_torch()
    try:
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise TrackerError(f"cannot read checkpoint {path} ({type(err).__name__}: "
                           f"{' '.join(str(err).split())[:200]})", key="tracker.checkpoint",
                           fix="point tracker.checkpoint at the upstream .pth file") from None
    sd = raw
    if isinstance(sd, dict):
        for key in ("state_dict", "model"):
            if isinstance(sd.get(key), dict):
                sd = sd[key]
                break
    if not isinstance(sd, dict) or not sd:
        raise TrackerError(f"checkpoint {path} holds no state dict", key="tracker.checkpoint",
                           fix="point tracker.checkpoint at the upstream .pth file")
    for prefix in ("module.", "model."):
        if all(isinstance(k, str) and k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def apply_checkpoint(module, path: Path, source: UpstreamSource, ref: str,
                     allow_missing_keys: bool = False) -> None:
    """Load the checkpoint into `module`; unexpected keys (and missing ones unless allowed) are a
    TrackerError naming a few of them: the file belongs to another model or version."""
    sd = load_state_dict_file(path)
    missing, unexpected = module.load_state_dict(sd, strict=False)
    bad = list(unexpected) + ([] if allow_missing_keys else list(missing))
    if bad:
        raise TrackerError(f"checkpoint {path} does not fit the model ({len(unexpected)} unexpected, "
                           f"{len(missing)} missing keys, e.g. {bad[:3]})", key="tracker.checkpoint",
                           fix=f"use the checkpoint that matches {source.repo_url}@{ref}: "
                           f"{source.weights}")


@dataclass
class LearnedTrackerConfig(TrackerConfig):
    """Settings every learned tracker has."""

    upstream: str = MISSING  # torch.hub spec owner/repo:<commit>, used when hub_repo is null
    entry: str = MISSING  # hubconf entry point (or class) that builds the predictor
    hub_repo: Optional[str] = None  # local clone of the upstream repo; null: fetch `upstream`
    checkpoint: Optional[str] = None  # local weights; null: fetch `weights` (verified)
    weights: List[WeightFile] = field(default_factory=list)  # Hugging Face files + sha256
    device: str = "auto"  # auto (cuda if available, else cpu) | cuda | cuda:N | cpu
    precision: Precision = Precision.fp32  # autocast around the forward pass
    max_points_per_batch: int = 0  # queries per model call (memory); 0: all of an instance at once


class HubTracker(TrackerBase):
    """Common part of the learned trackers: the model loaded once (on the first `track` call or
    the runner's `load()`, before any work), device, precision and query batching.

    Loading is lazy so that a missing model surfaces as a `TrackerError` from `load` (run.py
    prints it as one line) rather than from inside Hydra's instantiate.
    """

    source: UpstreamSource
    config: LearnedTrackerConfig

    def __init__(self, config: LearnedTrackerConfig | None = None, **overrides: Any):
        super().__init__(config, **overrides)
        self.hub_repo = self.config.hub_repo or None  # "" from a shell script: not set
        self.checkpoint = self.config.checkpoint or None
        self._model = None
        self.device = None

    def load(self):
        """The upstream predictor, built on first use and reused for every instance."""
        if self._model is None:
            check_precision(self.config.precision)
            if self.config.max_points_per_batch < 0:
                raise ConfigError("must be >= 0 (0: no limit)", key="tracker.max_points_per_batch")
            device = resolve_device(self.config.device)
            model = self._build(device)
            model.eval()
            model.to(device)  # some upstream `to` return None: keep our reference
            self.device, self._model = device, model
        return self._model

    @property
    def choice(self) -> str:
        """How the command line chooses this tracker (for the fetch messages)."""
        return f"tracker={self.config.name}"

    def code_folder(self, marker: str = "hubconf.py") -> str:
        """`hub_repo` (checked before any weights are fetched), else the pinned `upstream`
        commit fetched into the models folder."""
        if self.hub_repo:
            _, ref = split_upstream(self.config.upstream)
            return str(check_clone(self.hub_repo, marker, self.source, ref))
        return str(fetch_code(self.config.upstream, key="tracker.hub_repo", choice=self.choice,
                              marker=marker))

    def weights_path(self) -> str | None:
        """`checkpoint`, else the configured weight files fetched and verified: the file, or
        the folder holding them all (None: no weights configured, the entry point's own)."""
        if self.checkpoint:
            return self.checkpoint
        files = as_weight_files(self.config.weights)
        if not files:
            return None
        paths = fetch_weights(files, key="tracker.checkpoint", choice=self.choice)
        return str(paths[0] if len(paths) == 1 else os.path.commonpath(
            [str(p.parent) for p in paths]))

    def _build(self, device):
        return load_hub_entry(self.config.upstream, self.config.entry, self.code_folder(),
                              self.weights_path(), self.source, self._entry_kwargs(device))

    def _entry_kwargs(self, device) -> dict[str, Any]:
        return {}

    def batches(self, num_points: int) -> list[slice]:
        return query_batches(num_points, self.config.max_points_per_batch)

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """no_grad + the configured autocast around an upstream forward pass."""
        torch = import_torch()
        with torch.no_grad(), autocast(self.device, self.config.precision):
            yield
