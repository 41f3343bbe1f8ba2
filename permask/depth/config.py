"""Typed schemas of the `depth` config group (one dataclass per estimator, see docs/depth.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore

from permask.choices import Choice
from permask.trackers.config import Precision


class Align(Choice):
    auto = "auto"
    none = "none"
    scale = "scale"
    scale_shift = "scale_shift"
    cameras = "cameras"  # vggt


class AlignPer(Choice):
    frame = "frame"
    view = "view"
    scene = "scene"


class Encoder(Choice):
    vits = "vits"
    vitb = "vitb"
    vitl = "vitl"


@dataclass
class DepthConfig:
    """`depth=gt`: the file's depth as recorded."""

    _target_: str = "permask.depth.gt.GroundTruthDepth"
    name: str = "gt"


@dataclass
class FilledDepthConfig(DepthConfig):
    """`depth=gt_filled`: the file's depth with safe holes filled (permask/depth/filled.py)."""

    _target_: str = "permask.depth.filled.FilledDepth"
    name: str = "gt_filled"
    max_radius: int = 3  # pixels; holes up to ~2 * max_radius across are filled
    rel_tolerance: float = 0.05  # measured depths of a window must agree within this share of z
    abs_tolerance: float = 0.005  # ... plus this many metres
    min_neighbours: int = 2  # measured pixels needed in the window
    cache: bool = True
    cache_dir: Optional[str] = None  # null: $PERMASK_CACHE_DIR/depth or ~/.cache/permask/depth


@dataclass
class ConstantDepthConfig(DepthConfig):
    """`depth=constant`: a plane at `distance` metres in every camera (not metric)."""

    _target_: str = "permask.depth.constant.ConstantDepth"
    name: str = "constant"
    distance: float = 1.0  # metres


@dataclass
class LearnedDepthConfig(DepthConfig):
    """Settings every learned estimator has (permask/depth/learned.py)."""

    checkpoint: Optional[str] = None  # local weights file/folder (or a hub id in the local cache)
    repo_dir: Optional[str] = None  # local clone of the upstream code; null: installed package
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


@dataclass
class MoGeDepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.MoGeDepth"
    name: str = "moge"
    checkpoint: Optional[str] = "Ruicheng/moge-2-vitl-normal"
    version: int = 2  # 2: metric (MoGe-2); 1: scale-invariant (MoGe-1)
    resolution_level: int = 9  # 0..9, more tokens = finer, slower
    num_tokens: Optional[int] = None  # overrides resolution_level
    use_intrinsics: bool = True  # give the file's horizontal field of view to the model


@dataclass
class VGGTDepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.VGGTDepth"
    name: str = "vggt"
    checkpoint: Optional[str] = "facebook/VGGT-1B"
    frames_per_pass: int = 8  # every view of this many frames per forward pass
    resolution: int = 518  # model image width (multiple of 14)
    min_confidence: float = 0.0  # depth_conf below this -> no depth


@dataclass
class DepthAnythingV2DepthConfig(LearnedDepthConfig):
    _target_: str = "permask.depth.learned.DepthAnythingV2Depth"
    name: str = "depth_anything_v2"
    encoder: Encoder = Encoder.vitl
    max_depth: float = 20.0  # 20: indoor (Hypersim) weights, 80: outdoor (VKITTI)
    input_size: int = 518


def register_depth_schemas(cs: ConfigStore) -> None:
    """Schemas under `schema/depth/<name>`; conf/depth/<name>.yaml extends them."""
    cs.store(group="schema/depth", name="gt", node=DepthConfig)
    cs.store(group="schema/depth", name="gt_filled", node=FilledDepthConfig)
    cs.store(group="schema/depth", name="constant", node=ConstantDepthConfig)
    cs.store(group="schema/depth", name="moge", node=MoGeDepthConfig)
    cs.store(group="schema/depth", name="vggt", node=VGGTDepthConfig)
    cs.store(group="schema/depth", name="depth_anything_v2", node=DepthAnythingV2DepthConfig)
