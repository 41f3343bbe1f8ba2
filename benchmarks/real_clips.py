"""Real footage with hand-labelled joints (BADJA format, `../shared/data/badja`): load a clip,
track its labelled joints, score them with BADJA's PCK-T.

A clip is `<name>.npz` (the old pipeline format: one view, a 1 m plane for depth, the object's
mask as `sam2_masks`) next to `<name>_labels.json` (`joints`, `labels`: `{"t", "xy", "vis"}` per
labelled frame, `K`, `areas`: the mask area of every frame). PCK-T: a visible labelled joint at a
labelled frame other than the query frame is correct when the tracked pixel lies within
0.2 x sqrt(mask area at that frame) of the label; the score is the share of correct joints (%).

`variant` also builds harder versions of a clip from the same labels, to see what generalises
beyond two clips: at half the resolution (`scale=0.5`: smaller animals, the windows shrink with
them), every second frame (`stride=2`: twice the motion per frame, like a faster animal) and
backwards (`reverse`: queries at the last labelled frame, tracked through the video reversed).
The clip as published (`scale=1, stride=1`, forwards) is what `query=npz` runs: its queries are
the file's `query_points`, the joints visible at the first labelled frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common import ROOT
from vs_plain_lk import to_pixels  # benchmarks/vs_plain_lk.py
from permask.data import Queries, Scene
from permask.geometry import project
from permask.inputs.load import load_scene

BADJA_DIR = ROOT.parent / "shared" / "data" / "badja"
# (scale, stride, reverse) of the clip as published, then the stress variants
PUBLISHED = (1.0, 1, False)
VARIANTS = tuple((scale, stride, reverse) for reverse in (False, True)
                 for scale, stride in ((1.0, 1), (0.5, 1), (1.0, 2), (0.5, 2)))


@dataclass
class LabelledClip:
    """One clip ready to track: the scene, the queries (the joints visible at the query frame),
    and per later labelled frame: (frame index in the scene, labels [J,2] px, visible [J] bool,
    PCK threshold px), J = the queried joints."""

    name: str
    scene: Scene
    queries: Queries
    labels: list[tuple[int, np.ndarray, np.ndarray, float]]


def clip_names(folder: Path = BADJA_DIR) -> list[str]:
    """The clips in `folder`: every `<name>.npz` with a `<name>_labels.json` beside it."""
    return sorted(p.stem for p in folder.glob("*.npz") if (folder / f"{p.stem}_labels.json").exists())


def variant(name: str, scale: float = 1.0, stride: int = 1, reverse: bool = False,
            folder: Path = BADJA_DIR) -> LabelledClip:
    """The clip `name` at `scale` of its resolution, every `stride`-th frame (counted from the
    query frame), forwards or reversed (see the module docstring)."""
    source = load_scene(folder / f"{name}.npz")
    info = json.loads((folder / f"{name}_labels.json").read_text())
    joints = info["joints"]
    labelled = info["labels"][::-1] if reverse else info["labels"]
    query_t = labelled[0]["t"]
    frames = np.arange(query_t % stride, source.num_frames, stride)
    frames = frames[::-1] if reverse else frames
    index = {int(f): i for i, f in enumerate(frames)}
    iid = source.instance_ids[0]
    scene = _resampled(source, iid, frames, scale)
    queried = np.flatnonzero(np.asarray(labelled[0]["vis"])[joints])  # the joints queried
    if (scale, stride, reverse) == PUBLISHED and source.query_points is not None:
        points = np.asarray(source.query_points, np.float32)  # what `query=npz` runs
        pixels, _ = project(points[:, 1:], scene.intrs[0, index[query_t]],
                            scene.extrs[0, index[query_t]])
    else:
        pixels = np.asarray(labelled[0]["xy"], np.float64)[joints][queried] * scale
        K = scene.intrs[0, index[query_t]].astype(np.float64)
        xyz = np.stack([(pixels[:, 0] - K[0, 2]) / K[0, 0], (pixels[:, 1] - K[1, 2]) / K[1, 1],
                        np.ones(len(pixels))], axis=1)  # on the 1 m plane (identity extrinsics)
        points = np.concatenate([np.full((len(xyz), 1), index[query_t]), xyz], 1).astype(np.float32)
    queries = Queries(iid, points, np.zeros(len(points), np.int64), pixels.astype(np.float32))
    labels = []
    for entry in labelled[1:]:
        t = entry["t"]
        if t == query_t or t not in index:
            continue
        xy = np.asarray(entry["xy"], np.float64)[joints][queried] * scale
        visible = np.asarray(entry["vis"])[joints][queried].astype(bool)
        labels.append((index[t], xy, visible, 0.2 * np.sqrt(info["areas"][t]) * scale))
    return LabelledClip(name, scene, queries, labels)


def _resampled(source: Scene, instance_id: str, frames: np.ndarray, scale: float) -> Scene:
    """One-view `source` at `frames` [T'] and `scale` (images area-averaged, masks nearest)."""
    H, W = source.image_size
    size = (round(W * scale), round(H * scale))
    rgbs = np.stack([cv2.resize(source.rgbs[0, t], size, interpolation=cv2.INTER_AREA)
                     for t in frames])
    masks = np.stack([cv2.resize(source.masks[instance_id][0, t].astype(np.uint8), size,
                                 interpolation=cv2.INTER_NEAREST) > 0 for t in frames])
    intrs = source.intrs[:, frames].copy()
    intrs[..., :2, :] *= scale
    return Scene(rgbs=rgbs[None], depths=np.ones((1, len(frames), size[1], size[0]), np.float32),
                 intrs=intrs, extrs=source.extrs[:, frames], camera_ids=source.camera_ids,
                 masks={instance_id: masks[None]}, frame_indices=frames,
                 depth_metric=source.depth_metric)


def pck_t(clip: LabelledClip, pixels: np.ndarray) -> tuple[int, int]:
    """(correct, counted) labelled joints for tracked pixels [T,J,2] of `clip`'s queries."""
    correct = counted = 0
    for t, xy, visible, threshold in clip.labels:
        error = np.linalg.norm(pixels[t] - xy, axis=1)
        correct += int((visible & (error < threshold)).sum())
        counted += int(visible.sum())
    return correct, counted


def explain(clip: LabelledClip, result) -> dict[str, float]:
    """Where `lk`'s misses on `clip` come from, for its TrackResult `result`: over the labelled
    visible joint-frames, the share missed (%), and of the misses the share the tracker had
    lost (not visible: carried, not measured), the share whose tracked pixel lies outside the
    object's mask, the miss rate of the joints in the lowest 40% of the mask's box at the query
    frame (legs, hooves) and of the others, and of the fastest third of joint-frames (label
    motion per frame since the previous labelled frame) against the rest."""
    pixels = to_pixels(result.tracks, clip.scene)
    mask = clip.scene.masks[clip.queries.instance_id][0]
    rows = np.flatnonzero(mask[int(clip.queries.frame[0])].any(axis=1))
    low = clip.queries.pixel[:, 1] > rows[0] + 0.6 * (rows[-1] - rows[0])
    H, W = mask.shape[1:]
    miss, lost, outside, legs, speed = [], [], [], [], []
    previous = (int(clip.queries.frame[0]), clip.queries.pixel.astype(np.float64))
    for t, xy, visible, threshold in clip.labels:
        error = np.linalg.norm(pixels[t] - xy, axis=1)
        u = np.clip(np.rint(pixels[t, :, 0]), 0, W - 1).astype(int)
        v = np.clip(np.rint(pixels[t, :, 1]), 0, H - 1).astype(int)
        step = np.linalg.norm(xy - previous[1], axis=1) / max(abs(t - previous[0]), 1)
        for j in np.flatnonzero(visible):
            miss.append(error[j] >= threshold)
            lost.append(not result.visible[t, j])
            outside.append(not mask[t, v[j], u[j]])
            legs.append(low[j])
            speed.append(step[j])
        previous = (t, xy)
    miss, lost, outside, legs, speed = map(np.array, (miss, lost, outside, legs, speed))
    fast = speed > np.quantile(speed, 2 / 3)
    share = lambda a, b: 100.0 * (a & b).sum() / max(b.sum(), 1)  # noqa: E731
    return {"missed": 100.0 * miss.mean(), "lost": share(lost, miss),
            "outside": share(outside, miss), "legs missed": share(miss, legs),
            "others missed": share(miss, ~legs), "fast missed": share(miss, fast),
            "others slow missed": share(miss, ~fast)}


def main() -> None:
    import argparse

    from hard_cases import parse_value
    from permask.trackers.lk import LKTracker

    ap = argparse.ArgumentParser(description="PCK-T of lk on the labelled clips and where its "
                                 "misses come from (see `explain`)")
    ap.add_argument("overrides", nargs="*", help="LKConfig settings, key=value")
    args = ap.parse_args()
    tracker = LKTracker(**{k: parse_value(v) for k, v in (o.split("=", 1) for o in args.overrides)})
    print("| clip | PCK-T | missed | of misses: lost | outside the mask | legs missed "
          "| others missed | fastest third missed | others missed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in clip_names():
        clip = variant(name)
        result = tracker.track(clip.scene, clip.queries)
        correct, counted = pck_t(clip, to_pixels(result.tracks, clip.scene))
        e = explain(clip, result)
        print(f"| {name} | {100 * correct / counted:.1f} | " + " | ".join(
            f"{e[k]:.0f}%" for k in ("missed", "lost", "outside", "legs missed", "others missed",
                                      "fast missed", "others slow missed")) + " |")


if __name__ == "__main__":
    main()
