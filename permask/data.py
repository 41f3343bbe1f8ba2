"""The in-memory data that flows between stages.

Conventions used everywhere:
- V views, T frames, H x W pixels (depth resolution), N query points.
- Cameras: `intrs [V,T,3,3]` pixel intrinsics, `extrs [V,T,3,4]` world-to-camera `[R|t]`,
  OpenCV axes (x right, y down, z forward). Pixel centres at integer coordinates.
- Depth: z-depth in metres, `0` means invalid (NaN/inf/negative are turned into 0 on load).
- Frames before a query's own frame: track NaN, visibility False.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


MATCH_METRES = 1e-4  # a query is a ground-truth track's query when this close at the same frame


@dataclass
class PointTracks:
    """Ground truth as benchmarks ship it: one true track per query point.

    tracks: [N,T,3] float64 world metres (NaN where unknown); visible: [N,T] bool;
    instance: [N] instance id of each track (str array); query_points: [N,4] (t, x, y, z) world.
    """

    tracks: np.ndarray
    visible: np.ndarray
    instance: np.ndarray
    query_points: np.ndarray

    def of_instance(self, instance_id: str) -> np.ndarray:
        """Indices of the instance's tracks, in file order."""
        return np.flatnonzero(self.instance == instance_id)

    def match(self, instance_id: str, query_points: np.ndarray) -> np.ndarray:
        """[M] index of the instance's track whose query is each of query_points [M,4] (same frame,
        within MATCH_METRES), -1 for none."""
        own = self.of_instance(instance_id)
        q = np.asarray(query_points, np.float64)
        out = np.full(len(q), -1, np.int64)
        if not own.size or not len(q):
            return out
        mine = self.query_points[own]
        same_frame = np.rint(q[:, None, 0]) == np.rint(mine[None, :, 0])
        gap = np.linalg.norm(q[:, None, 1:] - mine[None, :, 1:], axis=-1)
        gap = np.where(same_frame, gap, np.inf)
        best = np.argmin(gap, axis=1)
        found = gap[np.arange(len(q)), best] <= MATCH_METRES
        out[found] = own[best[found]]
        return out


@dataclass
class GroundTruth:
    """Ground truth of the demo scene or of a file: rigid object poses (`gt_object_poses`) and/or
    point tracks (`gt_tracks`, ...).

    object_poses: [K,T,4,4] object-to-world per instance and frame (K may be 0).
    instance_ids: the K instance ids, same order as `object_poses`.
    point_tracks: the true tracks of the file's benchmark queries, or None.
    """

    object_poses: np.ndarray
    instance_ids: list[str]
    point_tracks: PointTracks | None = None

    def pose_index(self, instance_id: str) -> int | None:
        return self.instance_ids.index(instance_id) if instance_id in self.instance_ids else None


@dataclass
class Scene:
    """One multi-view RGB-D recording in the one internal layout.

    rgbs: [V,T,H,W,3] uint8.
    depths: [V,T,H,W] float32 metres, 0 = invalid.
    intrs: [V,T,3,3] float32; extrs: [V,T,3,4] float32 world-to-camera.
    camera_ids: V strings.
    masks: instance id -> [V,T,Hm,Wm] bool (Hm,Wm may differ from H,W), natural id order.
    contact_frames: instance id -> {camera id -> frame index}.
    query_points: [N,4] (t,x,y,z) world, or instance id -> [N,4], from the file, if any.
    frame_indices: [T] original frame index of each frame (after temporal stride).
    source: path of the file it came from ("<demo>" for the built-in scene).
    fingerprint: content hash of the source file (hex), "" if unknown.
    depth_measured: [V,T,H,W] bool, True where `depths` holds a measurement from the file, False
        where a depth estimator filled or predicted it; None: every valid depth is measured.
    """

    rgbs: np.ndarray
    depths: np.ndarray
    intrs: np.ndarray
    extrs: np.ndarray
    camera_ids: list[str]
    masks: dict[str, np.ndarray]
    contact_frames: dict[str, dict[str, int]] = field(default_factory=dict)
    query_points: np.ndarray | dict[str, np.ndarray] | None = None
    frame_indices: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    ground_truth: GroundTruth | None = None
    source: str = ""
    fingerprint: str = ""
    depth_measured: np.ndarray | None = None
    depth_source: str = "gt"  # the depth config that made `depths`
    depth_metric: bool = True  # False: `depths` is a stand-in (e.g. a constant plane), not metres
    _gray: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_views(self) -> int:
        return self.rgbs.shape[0]

    @property
    def num_frames(self) -> int:
        return self.rgbs.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of rgb and depth."""
        return self.rgbs.shape[2], self.rgbs.shape[3]

    @property
    def instance_ids(self) -> list[str]:
        return list(self.masks)

    def gray(self) -> np.ndarray:
        """[V,T,H,W] uint8 grayscale video, computed once and cached on the scene."""
        if self._gray is None:
            import cv2  # frame by frame: no float copy of the whole video

            V, T, H, W, _ = self.rgbs.shape
            self._gray = np.empty((V, T, H, W), np.uint8)
            for v in range(V):
                for t in range(T):
                    cv2.cvtColor(self.rgbs[v, t], cv2.COLOR_RGB2GRAY, dst=self._gray[v, t])
        return self._gray


@dataclass
class Queries:
    """Query points of one instance.

    points: [N,4] float32 (t, x, y, z): frame index (in the scene's frames) and world position (m).
    view: [N] int source view; pixel: [N,2] float32 (u, v) source pixel at depth resolution;
    frame: [N] int source frame (== points[:,0]).
    """

    instance_id: str
    points: np.ndarray
    view: np.ndarray
    pixel: np.ndarray

    @property
    def frame(self) -> np.ndarray:
        return self.points[:, 0].astype(np.int64)

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class TrackResult:
    """Output of a tracker for one instance.

    tracks: [T,N,3] float32 world positions (m); NaN before each query's frame.
    visible: [T,N] bool; False before each query's frame.
    scores: [T,N] float32 visibility/confidence in [0,1], or None.
    """

    tracks: np.ndarray
    visible: np.ndarray
    scores: np.ndarray | None = None
