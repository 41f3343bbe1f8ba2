"""What every learned depth estimator shares: importing upstream code from a clone or the
installed package, checking weights, and `LearnedDepth` (lazy load, cached raw prediction,
alignment to the file's metric frame, measured pixels kept)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, Optional

import numpy as np

from permask import torch_support
from permask.choices import Precision
from permask.data import Scene
from permask.depth.align import MODES, Align, AlignPer, align_to_depth, scale_from_cameras
from permask.depth.base import DepthConfig, measured_map, with_depth
from permask.depth.cache import DepthCache, cache_key, file_identity
from permask.errors import ConfigError, DepthError
from permask.fetch.code import fetch_code
from permask.fetch.spec import WeightFile, as_weight_files
from permask.fetch.weights import fetch_weights
from permask.geometry import camera_center

log = logging.getLogger(__name__)


def import_torch():
    return torch_support.import_torch(DepthError, "depth", "depth=gt or gt_filled")


def resolve_device(device: str):
    return torch_support.resolve_device(device, DepthError, "depth")


@contextlib.contextmanager
def _on_path(directory: Path | None) -> Iterator[None]:
    """`directory` first on sys.path for the duration of an import (then removed again)."""
    if directory is None:
        yield
        return
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _forget_foreign(package: str, directory: Path) -> None:
    """Drop an already imported `package` (and its submodules) that does not live in `directory`,
    so that the import below takes the configured clone."""
    mod = sys.modules.get(package)
    if mod is None:
        return
    files = [getattr(mod, "__file__", None), *list(getattr(mod, "__path__", []) or [])]
    if any(f and Path(f).resolve().is_relative_to(directory.resolve()) for f in files):
        return
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def import_upstream(module: str, repo_dir: str | None, fix: str):
    """Import `module` (e.g. 'moge.model.v2') from the local clone `repo_dir` or, without one,
    from the installed packages. DepthError with `fix` when that fails."""
    directory = None
    if repo_dir:
        directory = Path(repo_dir).expanduser()
        if not directory.is_dir():
            raise DepthError(f"{directory} does not exist", key="depth.repo_dir", fix=fix)
        _forget_foreign(module.split(".")[0], directory)
    try:
        with _on_path(directory):
            return importlib.import_module(module)
    except ImportError as err:
        where = f"from {directory}" if directory else "(not installed)"
        raise DepthError(f"cannot import {module} {where}: {err}", key="depth.repo_dir",
                         fix=fix) from None


def check_checkpoint(checkpoint: str | None, fix: str, hub_ok: bool = False) -> str:
    """A local weights path that exists, or (hub_ok) a hub id to hand to the upstream loader."""
    if not checkpoint:
        raise DepthError("no weights configured", key="depth.checkpoint", fix=fix)
    path = Path(str(checkpoint)).expanduser()
    if path.exists():
        return str(path)
    looks_like_hub_id = hub_ok and str(checkpoint).count("/") == 1 and not str(
        checkpoint).startswith((".", "/", "~"))
    if looks_like_hub_id:
        return str(checkpoint)
    raise DepthError(f"weights {path} do not exist", key="depth.checkpoint", fix=fix)


@dataclass
class LearnedDepthConfig(DepthConfig):
    """Settings every learned estimator has."""

    checkpoint: Optional[str] = None  # local weights file/folder; null: fetch `weights`
    repo_dir: Optional[str] = None  # local clone of the upstream code; null: fetch `upstream`
    upstream: Optional[str] = None  # pinned owner/repo:<commit>; null: the installed package
    weights: List[WeightFile] = field(default_factory=list)  # Hugging Face files + sha256
    device: str = "auto"  # auto | cuda | cuda:N | cpu
    precision: Precision = Precision.fp32
    batch_size: int = 4  # images per model call (per-image models)
    align: Align = Align.auto
    align_per: AlignPer = AlignPer.frame  # granularity of the depth-based fit
    min_align_pixels: int = 100  # measured pixels needed for a depth-based fit
    min_baseline: float = 0.01  # metres; camera pairs closer than this do not fix the scale
    keep_measured: bool = True  # keep the file's measured depth; the model fills the rest
    cache: bool = True
    cache_dir: Optional[str] = None


class LearnedDepth:
    """Shared machinery: lazy model load (once per object), cached raw prediction, alignment to
    the file's metric frame, measured pixels kept.

    Subclasses set `kind`, `model_metric` (raw output in metres?), `predicts_cameras`, and
    implement `_load()`, `_predict(scene) -> dict` (at least `depth` [V,T,H,W] float32, 0 =
    invalid) and `_settings()` (everything that changes the raw prediction).
    """

    kind = "learned"
    version = 1  # bump when the raw prediction of this adapter changes
    code_subdir = ""  # where the importable package lives inside the upstream repository
    model_metric = False
    predicts_cameras = False
    needs_file_depth = False

    def __init__(self, name: str, checkpoint: str | None = None, repo_dir: str | None = None,
                 device: str = "auto", precision: str = "fp32", batch_size: int = 4,
                 align: str = "auto", align_per: str = "frame", min_align_pixels: int = 100,
                 min_baseline: float = 0.01, keep_measured: bool = True, cache: bool = True,
                 cache_dir: str | None = None, upstream: str | None = None, weights=()):
        if align not in MODES:
            raise ConfigError(f"unknown align mode '{align}'", key="depth.align",
                              fix="use " + ", ".join(MODES))
        if align == "cameras" and not self.predicts_cameras:
            raise ConfigError(f"{name} predicts no cameras: align=cameras is for VGGT",
                              key="depth.align", fix="use auto, scale, scale_shift or none")
        torch_support.check_precision(precision, "depth")
        if batch_size < 1:
            raise ConfigError("batch_size must be >= 1", key="depth.batch_size")
        self.name = name
        self.checkpoint = checkpoint or None
        self.repo_dir = repo_dir or None
        self.upstream = upstream or None
        self.weights = as_weight_files(weights)
        self.device_name = device
        self.precision = precision
        self.batch_size = int(batch_size)
        self.align = align
        self.align_per = align_per
        self.min_align_pixels = int(min_align_pixels)
        self.min_baseline = float(min_baseline)
        self.keep_measured = keep_measured
        self.cache = DepthCache(cache_dir, enabled=cache)
        self.metric = self.model_metric or align != "none"  # final after apply()
        self.alignment: dict[str, Any] = {}
        self.last_cache_hit: bool | None = None
        self._model = None
        self._device = None

    # -- subclass hooks
    def _load(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, scene: Scene) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        return {}

    def _content(self, scene: Scene) -> dict[str, np.ndarray]:
        """The scene arrays the raw prediction depends on (cache key)."""
        return {"rgbs": scene.rgbs}

    # -- where code and weights come from
    def code_dir(self) -> str | None:
        """`repo_dir`, else the pinned `upstream` commit fetched into the models folder (its
        `code_subdir`), else None: the installed package."""
        if self.repo_dir or not self.upstream:
            return self.repo_dir
        folder = fetch_code(self.upstream, key="depth.repo_dir", choice=f"depth={self.name}")
        return str(folder / self.code_subdir)

    def weights_path(self) -> str | None:
        """`checkpoint`, else the configured weight file fetched and verified (a folder when
        there are several), else None."""
        if self.checkpoint or not self.weights:
            return self.checkpoint
        paths = fetch_weights(self.weights, key="depth.checkpoint", choice=f"depth={self.name}")
        return str(paths[0] if len(paths) == 1 else paths[0].parent)

    def _weights_identity(self) -> str | None:
        """What names the weights in the prediction cache's key, without fetching them."""
        if self.checkpoint or not self.weights:
            return file_identity(self.checkpoint)
        return ";".join(f"{w.repo}/{w.file}@{w.revision}#{w.sha256}" for w in self.weights)

    # -- machinery
    @property
    def model(self):
        if self._model is None:
            t0 = time.perf_counter()
            self._model = self._load()
            log.info("%s: model loaded in %.1fs", self.name, time.perf_counter() - t0)
        return self._model

    def autocast(self):
        torch = import_torch()
        if self.precision == "fp32" or self._device is None:
            return contextlib.nullcontext()
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self._device.type, dtype=dtype)

    def raw_prediction(self, scene: Scene) -> dict[str, np.ndarray]:
        """The model's output for the scene, from the cache when the same video (content) was
        predicted with the same settings before."""
        settings = {"weights": self._weights_identity(), **self._settings()}
        key = cache_key(self.kind, self.version, self._content(scene), settings)
        cached = self.cache.load(self.kind, key)
        self.last_cache_hit = cached is not None and cached.get(
            "depth", np.empty(0)).shape == scene.depths.shape
        if self.last_cache_hit:
            return cached
        t0 = time.perf_counter()
        raw = self._predict(scene)
        log.info("%s: predicted %d images in %.1fs", self.name,
                 scene.num_views * scene.num_frames, time.perf_counter() - t0)
        raw["depth"] = np.where(np.isfinite(raw["depth"]) & (raw["depth"] > 0), raw["depth"],
                                0).astype(np.float32)
        self.cache.save(self.kind, key, **raw)
        return raw

    def apply(self, scene: Scene) -> Scene:
        raw = self.raw_prediction(scene)
        measured = measured_map(scene)
        depth = self._align(raw, scene, measured)
        if self.keep_measured:
            depth = np.where(measured, scene.depths, depth)
            return with_depth(scene, depth, measured)
        return with_depth(scene, depth, np.zeros(depth.shape, bool))

    def _resolve_mode(self, raw: dict[str, np.ndarray], scene: Scene, measured: np.ndarray
                      ) -> str:
        if self.align != "auto":
            return self.align
        if self.predicts_cameras and self._camera_scales(raw, scene) is not None:
            return "cameras"
        if int(measured.sum()) >= self.min_align_pixels:
            return "scale"
        if self.model_metric:
            return "none"
        raise DepthError(f"{self.name} predicts depth up to an unknown scale, and the file has "
                         "neither depth to fit it to nor two camera positions", key="depth.align",
                         fix="add depth to the file, or set depth.align=none to accept "
                             "non-metric depth")

    def _align(self, raw: dict[str, np.ndarray], scene: Scene, measured: np.ndarray
               ) -> np.ndarray:
        pred = raw["depth"]
        mode = self._resolve_mode(raw, scene, measured)
        V, T = pred.shape[:2]
        if mode == "none":
            self.metric = self.model_metric
            scales, shifts = np.ones((V, T)), np.zeros((V, T))
            aligned = pred
        elif mode == "cameras":
            scales = self._camera_scales(raw, scene)
            if scales is None:
                raise DepthError("the cameras of some forward pass have no baseline of "
                                 f"{self.min_baseline} m (one static camera?)", key="depth.align",
                                 fix="use depth.align=scale (needs file depth) or auto")
            shifts = np.zeros((V, T))
            aligned = (pred * scales[:, :, None, None]).astype(np.float32)
            self.metric = True
        else:
            aligned, scales, shifts = align_to_depth(pred, scene.depths, measured, mode,
                                                     self.align_per, self.min_align_pixels)
            self.metric = True
        self.alignment = {"mode": mode, "scales": scales, "shifts": shifts}
        log.info("%s: aligned with %s, scale median %.4g (range %.4g..%.4g)", self.name, mode,
                 float(np.median(scales)), float(scales.min()), float(scales.max()))
        return aligned

    def _camera_scales(self, raw: dict[str, np.ndarray], scene: Scene) -> np.ndarray | None:
        """[V,T] scale per image from its forward pass's camera baselines, or None when a pass
        has no usable baseline (or the model predicts no cameras)."""
        if "camera_centres" not in raw or "group" not in raw:
            return None
        centres, group = raw["camera_centres"], raw["group"]
        V, T = group.shape
        file_centres = np.stack([[camera_center(scene.extrs[v, t]) for t in range(T)]
                                 for v in range(V)])
        scales = np.full((V, T), np.nan)
        for g in np.unique(group):
            sel = group == g
            s = scale_from_cameras(centres[sel], file_centres[sel], self.min_baseline)
            if s is None:
                return None
            scales[sel] = s
        return scales


def fov_x_degrees(K: np.ndarray, width: int) -> float:
    """Horizontal field of view (degrees) of pixel intrinsics K [3,3] for an image `width` wide."""
    return math.degrees(2.0 * math.atan(width / (2.0 * float(K[0, 0]))))


def frame_batches(scene: Scene, batch_size: int) -> Iterator[tuple[int, slice]]:
    for v in range(scene.num_views):
        for t0 in range(0, scene.num_frames, batch_size):
            yield v, slice(t0, min(t0 + batch_size, scene.num_frames))
