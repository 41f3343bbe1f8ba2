"""The demo scene put together: a small multi-view RGB-D recording of rigid objects with ground
truth, as the array dict of an NPZ in the *old pipeline format* (see `make_demo_scene`).

K rigid objects (`permask.demo.objects`) move (`permask.demo.motion`) in front of textured walls,
seen by static cameras (`permask.demo.cameras`) and ray-cast (`permask.demo.render`); a slight blur
stands in for a camera's optics, and `depth_density < 1` simulates a sparse depth sensor.
"""

from __future__ import annotations

import cv2
import numpy as np

from permask.demo.cameras import make_cameras
from permask.demo.motion import contact_frames, make_motions, object_poses
from permask.demo.objects import make_objects
from permask.demo.params import SENSOR_MAX_DEPTH, DemoParams
from permask.demo.render import make_planes, render_views


def make_demo_scene(params: DemoParams | None = None) -> dict[str, np.ndarray]:
    """Render the demo scene into the arrays of an NPZ in the old pipeline format.

    Returns (V views, T frames, H x W pixels, K instances, M = mask_scale):
      rgbs [V,T,3,H,W] uint8; depths [V,T,1,H,W] float32 metres (0 = invalid);
      intrs [V,T,3,3] float32; extrs [V,T,3,4] float32 world-to-camera (static, repeated);
      camera_ids [V] object array of str "cam_00", ...;
      sam2_masks 0-d object array of dict {"instance_k": bool [V,T,M*H,M*W]};
      sam2_contact_frames 0-d object array of dict {"instance_k": {camera_id: frame}};
      gt_object_poses [K,T,4,4] float32 object-to-world; gt_instance_ids [K] str;
      timestamps [T] float64 seconds.
    """
    params = params or DemoParams()
    # independent streams: scene content, sensor dropout, contact-frame jitter
    rng, sensor_rng, contact_rng = (np.random.default_rng(s) for s in
                                    np.random.SeedSequence(params.seed).spawn(3))
    T = params.num_frames
    intrs, extrs = make_cameras(params)
    objects = make_objects(params, rng)
    poses = object_poses(objects, make_motions(params, rng), T)
    rgbs, depths, ids = render_views(params, intrs, extrs, make_planes(rng), objects, poses)
    rgbs = _soften(rgbs)
    if params.depth_density < 1.0:
        depths = _sparsify(depths, params.depth_density, sensor_rng)

    camera_ids = [f"cam_{v:02d}" for v in range(params.num_views)]
    instance_ids = [f"instance_{k}" for k in range(len(objects))]
    return {
        "rgbs": np.ascontiguousarray(rgbs.transpose(0, 1, 4, 2, 3)),
        "depths": depths.astype(np.float32)[:, :, None],
        "intrs": np.repeat(intrs[:, None], T, axis=1).astype(np.float32),
        "extrs": np.repeat(extrs[:, None], T, axis=1).astype(np.float32),
        "camera_ids": np.array(camera_ids, dtype=object),
        "sam2_masks": _object_array({iid: ids == k for k, iid in enumerate(instance_ids)}),
        "sam2_contact_frames": _object_array(
            contact_frames(poses, objects, camera_ids, contact_rng)),
        "gt_object_poses": poses.astype(np.float32),
        "gt_instance_ids": np.array(instance_ids, dtype=str),
        "timestamps": np.arange(T, dtype=np.float64) / params.fps,
    }


def _soften(rgbs: np.ndarray, sigma: float = 0.7) -> np.ndarray:
    """Slight Gaussian blur of every image [V,T,H,W,3] uint8: a camera's optics instead of the
    aliasing of one ray per pixel (which no real sensor shows and which defeats optical flow)."""
    V, T = rgbs.shape[:2]
    out = np.empty_like(rgbs)
    for v in range(V):
        for t in range(T):
            out[v, t] = cv2.GaussianBlur(rgbs[v, t], (0, 0), sigma)
    return out


def _sparsify(depth: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Simulate a sparse sensor on depth [...,H,W]: beyond SENSOR_MAX_DEPTH -> 0, and a random
    (1 - density) share of the pixels -> 0, drawn anew for every frame."""
    out = np.where(depth <= SENSOR_MAX_DEPTH, depth, 0.0)
    return np.where(rng.random(depth.shape) < density, out, 0.0).astype(np.float32)


def _object_array(value) -> np.ndarray:
    """Wrap a python object in a 0-d object array (the old pipeline's pickled-dict form)."""
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr
