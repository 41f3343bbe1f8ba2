"""What an input NPZ holds, gathered into one JSON-ready dict (`summarize`).

The file is read as a run reads it (`permask.inputs.load.load_scene`: no pickle code, the decode
limits of `input.limits`), so a file `run.py` refuses is refused here with the same one-line
error. On top of the scene it reads only the members' `.npy` headers (`member_headers`).
Pixel counts are at mask resolution; frames and views as stored (no stride, no downsample).
"""

from __future__ import annotations

import shlex
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from permask.data import Scene
from permask.errors import PermaskError
from permask.geometry import camera_center
from permask.inputs.load import DEFAULT_MASK_KEY, load_scene
from permask.inputs.npz import MemberHeader, member_headers
from permask.instances import EMPTY_MASK, is_empty
from permask.queries import NO_QUERY_POINTS, build_queries

MASK_FORMS = {"pickle": "old pickled dict", "members": "one array per instance",
              "label_map": "label map (k > 0 = instance_k)"}


def summarize(path: str | Path, run_cfg: Any, mask_key: str | None = None, *,
              demo: bool = False) -> dict[str, Any]:
    """Everything `permask inspect` prints about the input NPZ at `path`.

    run_cfg: the composed run config (`permask.api.compose()`): its `query` group sets the query
    budget reported, `input.limits` and `depth` how the file is read. mask_key: None picks
    `sam2_masks` when present, else the only key that looks like masks (`find_mask_key`).
    demo: the file is the built-in demo scene (the run command then names no input).
    Raises the run's own PermaskError for a file the run would refuse.
    """
    given = str(path)
    path, headers, key, scene = read_input(path, run_cfg, mask_key)
    views = cameras(scene)
    return {
        "file": given,
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "fingerprint": scene.fingerprint,
        "members": [_member(h) for h in headers],
        "mask_key": key,
        "mask_form": mask_form(headers, key),
        "views": scene.num_views, "frames": scene.num_frames,
        "height": scene.image_size[0], "width": scene.image_size[1],
        "mask_size": list(next(iter(scene.masks.values())).shape[2:]),
        "cameras": views,
        "baseline_m": baseline(scene),
        "checks": camera_checks(scene, views),
        "ground_truth": None if scene.ground_truth is None else list(
            scene.ground_truth.instance_ids),
        "query_points": _query_point_count(scene),
        "instances": [instance_facts(scene, iid) for iid in scene.instance_ids],
        "run": default_run(scene, run_cfg, key, None if demo else given),
    }


def read_input(path: str | Path, run_cfg: Any, mask_key: str | None = None
               ) -> tuple[Path, list[MemberHeader], str, Scene]:
    """The file as a run reads it (its limits, its depth source's needs), at full resolution:
    (absolute path, member headers, mask key used, scene). Raises the run's PermaskError."""
    from permask.pipeline import reading

    path = Path(path).absolute()  # as run.py names it in messages
    headers = member_headers(path)
    key = mask_key or find_mask_key(headers, run_cfg.input.mask_key)
    scene = load_scene(path, key, **reading(run_cfg))
    return path, headers, key, scene


def find_mask_key(headers: list[MemberHeader], default: str = DEFAULT_MASK_KEY) -> str:
    """`default` (the run's `input.mask_key`) when the file has it, else the one key whose name
    says mask (contact frames aside), else `default` again, so loading fails as a run would."""
    names = {h.key.split("/", 1)[0] for h in headers}
    if default in names:
        return default
    found = sorted(n for n in names if "mask" in n.lower() and not n.endswith("_contact_frames"))
    return found[0] if len(found) == 1 else default


def mask_form(headers: list[MemberHeader], key: str) -> str:
    """Which of the three mask forms holds `key` (a `MASK_FORMS` key; '+'-joined if mixed)."""
    forms = []
    exact = next((h for h in headers if h.key == key), None)
    if exact is not None and exact.dtype is not None:
        forms.append("pickle" if exact.dtype.hasobject else "label_map")
    if any(h.key.startswith(key + "/") for h in headers):
        forms.append("members")
    return "+".join(forms)


def _member(h: MemberHeader) -> dict[str, Any]:
    return {"key": h.key, "shape": None if h.shape is None else list(h.shape),
            "dtype": None if h.dtype is None else ("object (pickle)" if h.dtype.hasobject
                                                   else str(h.dtype)),
            "bytes": h.size, "stored_bytes": h.stored, "problem": h.problem}


def cameras(scene: Scene) -> list[dict[str, Any]]:
    """Per view: id, share of valid depth pixels and their range (m), frame-0 intrinsics (pixels), horizontal field
    of view (degrees), camera centre (world, metres) and whether intrinsics or pose change."""
    H, W = scene.image_size
    valid = (scene.depths > 0).reshape(scene.num_views, -1).mean(axis=1)
    out = []
    for v, cam in enumerate(scene.camera_ids):
        K = scene.intrs[v, 0].astype(np.float64)
        depth = scene.depths[v]
        near = float(np.min(depth, where=depth > 0, initial=np.inf)) if valid[v] else None
        far = float(np.max(depth, where=depth > 0, initial=0.0)) if valid[v] else None
        out.append({
            "id": cam, "depth_valid": float(valid[v]), "depth_min": near, "depth_max": far,
            "fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]),
            "cy": float(K[1, 2]), "hfov_deg": float(np.degrees(2 * np.arctan2(W / 2, K[0, 0]))),
            "position": [float(x) for x in camera_center(scene.extrs[v, 0])],
            "intrinsics_change": bool(np.ptp(scene.intrs[v], axis=0).max() > 1e-6),
            "pose_changes": bool(np.ptp(scene.extrs[v], axis=0).max() > 1e-6),
        })
    return out


def baseline(scene: Scene) -> dict[str, float] | None:
    """Closest and farthest distance (m) between two camera centres at frame 0; None for 1 view."""
    centres = [camera_center(scene.extrs[v, 0]) for v in range(scene.num_views)]
    gaps = [float(np.linalg.norm(a - b)) for a, b in combinations(centres, 2)]
    return {"min": min(gaps), "max": max(gaps)} if gaps else None


def camera_checks(scene: Scene, views: list[dict[str, Any]]) -> list[str]:
    """Calibration and depth values that load fine but look wrong, one sentence each (empty:
    none); views: `cameras(scene)`."""
    H, W = scene.image_size
    notes = []
    for cam, c in zip(scene.camera_ids, views):
        if abs(c["fx"] - c["fy"]) > 0.05 * max(c["fx"], c["fy"]):
            notes.append(f"{cam}: fx {c['fx']:.1f} and fy {c['fy']:.1f} differ by more than 5%")
        if not (0 <= c["cx"] <= W and 0 <= c["cy"] <= H):
            notes.append(f"{cam}: principal point ({c['cx']:.1f}, {c['cy']:.1f}) lies outside "
                         f"the {W}x{H} image (intrinsics at another resolution?)")
        if not 10 <= c["hfov_deg"] <= 170:
            notes.append(f"{cam}: horizontal field of view {c['hfov_deg']:.0f} deg (focal "
                         "length in pixels at depth resolution?)")
        if c["depth_valid"] == 0:
            notes.append(f"{cam}: no valid depth in any frame")
        elif c["depth_min"] == c["depth_max"]:
            notes.append(f"{cam}: every valid depth is {c['depth_min']:g} m: a stand-in plane, "
                         "not measured depth (3D tracks are pixel tracks on it)")
    gaps = baseline(scene)
    if gaps is not None and gaps["min"] < 1e-3:
        notes.append("two cameras sit at the same position (extrinsics repeated?)")
    return notes


def _query_point_count(scene: Scene) -> int | None:
    qp = scene.query_points
    if qp is None:
        return None
    return int(sum(len(v) for v in qp.values())) if isinstance(qp, dict) else len(qp)


def instance_facts(scene: Scene, iid: str) -> dict[str, Any]:
    """One instance: pixels per view in frame 0 (where run.py's default queries come from),
    frames without a pixel (in every view, and per view), contact frames, ground truth."""
    mask = scene.masks[iid]
    filled = mask.any(axis=(2, 3))  # [V,T]
    gt = scene.ground_truth
    return {
        "id": iid,
        "pixels_frame0": [int(n) for n in mask[:, 0].sum(axis=(1, 2))],
        "pixels_total": int(mask.sum()),
        "empty_frames": [int(t) for t in np.nonzero(~filled.any(axis=0))[0]],
        "empty_frames_per_view": {cam: [int(t) for t in np.nonzero(~filled[v])[0]]
                                  for v, cam in enumerate(scene.camera_ids)},
        "contact_frames": dict(scene.contact_frames.get(iid, {})),
        "ground_truth": gt is not None and gt.pose_index(iid) is not None,
    }


def default_run(scene: Scene, run_cfg: Any, mask_key: str, file: str | None) -> dict[str, Any]:
    """What `python run.py input.npz=FILE` (plus `input.mask_key` when not the default; no
    input.npz when file is None: the demo) does: its command, the query mode and budget, the
    queries each instance gets, the instances it skips and why."""
    query = run_cfg.query
    queries, skipped = {}, {}
    for iid in scene.instance_ids:
        if is_empty(scene.masks[iid]):
            skipped[iid] = EMPTY_MASK
            continue
        try:
            queries[iid] = len(build_queries(scene, iid, query))
        except PermaskError as err:
            skipped[iid] = err.problem
            continue
        if queries[iid] == 0:
            skipped[iid] = NO_QUERY_POINTS
    return {"command": run_command(file, mask_key, run_cfg, run_cfg.input.depth_scale),
            "query_mode": str(query.mode),
            "max_points": int(query.max_points), "queries": queries, "skipped": skipped}


def run_command(file: str | None, mask_key: str, run_cfg: Any, depth_scale: float | None) -> str:
    """`python run.py input.npz=FILE [input.mask_key=KEY] [input.depth_scale=M]` (no input.npz
    for the demo: None), `depth_scale` the unit FILE's depth needs (None: float metres, as an
    extracted instance file stores it; said as null where the run config sets one)."""
    overrides = [] if file is None else [f"input.npz={file}"]
    if mask_key != run_cfg.input.mask_key:
        overrides.append(f"input.mask_key={mask_key}")
    if depth_scale is not None or run_cfg.input.depth_scale is not None:
        overrides.append(f"input.depth_scale={'null' if depth_scale is None else depth_scale}")
    return shlex.join(["python", "run.py", *overrides])
