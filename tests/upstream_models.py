"""The real upstream models (code in ../shared/upstream, see its README) built with random weights
the way their upstream builders build them, and saved in the format their loaders read.

Used by tests/test_upstream.py and benchmarks/. Random weights give meaningless tracks and depth,
but the real code paths, layouts, resizing and compute cost.

Where the folder is: `$PERMASK_UPSTREAM_DIR`, else `../shared/upstream` beside the repository.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FOLDERS = {
    "mvtracker": "mvtracker@ceea8ad",
    "cotracker": "co-tracker@82e02e8",
    "cotracker_old": "co-tracker@20d1b6c",
    "spatracker": "SpaTrackerV2@da6a92d",
    "spatracker_utils3d": "utils3d@d3a577a",  # SpaTrackerV2's own utils3d pin
    "moge": "MoGe@0744441",
    "vggt": "vggt@44b3afb",
    "depth_anything": "Depth-Anything-V2@a561b84",
}

# The upstream Python dependencies (setup.cfg extra `upstream`; utils3d from the folder, --no-deps)
INSTALL_HINT = ("pip install torch==2.14.1 torchvision==0.29.1 -e '.[test,upstream]' && "
                "pip install --no-deps ../shared/upstream/utils3d@3fab839 (see .ci/run)")


def upstream_dir() -> Path | None:
    """The upstream snapshots folder, or None where it is absent."""
    env = os.environ.get("PERMASK_UPSTREAM_DIR")
    path = Path(env).expanduser() if env else ROOT.parent / "shared" / "upstream"
    return path.resolve() if (path / "README.md").is_file() else None


def folder(name: str) -> Path:
    base = upstream_dir()
    if base is None:
        raise FileNotFoundError("no upstream folder (../shared/upstream or $PERMASK_UPSTREAM_DIR)")
    path = base / FOLDERS[name]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is missing from the upstream folder")
    return path


def _torch():
    import torch
    torch.manual_seed(0)
    return torch


def _hub_load(repo: Path, entry: str, **kwargs):
    """torch.hub.load(source='local') as the adapters call it (repo put on sys.path meanwhile)."""
    torch = _torch()
    return torch.hub.load(str(repo), entry, source="local", **kwargs)


# ----------------------------------------------------------------------------------- trackers

def save_mvtracker(tmp: Path) -> Path:
    """hubconf `mvtracker(pretrained=False, device='cpu')` (EvaluationPredictor around MVTracker with
    the hubconf defaults); saved like the released checkpoint: {'model': state dict of the bare
    MVTracker, 'total_steps': ...} (hubconf `_extract_model_state` unwraps it)."""
    torch = _torch()
    predictor = _hub_load(folder("mvtracker"), "mvtracker", pretrained=False, device="cpu")
    path = tmp / "mvtracker_200000_june2025.pth"
    torch.save({"model": predictor.model.state_dict(), "total_steps": 0}, path)
    return path


def save_cotracker(tmp: Path, online: bool, which: str = "cotracker") -> Path:
    """hubconf `cotracker3_offline` / `cotracker3_online(pretrained=False)`; saved like
    facebook/cotracker3 scaled_offline.pth / scaled_online.pth: the plain state dict of
    `predictor.model` (hubconf loads it with `predictor.model.load_state_dict`)."""
    torch = _torch()
    entry = "cotracker3_online" if online else "cotracker3_offline"
    predictor = _hub_load(folder(which), entry, pretrained=False)
    path = tmp / ("scaled_online.pth" if online else "scaled_offline.pth")
    torch.save(predictor.model.state_dict(), path)
    return path


def import_from(repo: Path, module: str):
    """Import `module` with `repo` first on sys.path (left there: upstream imports lazily)."""
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    return importlib.import_module(module)


def ensure_torchvision_io_write_video() -> None:
    """SpaTrackerV2 imports `torchvision.io.write_video` at module level (TrackRefiner.py; it only
    writes debug videos) and pins torchvision 0.18; torchvision 0.29 (the one that imports beside
    the torch these tests use) removed it. A stub that raises if ever called stands in."""
    import torchvision.io

    if not hasattr(torchvision.io, "write_video"):
        def write_video(*args, **kwargs):
            raise NotImplementedError("torchvision.io.write_video is not in this torchvision")
        torchvision.io.write_video = write_video


def spatracker_args() -> dict:
    """The `model` section of upstream's config/magic_infer_offline.yaml: the `args` that
    Predictor(args) takes and that the released folder's config.json holds."""
    import yaml
    with open(folder("spatracker") / "config" / "magic_infer_offline.yaml") as handle:
        return yaml.safe_load(handle)["model"]


def save_spatracker(tmp: Path) -> Path:
    """`Predictor(args)` with upstream's offline config, saved with the Hugging Face mixin's
    `save_pretrained` (config.json + model.safetensors), which `Predictor.from_pretrained` reads,
    like the released Yuxihenry/SpatialTrackerV2-Offline folder."""
    _torch()
    ensure_torchvision_io_write_video()
    from permask.trackers.upstream_env import ModuleSwap

    # imported with its own utils3d, as the adapter does (the modules stay loaded)
    with ModuleSwap("utils3d", str(folder("spatracker_utils3d"))).active():
        module = import_from(folder("spatracker"), "models.SpaTrackV2.models.predictor")
    model = module.Predictor(args=spatracker_args())
    path = tmp / "SpatialTrackerV2-Offline"
    model.save_pretrained(str(path))
    return path


# ----------------------------------------------------------------------------------- depth

def moge2_config(dim: int = 384) -> dict:
    """A MoGe-2 model config (MoGeModel(**config), the structure of the released ones: DINOv2
    encoder, 5-level neck, points / mask heads, metric scale head) with the ViT-S/14 backbone
    (the released models use ViT-L/14; smaller for CPU tests)."""
    levels = [dim, dim // 2, dim // 4, dim // 8, dim // 16]
    head = {"dim_in": levels, "dim_res_blocks": levels, "resamplers": ["conv_transpose"] * 4,
            "dim_times_res_block_hidden": 2, "num_res_blocks": 1}
    return {
        "encoder": {"backbone": "dinov2_vits14", "intermediate_layers": 4, "dim_out": dim},
        "neck": {"dim_in": [dim + 2, 2, 2, 2, 2], "dim_out": [None] * 5, "dim_res_blocks": levels,
                 "resamplers": ["conv_transpose"] * 4, "dim_times_res_block_hidden": 2,
                 "num_res_blocks": 1},
        "points_head": {**head, "dim_out": [None, None, None, None, 3]},
        "mask_head": {**head, "dim_out": [None, None, None, None, 1]},
        "scale_head": {"dims": [dim, dim, 1]},
        "remap_output": "exp",
        "num_tokens_range": [1200, 3600],
    }


def save_moge(tmp: Path) -> Path:
    """`moge.model.v2.MoGeModel(**config)`, saved as `MoGeModel.from_pretrained` reads a local
    model.pt: {'model_config': config, 'model': state dict}. The mask head's last bias is set to
    +5 so that the (random) mask keeps the pixels (upstream writes inf depth where it is off)."""
    torch = _torch()
    module = import_from(folder("moge"), "moge.model.v2")
    config = moge2_config()
    model = module.MoGeModel(**config)
    with torch.no_grad():
        model.mask_head.output_blocks[-1].bias.fill_(5.0)
    path = tmp / "model.pt"
    torch.save({"model_config": config, "model": model.state_dict()}, path)
    return path


def save_vggt(tmp: Path) -> Path:
    """`vggt.models.vggt.VGGT(enable_point=False, enable_track=False)`: the released VGGT-1B
    architecture (embed_dim 1024 is the only size its ViT-L patch embedding fits) without the
    point and track heads permask does not use, saved with the Hugging Face mixin's
    `save_pretrained`, which `VGGT.from_pretrained(<folder>)` reads (about 4.6 GB, a minute)."""
    _torch()
    module = import_from(folder("vggt"), "vggt.models.vggt")
    model = module.VGGT(enable_point=False, enable_track=False)
    path = tmp / "VGGT-1B-depth-camera"
    model.save_pretrained(str(path))
    del model
    return path


def save_depth_anything(tmp: Path) -> Path:
    """`depth_anything_v2.dpt.DepthAnythingV2(encoder='vits', features=64, out_channels=[48, 96,
    192, 384], max_depth=20)` from metric_depth/ (the README's vits settings), saved as the
    released depth_anything_v2_metric_hypersim_vits.pth: a plain state dict."""
    torch = _torch()
    module = import_from(folder("depth_anything") / "metric_depth", "depth_anything_v2.dpt")
    model = module.DepthAnythingV2(encoder="vits", features=64, out_channels=[48, 96, 192, 384],
                                   max_depth=20.0)
    path = tmp / "depth_anything_v2_metric_hypersim_vits.pth"
    torch.save(model.state_dict(), path)
    return path
