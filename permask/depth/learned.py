"""Learned depth estimators: MoGe (-2 metric, -1 scale-invariant), VGGT, Depth Anything V2 metric.

Each runs its upstream model on the scene's video, caches the raw prediction (keyed by the
video's content and every inference setting, see `permask.depth.cache`), then brings it into the
file's metric frame (`permask.depth.align`) on every run (cheap), and by default keeps the file's
own measurements where it has them (`keep_measured`): the prediction only fills the holes, and
`Scene.depth_measured` says which is which.

Where the code comes from (no network on clusters, so nothing is downloaded here):
- the installed package (`pip install git+https://github.com/microsoft/MoGe.git`, `pip install
  -e /path/to/vggt`), or
- `depth.repo_dir`: a local clone, imported from there (its folder is put on `sys.path` only for
  the import; a different copy of the same package already imported is replaced).
Where the weights come from: `depth.checkpoint`, a local file (or folder, or a hub id that the
upstream loader resolves from its local cache). A missing package, clone or weights file raises
`DepthError` naming what to download and which key to set.

Upstream interfaces relied on (read from the upstream sources, microsoft/MoGe moge/model/v1.py and
v2.py, facebookresearch/vggt vggt/models/vggt.py + vggt/utils/pose_enc.py + README,
DepthAnything/Depth-Anything-V2 metric_depth/depth_anything_v2/dpt.py + metric_depth/README.md):
- MoGe: `moge.model.v2.MoGeModel.from_pretrained(path_or_hub_id)` (v1: `moge.model.v1`; a local
  path to `model.pt` is loaded directly, else hf_hub_download(repo_id, "model.pt"));
  `model.infer(image [B,3,H,W] float in [0,1], fov_x=degrees (float or [B] tensor),
  resolution_level=0..9, num_tokens=None, use_fp16=bool)` (fp16 autocast when use_fp16, else the
  weights' dtype: bf16 = weights cast to bfloat16) -> dict with `depth` [B,H,W] (z in the
  input camera; inf where the predicted mask is off), `mask`, `intrinsics` (normalised), `points`.
  MoGe-2 applies its metric scale head inside `infer` (metres); MoGe-1 output is scale-invariant.
- VGGT: `vggt.models.vggt.VGGT.from_pretrained("facebook/VGGT-1B" or a local folder)` (Hugging
  Face mixin), or `VGGT()` + `load_state_dict(torch.load(model.pt))`; `model(images [S,3,H,W] in
  [0,1], H and W multiples of 14, width 518 in the upstream preprocessing)` -> `depth`
  [B,S,H,W,1], `depth_conf` [B,S,H,W], `pose_enc` [B,S,9]; `vggt.utils.pose_enc.
  pose_encoding_to_extri_intri(pose_enc, (H, W))` -> extrinsics [B,S,3,4] camera-from-world
  (OpenCV), the first image's camera being the world frame, in one unknown scale per call.
- Depth Anything V2 metric: `depth_anything_v2.dpt.DepthAnythingV2(encoder, features,
  out_channels, max_depth)` from the clone's `metric_depth/` folder, `load_state_dict(torch.load(
  depth_anything_v2_metric_{hypersim|vkitti}_{vits|vitb|vitl}.pth))`, `infer_image(bgr uint8
  HxWx3, input_size=518)` -> HxW numpy metres (it moves the input to cuda/mps/cpu by itself, so
  the model goes to that same device).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from permask import torch_support
from permask.data import Scene
from permask.depth.align import MODES, align_to_depth, scale_from_cameras
from permask.depth.base import measured_map, with_depth
from permask.depth.cache import DepthCache, cache_key, file_identity
from permask.errors import ConfigError, DepthError
from permask.geometry import camera_center

log = logging.getLogger(__name__)



# ----------------------------------------------------------------------------- loading helpers

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


# ----------------------------------------------------------------------------- the base class

class LearnedDepth:
    """Shared machinery: lazy model load (once per object), cached raw prediction, alignment to
    the file's metric frame, measured pixels kept.

    Subclasses set `kind`, `model_metric` (raw output in metres?), `predicts_cameras`, and
    implement `_load()`, `_predict(scene) -> dict` (at least `depth` [V,T,H,W] float32, 0 =
    invalid) and `_settings()` (everything that changes the raw prediction).
    """

    kind = "learned"
    version = 1  # bump when the raw prediction of this adapter changes
    model_metric = False
    predicts_cameras = False
    needs_file_depth = False

    def __init__(self, name: str, checkpoint: str | None = None, repo_dir: str | None = None,
                 device: str = "auto", precision: str = "fp32", batch_size: int = 4,
                 align: str = "auto", align_per: str = "frame", min_align_pixels: int = 100,
                 min_baseline: float = 0.01, keep_measured: bool = True, cache: bool = True,
                 cache_dir: str | None = None):
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
        self.checkpoint = checkpoint
        self.repo_dir = repo_dir
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
        settings = {"weights": file_identity(self.checkpoint), **self._settings()}
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


def _fov_x_degrees(K: np.ndarray, width: int) -> float:
    """Horizontal field of view (degrees) of pixel intrinsics K [3,3] for an image `width` wide."""
    return math.degrees(2.0 * math.atan(width / (2.0 * float(K[0, 0]))))


def _frames(scene: Scene, batch_size: int) -> Iterator[tuple[int, slice]]:
    for v in range(scene.num_views):
        for t0 in range(0, scene.num_frames, batch_size):
            yield v, slice(t0, min(t0 + batch_size, scene.num_frames))


# ----------------------------------------------------------------------------- MoGe

MOGE_FIX = ("pip install git+https://github.com/microsoft/MoGe.git (or git clone it and set "
            "depth.repo_dir=/path/to/MoGe); weights: download "
            "https://huggingface.co/Ruicheng/moge-2-vitl-normal/resolve/main/model.pt (MoGe-1: "
            "Ruicheng/moge-vitl) and set depth.checkpoint=/path/to/model.pt")


class MoGeDepth(LearnedDepth):
    """`depth=moge`: MoGe monocular geometry per image. MoGe-2 (`version=2`, default) predicts
    metric depth; MoGe-1 depth is scale-invariant and is aligned to the file's depth. With
    `use_intrinsics`, the file's horizontal field of view is given to the model (fov_x), so it
    does not have to guess the focal length."""

    kind = "moge"

    def __init__(self, name: str = "moge", version: int = 2,
                 checkpoint: str | None = "Ruicheng/moge-2-vitl-normal",
                 resolution_level: int = 9, num_tokens: int | None = None,
                 use_intrinsics: bool = True, **kwargs):
        if version not in (1, 2):
            raise ConfigError(f"MoGe version must be 1 or 2, got {version}", key="depth.version")
        self.model_metric = version == 2
        super().__init__(name, checkpoint=checkpoint, **kwargs)
        self.moge_version = int(version)
        self.resolution_level = int(resolution_level)
        self.num_tokens = num_tokens
        self.use_intrinsics = use_intrinsics

    def _settings(self):
        return {"version": self.moge_version, "resolution_level": self.resolution_level,
                "num_tokens": self.num_tokens, "use_intrinsics": self.use_intrinsics,
                "precision": self.precision}

    def _content(self, scene):
        content = {"rgbs": scene.rgbs}
        if self.use_intrinsics:
            content["intrs"] = scene.intrs
        return content

    def _load(self):
        module = import_upstream(f"moge.model.v{self.moge_version}", self.repo_dir, MOGE_FIX)
        weights = check_checkpoint(self.checkpoint, MOGE_FIX, hub_ok=True)
        self._device = resolve_device(self.device_name)
        try:
            model = module.MoGeModel.from_pretrained(weights)
        except Exception as err:  # noqa: BLE001 - hub download without network, bad file, ...
            raise DepthError(f"cannot load MoGe weights '{weights}': {type(err).__name__}: {err}",
                             key="depth.checkpoint", fix=MOGE_FIX) from None
        model = model.to(self._device).eval()
        if self.precision == "bf16":
            if self._device.type == "cpu":
                raise ConfigError("MoGe in bf16 needs a GPU: upstream's antialiased resize has no "
                                  "bfloat16 kernel on the CPU", key="depth.precision",
                                  fix="depth.precision=fp32 on the CPU")
            torch = import_torch()
            # upstream's infer() has fp16 autocast only (use_fp16) and runs in the weights' dtype
            # otherwise (it casts the image to it; an outer autocast would be switched off by its
            # own `autocast(enabled=False)`): bf16 means bf16 weights with use_fp16=False
            model = model.to(torch.bfloat16)
        return model

    def _predict(self, scene):
        torch = import_torch()
        model = self.model
        V, T, H, W = scene.depths.shape
        depth = np.zeros((V, T, H, W), np.float32)
        for v, frames in _frames(scene, self.batch_size):
            images = torch.from_numpy(np.ascontiguousarray(scene.rgbs[v, frames]))
            images = images.permute(0, 3, 1, 2).float().div(255.0).to(self._device)
            kwargs: dict[str, Any] = {"resolution_level": self.resolution_level,
                                      "use_fp16": self.precision == "fp16"}
            if self.num_tokens is not None:
                kwargs["num_tokens"] = int(self.num_tokens)
            if self.use_intrinsics:
                fov = [_fov_x_degrees(scene.intrs[v, t], W)
                       for t in range(frames.start, frames.stop)]
                kwargs["fov_x"] = torch.tensor(fov, dtype=torch.float32, device=self._device)
            with torch.inference_mode():
                out = model.infer(images, **kwargs)
            depth[v, frames] = out["depth"].float().cpu().numpy().reshape(-1, H, W)
        return {"depth": depth}


# ----------------------------------------------------------------------------- VGGT

VGGT_FIX = ("git clone https://github.com/facebookresearch/vggt and pip install -e it (or set "
            "depth.repo_dir=/path/to/vggt); weights: download "
            "https://huggingface.co/facebook/VGGT-1B/resolve/main/model.pt and set "
            "depth.checkpoint=/path/to/model.pt")


class VGGTDepth(LearnedDepth):
    """`depth=vggt`: VGGT multi-view geometry. Each forward pass takes every view of
    `frames_per_pass` consecutive frames; its depth and cameras share one unknown scale, fixed from
    the file's camera baselines (`align=cameras`, chosen by `auto` when the views stand apart)
    or from the file's depth (`align=scale`). Pixels below `min_confidence` are left invalid."""

    kind = "vggt"
    model_metric = False
    predicts_cameras = True

    def __init__(self, name: str = "vggt", checkpoint: str | None = "facebook/VGGT-1B",
                 frames_per_pass: int = 8, resolution: int = 518, min_confidence: float = 0.0,
                 **kwargs):
        if frames_per_pass < 1:
            raise ConfigError("frames_per_pass must be >= 1", key="depth.frames_per_pass")
        if resolution % 14:
            raise ConfigError(f"resolution must be a multiple of 14, got {resolution}",
                              key="depth.resolution")
        super().__init__(name, checkpoint=checkpoint, **kwargs)
        self.frames_per_pass = int(frames_per_pass)
        self.resolution = int(resolution)
        self.min_confidence = float(min_confidence)

    def _settings(self):
        return {"frames_per_pass": self.frames_per_pass, "resolution": self.resolution,
                "min_confidence": self.min_confidence, "precision": self.precision}

    def _load(self):
        models = import_upstream("vggt.models.vggt", self.repo_dir, VGGT_FIX)
        self._pose_enc = import_upstream("vggt.utils.pose_enc", self.repo_dir, VGGT_FIX)
        weights = check_checkpoint(self.checkpoint, VGGT_FIX, hub_ok=True)
        self._device = resolve_device(self.device_name)
        torch = import_torch()
        try:
            if Path(weights).is_file():  # model.pt state dict
                model = models.VGGT()
                model.load_state_dict(torch.load(weights, map_location="cpu"))
            else:  # a from_pretrained folder or hub id
                model = models.VGGT.from_pretrained(weights)
        except Exception as err:  # noqa: BLE001
            raise DepthError(f"cannot load VGGT weights '{weights}': {type(err).__name__}: {err}",
                             key="depth.checkpoint", fix=VGGT_FIX) from None
        return model.to(self._device).eval()

    def model_size(self, H: int, W: int) -> tuple[int, int]:
        """(h, w) the images are resized to: width `resolution`, height keeping the aspect
        ratio, rounded to a multiple of 14 (as upstream's load_and_preprocess_images)."""
        w = self.resolution
        h = max(14, int(round(H * w / W / 14.0)) * 14)
        return h, w

    def _predict(self, scene):
        torch = import_torch()
        import cv2

        model = self.model
        V, T, H, W = scene.depths.shape
        h, w = self.model_size(H, W)
        depth = np.zeros((V, T, H, W), np.float32)
        centres = np.zeros((V, T, 3), np.float64)
        group = np.zeros((V, T), np.int64)
        for g, t0 in enumerate(range(0, T, self.frames_per_pass)):
            frames = np.arange(t0, min(t0 + self.frames_per_pass, T))
            vv, tt = np.meshgrid(np.arange(V), frames, indexing="ij")
            vv, tt = vv.ravel(), tt.ravel()
            images = torch.from_numpy(np.ascontiguousarray(scene.rgbs[vv, tt]))
            images = images.permute(0, 3, 1, 2).float().div(255.0)
            if (h, w) != (H, W):
                images = torch.nn.functional.interpolate(images, size=(h, w), mode="bilinear",
                                                         align_corners=False, antialias=True)
            images = images.clamp(0, 1).to(self._device)
            with torch.inference_mode(), self.autocast():
                out = model(images)
            extr, _ = self._pose_enc.pose_encoding_to_extri_intri(out["pose_enc"], (h, w))
            d = out["depth"].float().reshape(len(vv), h, w).cpu().numpy()
            if self.min_confidence > 0 and "depth_conf" in out:
                conf = out["depth_conf"].float().reshape(len(vv), h, w).cpu().numpy()
                d = np.where(conf >= self.min_confidence, d, 0.0)
            E = extr.float().reshape(len(vv), 3, 4).cpu().numpy()
            for i, (v, t) in enumerate(zip(vv, tt)):
                # nearest: a resize never blends the two sides of a depth edge
                depth[v, t] = d[i] if (h, w) == (H, W) else cv2.resize(
                    d[i], (W, H), interpolation=cv2.INTER_NEAREST)
                centres[v, t] = camera_center(E[i])
            group[:, frames] = g
        return {"depth": depth, "camera_centres": centres, "group": group}


# ----------------------------------------------------------------------------- Depth Anything V2

DEPTH_ANYTHING_FIX = (
    "git clone https://github.com/DepthAnything/Depth-Anything-V2 and set "
    "depth.repo_dir=/path/to/Depth-Anything-V2/metric_depth; weights: download "
    "https://huggingface.co/depth-anything/Depth-Anything-V2-Metric-Hypersim-Large/resolve/main/"
    "depth_anything_v2_metric_hypersim_vitl.pth (indoor; VKITTI for outdoor) and set "
    "depth.checkpoint=/path/to/that.pth")

DEPTH_ANYTHING_ENCODERS = {
    "vits": {"encoder": "vits", "features": 64, "out_channels": [48, 96, 192, 384]},
    "vitb": {"encoder": "vitb", "features": 128, "out_channels": [96, 192, 384, 768]},
    "vitl": {"encoder": "vitl", "features": 256, "out_channels": [256, 512, 1024, 1024]},
}


class DepthAnythingV2Depth(LearnedDepth):
    """`depth=depth_anything_v2`: Depth Anything V2 metric (indoor Hypersim, max_depth 20 m, or
    outdoor VKITTI, max_depth 80 m), per image. Metric, but per-image scale errors are common, so
    `auto` fits a scale to the file's depth when there is any."""

    kind = "depth_anything_v2"
    model_metric = True

    def __init__(self, name: str = "depth_anything_v2", checkpoint: str | None = None,
                 encoder: str = "vitl", max_depth: float = 20.0, input_size: int = 518,
                 **kwargs):
        if encoder not in DEPTH_ANYTHING_ENCODERS:
            raise ConfigError(f"unknown encoder '{encoder}'", key="depth.encoder",
                              fix="use vits, vitb or vitl")
        super().__init__(name, checkpoint=checkpoint, **kwargs)
        self.encoder = encoder
        self.max_depth = float(max_depth)
        self.input_size = int(input_size)

    def _settings(self):
        return {"encoder": self.encoder, "max_depth": self.max_depth,
                "input_size": self.input_size}

    def _load(self):
        repo = self.repo_dir
        if repo and (Path(repo).expanduser() / "metric_depth").is_dir():
            repo = str(Path(repo).expanduser() / "metric_depth")  # the clone's root was given
        dpt = import_upstream("depth_anything_v2.dpt", repo, DEPTH_ANYTHING_FIX)
        weights = check_checkpoint(self.checkpoint, DEPTH_ANYTHING_FIX)
        torch = import_torch()
        # infer_image() puts its input on cuda, else mps, else cpu: the model must be there too
        mps = getattr(torch.backends, "mps", None)
        has_mps = mps is not None and mps.is_available()
        self._device = torch.device("cuda" if torch.cuda.is_available() else
                                    "mps" if has_mps else "cpu")
        if self.device_name not in ("auto", str(self._device)):
            log.warning("depth_anything_v2 runs on %s (upstream infer_image picks the device), "
                        "not %s", self._device, self.device_name)
        try:
            model = dpt.DepthAnythingV2(**DEPTH_ANYTHING_ENCODERS[self.encoder],
                                        max_depth=self.max_depth)
            model.load_state_dict(torch.load(weights, map_location="cpu"))
        except Exception as err:  # noqa: BLE001
            raise DepthError(f"cannot load Depth Anything V2 weights '{weights}': "
                             f"{type(err).__name__}: {err}", key="depth.checkpoint",
                             fix=DEPTH_ANYTHING_FIX) from None
        return model.to(self._device).eval()

    def _predict(self, scene):
        model = self.model
        V, T, H, W = scene.depths.shape
        depth = np.zeros((V, T, H, W), np.float32)
        for v in range(V):
            for t in range(T):
                bgr = np.ascontiguousarray(scene.rgbs[v, t, :, :, ::-1])
                depth[v, t] = np.asarray(model.infer_image(bgr, self.input_size), np.float32)
        return {"depth": depth}
