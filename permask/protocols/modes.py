"""The `metrics` config block turned into the published protocols' figures of one set of tracks
(one instance, or every instance of a run together), each figure named with its protocol and
each protocol's mode written beside it (`MetricModes.labels`).

Figures (fractions in [0, 1] unless said; MVTracker's in percent, as its tables):
- `tapvid3d_AJ`, `tapvid3d_APD`, `tapvid3d_OA`, `tapvid3d_jaccard_{k}`, `tapvid3d_pts_within_{k}`
  (k = 1, 2, 4, 8, 16): TAPVid-3D (`tapvid3d`) in the camera frame of `metrics.camera` over
  every frame, intrinsics rescaled so the image's short side is `metrics.short_side` pixels
  (256, as TAPVid-3D's `evaluate_model.py`), with `metrics.scaling` and `metrics.thresholds`;
- `tapvid2d_AJ`, `tapvid2d_delta_avg`, `tapvid2d_OA` (and per threshold): TAP-Vid (`tapvid2d`)
  per camera, averaged over the cameras that have queries; `tapvid2d_AJ@{camera}`, ... per
  camera. A camera scores the queries it sees at their own frame (where a 2D tracker could be
  queried in it): both tracks projected into it at 256x256, a point visible there when visible
  at all and seen by that camera (in the image, in front, not behind its measured depth);
  query_mode 'first' (frames after each query's);
- `mvtracker_AJ`, `mvtracker_delta_avg`, `mvtracker_OA`, `mvtracker_MTE`, `mvtracker_ATE`,
  `mvtracker_FDE`, `mvtracker_survival`, `mvtracker_n`: MVTracker (`mvtracker`) on world tracks,
  all tracks; `...@dynamic`, `...@static`, `...@very_dynamic` for its track groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from permask.data import Scene
from permask.geometry import project_each
from permask.metrics import GT_FREE_DEPTH_TOLERANCE, observe
from permask.protocols import mvtracker as mvt
from permask.protocols import tapvid2d, tapvid3d

# MVTracker's figure names -> permask's (percent)
MVTRACKER_FIGURES = {"average_jaccard": "AJ", "average_pts_within_thresh": "delta_avg",
                     "occlusion_accuracy": "OA", "mte_visible": "MTE", "ate_visible": "ATE",
                     "fde_visible": "FDE", "survival": "survival", "n": "n"}
PROTOCOLS = ("permask", "tapvid3d", "tapvid2d", "mvtracker")
# figures of permask's own protocol (the others are prefixed with their protocol's name)
PERMASK_FIGURES = ("AJ", "delta_avg", "OA", "median_error_cm", "survival")


def protocol_of(metric: str) -> str | None:
    """The protocol a figure belongs to (None: a figure without ground truth); a name renamed
    `NAME [MODE]` by a comparison belongs where NAME does."""
    metric = metric.split(" [", 1)[0]
    head = metric.split("_", 1)[0]
    if head in PROTOCOLS[1:]:
        return head
    if metric in PERMASK_FIGURES or metric.startswith(("pts_within_", "jaccard_", "median_error_")):
        return "permask"
    return None


MVTRACKER_SETTINGS = {"kubric": "kubric-multiview", "dexycb": "dexycb-multiview",
                      "panoptic": "panoptic-multiview"}  # config value -> MVTracker's name


@dataclass(frozen=True)
class MetricModes:
    """The resolved `metrics` block of a run.

    scaling: a TAPVid-3D scaling (`tapvid3d.SCALINGS`); fixed: TAPVid-3D's fixed metric
    thresholds instead of its depth-adaptive ones; camera: the view whose frame TAPVid-3D uses;
    camera_id: its name; per_camera_2d: TAP-Vid per camera on/off; mvtracker: a setting of
    `mvtracker.SETTINGS` or None (off).
    """

    scaling: str
    fixed: bool
    camera: int
    camera_id: str
    per_camera_2d: bool
    mvtracker: str | None
    distances: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.20)
    short_side: int | None = 256  # TAPVid-3D's pixel scale; None: the scene's own pixels

    @classmethod
    def of(cls, metrics_cfg, scene: Scene) -> MetricModes:
        """The run's modes from its `metrics` block (scaling null: none with metric depth, else
        median; camera null: the first camera). An unknown camera id is a ConfigError."""
        from permask.errors import ConfigError

        scaling = metrics_cfg.scaling
        if scaling is None:
            scaling = "none" if scene.depth_metric else "median"
        camera_id = metrics_cfg.camera if metrics_cfg.camera is not None else scene.camera_ids[0]
        if str(camera_id) not in scene.camera_ids:
            raise ConfigError(f"unknown camera {camera_id!r}; the scene has {scene.camera_ids}",
                              key="metrics.camera")
        setting = metrics_cfg.mvtracker
        return cls(str(scaling), str(metrics_cfg.thresholds) == "fixed",
                   scene.camera_ids.index(str(camera_id)), str(camera_id),
                   bool(metrics_cfg.per_camera_2d),
                   MVTRACKER_SETTINGS[str(setting)] if setting is not None else None,
                   tuple(float(d) for d in metrics_cfg.distances),
                   metrics_cfg.get("short_side", 256))

    def short(self) -> dict[str, str]:
        """Protocol -> its mode in a few words, for table headers."""
        out = {"permask": "/".join(f"{d * 100:g}" for d in self.distances) + " cm",
               "tapvid3d": f"{self.scaling}, {'fixed' if self.fixed else 'adaptive'}, {self.camera_id}"}
        if self.per_camera_2d:
            out["tapvid2d"] = "256 px, first"
        if self.mvtracker:
            out["mvtracker"] = self.mvtracker
        return out

    def _pixels(self) -> str:
        return f"{self.short_side} px short side" if self.short_side else "native pixels"

    def labels(self) -> dict[str, str]:
        """Protocol -> its mode in words: written next to every figure of that protocol."""
        cm = "/".join(f"{d * 100:g}" for d in self.distances)
        out = {"permask": f"world, frames after each query, distances {cm} cm"}
        out["tapvid3d"] = (f"scaling={self.scaling}, thresholds={'fixed' if self.fixed else 'adaptive'}"
                           f", camera={self.camera_id}, every frame, " + self._pixels())
        if self.per_camera_2d:
            out["tapvid2d"] = "per camera, 256x256 px, query_mode=first, the queries it sees"
        if self.mvtracker:
            s = mvt.SETTINGS[self.mvtracker]
            cm = "/".join(f"{d * 100:g}" for d in s.distance_thresholds)
            out["mvtracker"] = (f"setting={self.mvtracker}, thresholds {cm} cm, survival "
                                f"{s.survival_threshold * 100:g} cm, percent")
        return out


def figures(scene: Scene, modes: MetricModes, query_points: np.ndarray, tracks: np.ndarray,
            visible: np.ndarray, true_tracks: np.ndarray, true_visible: np.ndarray
            ) -> dict[str, float]:
    """Every protocol's figures of one set of tracks (see the module docstring).

    query_points [N,4] (t, x, y, z world); tracks, true_tracks [T,N,3] world metres (NaN = no
    position); visible, true_visible [T,N] bool.
    With depth that is not metric (`scene.depth_metric` False) only the figures that survive a
    wrong scale are given: TAPVid-3D with a scaling other than none, and TAP-Vid 2D (a point
    lifted along its pixel's ray projects to the same pixel; hiding by depth is not tested).
    """
    tracks = np.asarray(tracks, np.float64)
    true_tracks = np.asarray(true_tracks, np.float64)
    metric = scene.depth_metric
    out = {}
    if metric or modes.scaling != "none":
        out.update(tapvid3d_figures(scene, modes, query_points, tracks, visible, true_tracks,
                                    true_visible))
    if modes.per_camera_2d:
        out.update(tapvid2d_figures(scene, query_points, tracks, visible, true_tracks,
                                    true_visible,
                                    GT_FREE_DEPTH_TOLERANCE if metric else np.inf))
    if modes.mvtracker and metric:
        out.update(mvtracker_figures(modes.mvtracker, query_points, tracks, visible,
                                     true_tracks, true_visible))
    return out


def camera_frame(scene: Scene, view: int, tracks: np.ndarray) -> np.ndarray:
    """World tracks [T,N,3] -> the camera frame of `view` at each frame, [N,T,3] (TAPVid-3D's
    'n t' order)."""
    E = np.asarray(scene.extrs[view], np.float64)  # [T,3,4]
    cam = np.einsum("tij,tnj->tni", E[:, :, :3], tracks) + E[:, None, :, 3]
    return cam.transpose(1, 0, 2)


def tapvid3d_intrinsics(scene: Scene, view: int, short_side: int | None = 256) -> np.ndarray:
    """(fx, fy, cx, cy) of `view` at frame 0, rescaled so the short image side is `short_side`
    pixels (None: as they are)."""
    K = np.asarray(scene.intrs[view, 0], np.float64)
    factor = short_side / min(scene.image_size) if short_side else 1.0
    return np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]]) * factor


def tapvid3d_figures(scene: Scene, modes: MetricModes, query_points, tracks, visible,
                     true_tracks, true_visible) -> dict[str, float]:
    if tracks.shape[1] == 0:
        return {}
    qp = np.asarray(query_points, np.float64)
    tyx = np.stack([qp[:, 0], np.zeros(len(qp)), np.zeros(len(qp))], -1)  # only t is read
    got = tapvid3d.tapvid3d_metrics(
        ~np.asarray(true_visible, bool).T, camera_frame(scene, modes.camera, true_tracks),
        ~np.asarray(visible, bool).T, camera_frame(scene, modes.camera, tracks),
        tapvid3d_intrinsics(scene, modes.camera, modes.short_side), scaling=modes.scaling,
        query_points=tyx, fixed_thresholds=modes.fixed)
    out = {"tapvid3d_AJ": got["average_jaccard"], "tapvid3d_APD": got["average_pts_within_thresh"],
           "tapvid3d_OA": got["occlusion_accuracy"]}
    for k in tapvid3d.PIXEL_THRESHOLDS:
        out[f"tapvid3d_jaccard_{k}"] = got[f"jaccard_{k}"]
        out[f"tapvid3d_pts_within_{k}"] = got[f"pts_within_{k}"]
    return out


def tapvid2d_figures(scene: Scene, query_points, tracks, visible, true_tracks, true_visible,
                     depth_tolerance: float) -> dict[str, float]:
    H, W = scene.image_size
    qp = np.asarray(query_points, np.float64)
    query_frame = np.rint(qp[:, 0]).astype(np.int64)
    seen_pred = observe(scene, None, tracks, depth_tolerance).seen  # [T,N,V]
    seen_true = observe(scene, None, true_tracks, depth_tolerance).seen
    per_camera: dict[str, dict[str, float]] = {}
    for v, cam in enumerate(scene.camera_ids):
        mine = np.flatnonzero(seen_true[query_frame, np.arange(len(qp)), v])
        if not mine.size:
            continue
        uv_true = tapvid2d.to_256(_pixels(scene, v, true_tracks[:, mine]), H, W)  # [N,T,2]
        uv_pred = tapvid2d.to_256(_pixels(scene, v, tracks[:, mine]), H, W)
        t = np.rint(qp[mine, 0]).astype(np.int64)
        at_query = uv_true[np.arange(len(mine)), t]
        queries = np.stack([qp[mine, 0], at_query[:, 1], at_query[:, 0]], -1)
        true_occ = ~(np.asarray(true_visible, bool)[:, mine] & seen_true[:, mine, v]).T
        pred_occ = ~(np.asarray(visible, bool)[:, mine] & seen_pred[:, mine, v]).T
        got = tapvid2d.tapvid_metrics(queries, true_occ, uv_true, pred_occ, uv_pred, "first")
        per_camera[cam] = {"AJ": got["average_jaccard"],
                           "delta_avg": got["average_pts_within_thresh"],
                           "OA": got["occlusion_accuracy"],
                           **{f"jaccard_{k}": got[f"jaccard_{k}"] for k in tapvid2d.PIXEL_THRESHOLDS},
                           **{f"pts_within_{k}": got[f"pts_within_{k}"]
                              for k in tapvid2d.PIXEL_THRESHOLDS}}
    if not per_camera:
        return {}
    out = {}
    for name in next(iter(per_camera.values())):
        values = np.array([c[name] for c in per_camera.values()], np.float64)
        ok = ~np.isnan(values)
        out[f"tapvid2d_{name}"] = float(values[ok].mean()) if ok.any() else float("nan")
    for cam, got in per_camera.items():
        for name in ("AJ", "delta_avg", "OA"):
            out[f"tapvid2d_{name}@{cam}"] = got[name]
    return out


def _pixels(scene: Scene, view: int, tracks: np.ndarray) -> np.ndarray:
    """World tracks [T,N,3] -> pixels [N,T,2] in `view` (NaN where there is no position)."""
    T, N, _ = tracks.shape
    E = np.repeat(np.asarray(scene.extrs[view], np.float64), N, axis=0)
    K = np.repeat(np.asarray(scene.intrs[view], np.float64), N, axis=0)
    uv, _ = project_each(tracks.reshape(-1, 3), K, E)
    return uv.reshape(T, N, 2).transpose(1, 0, 2)


def mvtracker_figures(setting: str, query_points, tracks, visible, true_tracks, true_visible
                      ) -> dict[str, float]:
    groups = mvt.evaluate_predictions(true_tracks, true_visible, tracks,
                                      ~np.asarray(visible, bool), np.asarray(query_points),
                                      mvt.SETTINGS[setting])
    out = {}
    for group, got in groups.items():
        suffix = "" if group == "all_any" else "@" + group.removeprefix("all_")
        for name, short in MVTRACKER_FIGURES.items():
            if name in got:
                out[f"mvtracker_{short}{suffix}"] = float(got[name])
    return out
