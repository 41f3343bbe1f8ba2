"""`tracker=mvtracker`: MVTracker (ethz-vlg/mvtracker), a learned multi-view 3D point tracker:
one call per instance (or per batch of its queries) on all views and frames returns world tracks
directly. The upstream calls it relies on and the settings: docs/learned_trackers.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import cv2
import numpy as np

from permask.data import Queries, Scene, TrackResult
from permask.errors import ConfigError
from permask.fetch.spec import WeightFile
from permask.trackers.base import apply_query_convention
from permask.trackers.encoder_cache import EncoderCache
from permask.trackers.hub import HubTracker, LearnedTrackerConfig, UpstreamSource, load_hub_entry
from permask.trackers.joint import JOINT_ID, joined_queries, split_result

UPSTREAM = "ethz-vlg/mvtracker:ceea8ad2af77ed9b44148ef8e9eeba4ea3c3f072"
SOURCE = UpstreamSource(
    repo_url="https://github.com/ethz-vlg/mvtracker",
    weights="https://huggingface.co/ethz-vlg/mvtracker/resolve/main/mvtracker_200000_june2025.pth",
    weights_name="mvtracker_200000_june2025.pth")
# the checkpoint hubconf's `mvtracker` entry loads (`mvtracker_cleandepth`: ..._cleandepth.pth)
WEIGHTS = [WeightFile("ethz-vlg/mvtracker", "mvtracker_200000_june2025.pth",
                      licence="see the model card")]
SIZE_MULTIPLE = 16  # the feature encoder works on multiples of 16 pixels


@dataclass
class MVTrackerConfig(LearnedTrackerConfig):
    """`tracker=mvtracker`: MVTracker, multi-view 3D."""

    _target_: str = "permask.trackers.mvtracker.MVTrackerTracker"
    name: str = "mvtracker"
    # MiB of stored encoder inputs + outputs (model device) reused across a scene's instances
    # (`EncoderCache`); 0: encode the video again for every instance (and view)
    encoder_cache_mb: int = 4096
    upstream: str = UPSTREAM
    entry: str = "mvtracker"  # or mvtracker_cleandepth (with its weights file)
    weights: List[WeightFile] = field(default_factory=lambda: list(WEIGHTS))
    # [H, W] the model sees (multiples of 16); null: the scene size rounded down to multiples of 16
    input_size: Optional[List[int]] = field(default_factory=lambda: [384, 512])
    support_grid_size: int = 4  # support points per view side, lifted from depth at t=0
    visibility_threshold: float = 0.5
    window_len: int = 12  # the model's sliding window (clips are padded so it runs)
    rgb_scale: float = 255.0  # colours go in as 0..rgb_scale (the model divides by 255)
    scene_scale: float = 1.0  # the model sees world' = scene_scale * world + scene_translation
    scene_translation: List[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


class MVTrackerTracker(HubTracker):
    Config = MVTrackerConfig
    config: MVTrackerConfig
    source = SOURCE

    def __init__(self, config: MVTrackerConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        size = self.config.input_size
        self.input_size = None if size is None else tuple(int(x) for x in size)
        self.scene_translation = np.asarray(list(self.config.scene_translation), np.float64
                                            ).reshape(3)
        self._inputs = None  # (scene, tensors): the scene prepared once, reused per instance
        self.encoders = EncoderCache(self.config.encoder_cache_mb)

    def _entry_kwargs(self, device):
        return {"device": str(device)}

    def _build(self, device):
        if self.config.scene_scale <= 0:
            raise ConfigError("must be > 0", key="tracker.scene_scale")
        if self.input_size is not None and (len(self.input_size) != 2 or any(
                s <= 0 or s % SIZE_MULTIPLE for s in self.input_size)):
            raise ConfigError(f"{list(self.input_size)} is not [H, W] in positive multiples of "
                              f"{SIZE_MULTIPLE}", key="tracker.input_size",
                              fix="e.g. tracker.input_size=[384,512], or null for the scene size")
        model = load_hub_entry(self.config.upstream, self.config.entry, self.code_folder(),
                               self.weights_path(), self.source, self._entry_kwargs(device), allow_missing_keys=True)
        # upstream keeps these predictor settings as plain attributes
        if hasattr(model, "interp_shape"):
            model.interp_shape = None  # resized here, with pixel-centre-correct intrinsics
        if hasattr(model, "grid_size"):
            model.grid_size = self.config.support_grid_size
        if hasattr(model, "visibility_threshold"):
            model.visibility_threshold = self.config.visibility_threshold
        # each window's frames (all views) encoded once per scene, not once per instance
        self.encoders.attach_at(model, "model.fnet")
        return model

    # ------------------------------------------------------------------ tracking
    def track(self, scene: Scene, queries: Queries) -> TrackResult:
        T, N = scene.num_frames, len(queries)
        if N == 0:
            return TrackResult(np.full((T, 0, 3), np.nan, np.float32), np.zeros((T, 0), bool),
                               np.zeros((T, 0), np.float32))
        model = self.load()
        self.encoders.for_scene(scene)
        inputs = self._scene_inputs(scene)
        tracks = np.full((T, N, 3), np.nan)
        prob = np.zeros((T, N))
        for part in self.batches(N):  # separate calls: memory bound, merged back in order
            tracks[:, part], prob[:, part] = self._run(model, inputs, queries.points[part], T)
        visible = prob > self.config.visibility_threshold
        idx, frames = np.arange(N), queries.frame
        tracks[frames, idx] = queries.points[:, 1:]
        visible[frames, idx] = True
        prob[frames, idx] = 1.0
        result = TrackResult(tracks.astype(np.float32), visible, prob.astype(np.float32))
        return apply_query_convention(result, frames)

    def track_joint(self, scene: Scene, queries: dict[str, Queries]) -> dict[str, TrackResult]:
        """Every instance's queries in one call (`tracking=joint`), split back per instance: the
        network attends across all of them; MVTracker uses no masks and no rigid prior."""
        return split_result(self.track(scene, joined_queries(queries, JOINT_ID)), queries)

    def _run(self, model, inputs: dict, points: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass for queries [M,4]: world tracks [T,M,3] and visibility prob [T,M]."""
        import torch

        s, shift = self.config.scene_scale, self.scene_translation
        q = np.asarray(points, np.float64).copy()
        q[:, 1:] = s * q[:, 1:] + shift
        # upstream's windows start at the earliest query, its support grid's (t=0) when it has one:
        # then the padding depends on the scene alone, and so do the frames each window encodes
        first = 0 if self.config.support_grid_size > 0 else int(q[:, 0].min())
        needed = first + self.config.window_len // 2 + 1
        pad = max(0, needed - T)
        args = {k: _pad_time(v, pad) for k, v in inputs.items()}
        args["rgbs"] = args["rgbs"].float() * (self.config.rgb_scale / 255.0)
        query = torch.as_tensor(q, dtype=torch.float32, device=self.device)[None]
        with self.inference():
            out = model(rgbs=args["rgbs"], depths=args["depths"], intrs=args["intrs"],
                        extrs=args["extrs"], query_points_3d=query)
        traj = _drop_batch(out["traj_e"], 3).float().cpu().numpy()[:T]
        p = out.get("vis_e_as_prob")
        p = out["vis_e"] if p is None else p
        p = _drop_batch(p, 2).float().cpu().numpy()[:T]
        return (traj.astype(np.float64) - shift) / s, p

    def _scene_inputs(self, scene: Scene) -> dict:
        """The scene as upstream tensors on the device, prepared once per scene: rgbs uint8
        [1,V,T,3,h,w], depths [1,V,T,1,h,w] (scaled), intrs [1,V,T,3,3], extrs [1,V,T,3,4]
        (world' -> camera')."""
        import torch

        if self._inputs is not None and self._inputs[0] is scene:
            return self._inputs[1]
        size = self.input_size or snapped_size(scene.image_size)
        rgbs, depths, intrs = resize_views(scene, size)
        extrs = scaled_extrinsics(scene.extrs, self.config.scene_scale, self.scene_translation)
        dev = self.device
        depths = (depths * self.config.scene_scale).astype(np.float32)
        tensors = {
            "rgbs": torch.from_numpy(np.ascontiguousarray(rgbs)).to(dev).permute(0, 1, 4, 2, 3)[None],
            "depths": torch.from_numpy(depths).to(dev)[None, :, :, None],
            "intrs": torch.from_numpy(intrs.astype(np.float32)).to(dev)[None],
            "extrs": torch.from_numpy(extrs.astype(np.float32)).to(dev)[None],
        }
        self._inputs = (scene, tensors)
        return tensors


def snapped_size(image_size: tuple[int, int]) -> tuple[int, int]:
    H, W = image_size
    h, w = H // SIZE_MULTIPLE * SIZE_MULTIPLE, W // SIZE_MULTIPLE * SIZE_MULTIPLE
    if h == 0 or w == 0:
        raise ConfigError(f"the scene ({H}x{W}) is smaller than {SIZE_MULTIPLE} pixels",
                          key="tracker.input_size", fix="tracker.input_size=[384,512]")
    return h, w


def resize_views(scene: Scene, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgbs [V,T,h,w,3] uint8, depths [V,T,h,w] (nearest: no mixing of valid and invalid depth)
    and intrinsics [V,T,3,3] at size (h, w), pixel centres kept consistent:
    u' = (u + 0.5) * w / W - 0.5."""
    H, W = scene.image_size
    h, w = size
    if (h, w) == (H, W):
        return scene.rgbs, scene.depths, scene.intrs.astype(np.float64)
    V, T = scene.num_views, scene.num_frames
    interp = cv2.INTER_AREA if h * w < H * W else cv2.INTER_LINEAR
    rgbs = np.empty((V, T, h, w, 3), np.uint8)
    for v in range(V):
        for t in range(T):
            rgbs[v, t] = cv2.resize(scene.rgbs[v, t], (w, h), interpolation=interp)
    rows = np.minimum(((np.arange(h) + 0.5) * H / h).astype(np.int64), H - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * W / w).astype(np.int64), W - 1)
    depths = scene.depths[:, :, rows[:, None], cols[None, :]]
    sx, sy = w / W, h / H
    A = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    intrs = A @ scene.intrs.astype(np.float64)
    return rgbs, depths, intrs


def scaled_extrinsics(extrs: np.ndarray, scale: float, translation: np.ndarray) -> np.ndarray:
    """World-to-camera [...,3,4] for the mapped world' = scale * world + translation, with the
    camera frame scaled alike (so depth scales by `scale`): [R | scale * t - R translation]."""
    R = extrs[..., :3, :3].astype(np.float64)
    t = extrs[..., :3, 3].astype(np.float64)
    return np.concatenate([R, (scale * t - R @ translation)[..., None]], axis=-1)


def _pad_time(tensor, pad: int):
    """Repeat the last frame (dim 2 of [1,V,T,...]) `pad` times."""
    if pad <= 0:
        return tensor
    import torch
    last = tensor[:, :, -1:]
    return torch.cat([tensor, last.expand(*last.shape[:2], pad, *last.shape[3:])], dim=2)


def _drop_batch(tensor, ndim_without_batch: int):
    """[1,...] -> [...]; also accepts an output already without the batch dimension."""
    return tensor[0] if tensor.dim() == ndim_without_batch + 1 else tensor
