"""The viewer layout of a recording: a 3D view (one per tracker) beside a grid of 2D camera views."""

from __future__ import annotations

from collections.abc import Sequence

import rerun.blueprint as rrb

from permask.data import Scene
from permask.record.context import SceneContext, prepare_scene_context
from permask.record.paths import TIMELINE, camera_path, tracker_path


def make_blueprint(scene: Scene, trackers: Sequence[str] = (), *,
                   context: SceneContext | None = None) -> rrb.Blueprint:
    """A 3D view of `world` (one per tracker, side by side, when several) and a grid of 2D views,
    one per camera, with a compact time bar.

    The 3D eye sits behind and above the cameras, looking at the depth points of frame 0. A 2D view
    shows the camera's image, the masks over it and, for a single tracker (else the colours are
    ambiguous), the 3D tracks projected through the pinhole. Contents use wildcards, not instance
    ids, so one blueprint serves a per-instance file, the combined file and several per-instance
    files opened together (the viewer keeps one blueprint per application id: the last file's).
    For that reason it takes no instance ids: nothing in the layout may depend on which instances
    one file holds.
    """
    if context is None:
        context = prepare_scene_context(scene, max_points_per_view=500, log_video=False)
    position, target, up = context.eye
    controls = rrb.EyeControls3D(kind=rrb.Eye3DKind.Orbital, position=position,
                                 look_target=target, eye_up=up)
    trackers = list(trackers)
    views3d = []
    for tracker in trackers or [None]:
        contents = ["+ $origin/**"]
        if tracker is not None and len(trackers) > 1:
            contents += ["- /world/tracks/**", f"+ /{tracker_path(tracker)}/**"]
        name = "3D" if tracker is None else f"3D: {tracker}"
        views3d.append(rrb.Spatial3DView(origin="world", contents=contents, name=name,
                                         eye_controls=controls, background=[24, 24, 28]))
    contents2d = ["+ $origin/**"] + (["+ /world/tracks/**"] if len(trackers) <= 1 else [])
    views2d = [rrb.Spatial2DView(origin=camera_path(cam), name=str(cam), contents=contents2d)
               for cam in scene.camera_ids]
    main = views3d[0] if len(views3d) == 1 else rrb.Horizontal(*views3d)
    return rrb.Blueprint(rrb.Horizontal(main, rrb.Grid(*views2d), column_shares=[3, 2]),
                         rrb.BlueprintPanel(state="collapsed"),
                         rrb.SelectionPanel(state="collapsed"),
                         rrb.TimePanel(state="collapsed", timeline=TIMELINE))
