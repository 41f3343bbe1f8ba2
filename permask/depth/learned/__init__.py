"""Learned depth estimators, one module each: MoGe (-2 metric, -1 scale-invariant), VGGT, Depth Anything V2 metric.

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
