"""`video=true`: MP4s of the tracks over each camera's frames (permask/video.py)."""

import csv

import cv2
import numpy as np

from permask.files.layout import OutputLayout
from permask.files.names import safe_name
import pytest

from permask.record.identity import instance_color
from permask.data import TrackResult
from permask.geometry import project
from permask.video import drawn_points, read_frame_count, write_track_videos
from tests.helpers.overrides import SMALL_DEMO_OVERRIDES
from tests.helpers.runners import run_cli
from tests.helpers.scenes import make_record_scene


def read_frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])  # RGB
    cap.release()
    return frames


@pytest.fixture(scope="module")
def big():
    return make_record_scene(V=2, T=6, H=96, W=128, n_instances=2, n_points=10)


def test_one_video_per_camera_and_per_instance(big, tmp_path):
    scene, per_instance = big
    files = write_track_videos(scene, per_instance, OutputLayout(tmp_path, "demo", "lk"), per_instance=True,
                               progress=False)
    cams = [safe_name(c) for c in scene.camera_ids]
    assert sorted(p.name for p in files.values()) == sorted(
        [f"demo_lk_{c}.mp4" for c in cams] + [f"demo_lk_instance_{i}_{c}.mp4" for i in (1, 2)
                                              for c in cams])
    for path in files.values():
        assert read_frame_count(path) == scene.num_frames
        assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_WIDTH) == 128
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_points_drawn_where_they_project_filled_or_hollow(big, tmp_path):
    """One point of one instance, visible on even frames, occluded on odd ones: the video shows
    the instance colour at its projection when visible and the image there when occluded."""
    scene, per_instance = big
    iid = "instance_1"
    queries, result = per_instance[iid]
    tracks = np.repeat(result.tracks[:1, :1], scene.num_frames, axis=0)  # one still point
    visible = (np.arange(scene.num_frames) % 2 == 0)[:, None]
    files = write_track_videos(scene, {iid: (queries, TrackResult(tracks, visible))}, OutputLayout(tmp_path, "x", "lk"), radius=4, trail=0, progress=False)
    frames = read_frames(files["video_cam0"])
    uv, _ = project(tracks[0], scene.intrs[0, 0], scene.extrs[0, 0])
    u, v = np.round(uv[0]).astype(int)
    assert 0 <= u < 128 and 0 <= v < 96
    colour = np.array(instance_color(iid, list(scene.masks)), float)
    for t, frame in enumerate(frames):
        centre = frame[v - 1:v + 2, u - 1:u + 2].reshape(-1, 3).mean(0)
        under = scene.rgbs[0, t, v - 1:v + 2, u - 1:u + 2].reshape(-1, 3).mean(0)
        if visible[t, 0]:
            assert np.abs(centre - colour).max() < 40, (t, centre, colour)
        else:  # a ring: the image shows through its centre
            assert np.abs(centre - under).max() < 40, (t, centre, under)


def test_points_before_their_query_frame_are_not_drawn(big, tmp_path):
    scene, per_instance = big
    queries, result = per_instance["instance_2"]
    tracks = result.tracks.copy()
    tracks[:3] = np.nan
    files = write_track_videos(scene, {"instance_2": (queries, TrackResult(tracks, result.visible))},
                               OutputLayout(tmp_path, "y", "lk"), progress=False)
    frames = read_frames(files["video_cam0"])
    plain = write_track_videos(scene, {}, OutputLayout(tmp_path / "plain", "y", "lk"), progress=False)
    base = read_frames(plain["video_cam0"])
    assert all(np.abs(frames[t].astype(int) - base[t]).max() < 3 for t in range(3))
    assert np.abs(frames[4].astype(int) - base[4]).max() > 50


def test_drawn_points_spread_and_bounded():
    assert list(drawn_points(5, 64)) == [0, 1, 2, 3, 4]
    picked = drawn_points(300, 64)
    assert len(picked) == 64 and picked[0] == 0 and picked[-1] == 299


@pytest.mark.slow
def test_sweep_with_video_writes_readable_mp4s(tmp_path, cache_dir):
    frames = 8
    proc = run_cli(["-m", "tracker=static,lk", "video=true", *SMALL_DEMO_OVERRIDES,
                    f"input.demo.num_frames={frames}", "query.max_points=20", "progress=false",
                    "record.enabled=false", f"sweep_dir={tmp_path}"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for tracker in ("static", "lk"):
        [job] = tmp_path.glob(f"*tracker={tracker}*")
        videos = sorted(job.glob("*.mp4"))
        assert len(videos) == 3  # one per camera of the small demo
        assert all(read_frame_count(p) == frames for p in videos)
    with (tmp_path / "comparison.csv").open() as table:
        assert {row["label"] for row in csv.DictReader(table)} == {"lk", "static"}


def test_video_added_to_a_finished_run_reuses_its_tracks(tmp_path, small_demo_path):
    """Videos are drawn from finished tracks, inside the run: `video=true` on the command of a
    finished run draws them without tracking again, and the run plans them (manifest)."""
    import json

    from permask import compose
    from permask.pipeline import run

    out = tmp_path / "run"
    args = [f"input.npz={small_demo_path}", f"output_dir={out}", "progress=false",
            "record.enabled=false", "query.max_points=20"]
    first = run(compose(*args), out)
    assert first.reused == [] and not list(out.glob("*.mp4"))
    again = run(compose(*args, "video=true"), out)
    assert again.reused == list(first.outcomes) and len(again.reused) == 3
    videos = {k: p for k, p in again.files.items() if k.startswith("video_")}
    assert sorted(p.name for p in videos.values()) == sorted(p.name for p in out.glob("*.mp4"))
    assert len(videos) == 3  # one per camera of the small demo
    planned = json.loads((out / ".permask" / "manifest.json").read_text())["files"]
    assert all(p.name in planned for p in videos.values())
