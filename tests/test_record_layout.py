"""Recordings that scale (`record.scene`, `record.instance_cloud_stride`) and live viewing
(`record.spawn`, `record.connect`)."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from permask.errors import ConfigError
from permask.record.context import prepare_scene_context
from permask.record.identity import RecordingIds
from permask.record.live import check_address
from permask.record.paths import cloud_path, image_path, mask_path, track_path
from permask.record.readback import summarize
from permask.record.write import (write_combined_recording, write_instance_recording,
                                  write_scene_recording)
from tests.helpers.runners import run_cli
from tests.helpers.scenes import make_record_scene


@pytest.fixture(scope="module")
def scene_and_tracks():
    return make_record_scene(T=9)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_clouds_every_kth_frame(scene_and_tracks):
    scene, _ = scene_and_tracks
    context = prepare_scene_context(scene, max_points_per_view=50)
    thinned = context.clouds_every(4)
    for full, thin in zip(context.clouds, thinned.clouds):
        assert thin.logged.tolist() == [t % 4 == 0 for t in range(9)]
        assert thin.lengths.sum() == len(thin.positions) == full.lengths[::4].sum()
        np.testing.assert_array_equal(thin.positions[: thin.lengths[0]],
                                      full.positions[: full.lengths[0]])
    assert context.clouds_every(1) is context
    assert thinned.nbytes() < context.nbytes()


def test_per_instance_file_keeps_every_image_and_every_kth_cloud(scene_and_tracks, tmp_path):
    scene, per_instance = scene_and_tracks
    queries, result = per_instance["instance_1"]
    context = prepare_scene_context(scene, max_points_per_view=50)
    path = write_instance_recording(tmp_path / "i1.rrd", scene, queries, result, base="b",
                                    tracker="lk", context=context.clouds_every(4))
    rows = summarize(path).rows
    cam = scene.camera_ids[0]
    assert rows[cloud_path(cam)] == 3  # frames 0, 4, 8
    assert rows[image_path(cam)] == 9
    assert rows[mask_path(cam, "instance_1")] == 9


def test_shared_scene_file_and_light_instance_files(scene_and_tracks, tmp_path):
    scene, per_instance = scene_and_tracks
    ids = RecordingIds.for_scene(scene, "b")
    context = prepare_scene_context(scene, max_points_per_view=50)
    scene_file = write_scene_recording(tmp_path / "b_scene.rrd", scene, base="b", ids=ids,
                                       context=context)
    light = context.cameras_only()
    queries, result = per_instance["instance_1"]
    one = write_instance_recording(tmp_path / "i1.rrd", scene, queries, result, base="b",
                                   tracker="lk", ids=ids, context=light)
    combined = write_combined_recording(tmp_path / "c.rrd", scene, per_instance, base="b",
                                        tracker="lk", ids=ids, context=light)
    cam = scene.camera_ids[0]
    whole = summarize(scene_file)
    assert whole.rows[image_path(cam)] == 9 and whole.rows[cloud_path(cam)] == 9
    assert not any(p.startswith("world/tracks") or "/masks/" in p for p in whole.rows)
    for path in (one, combined):
        summary = summarize(path)
        assert (summary.application_id, summary.recording_id) == \
            (ids.application_id, ids.recording_id) == (whole.application_id, whole.recording_id)
        assert image_path(cam) not in summary.rows and cloud_path(cam) not in summary.rows
        assert any(p.startswith("world/cameras/") for p in summary.static)  # the pinholes
        assert summary.rows[track_path("lk", "instance_1")] == 9


def test_connect_to_a_closed_port_is_one_line_at_once():
    start = time.monotonic()
    url = f"rerun+http://127.0.0.1:{_closed_port()}/proxy"
    with pytest.raises(ConfigError, match="no Rerun viewer at") as err:
        check_address(url)
    assert time.monotonic() - start < 3 and "\n" not in str(err.value)
    assert "record.connect" in str(err.value)
    with pytest.raises(ConfigError, match="not a Rerun viewer address"):
        check_address("http://127.0.0.1:9876")


@pytest.mark.slow
def test_run_with_connect_to_nothing_fails_in_one_line(tmp_path):
    out = tmp_path / "out"
    start = time.monotonic()
    proc = run_cli(["query.max_points=20", "input.demo.num_frames=8",
                    f"record.connect=rerun+http://127.0.0.1:{_closed_port()}/proxy",
                    f"output_dir={out}", "progress=false"], timeout=120)
    assert proc.returncode == 2 and time.monotonic() - start < 60
    assert proc.stderr.strip().startswith("permask: error:")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_viewer_that_does_not_answer_loses_no_file(tmp_path):
    """Something listens at the address but never speaks Rerun's protocol: the run goes on,
    warns, and writes every file."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    out = tmp_path / "out"
    try:
        proc = run_cli(["query.max_points=20", "input.demo.num_frames=8", "record.scene=shared",
                        f"record.connect=rerun+http://127.0.0.1:{server.getsockname()[1]}/proxy",
                        f"output_dir={out}", "progress=false"], timeout=180)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {p.name for p in out.glob("*.rrd")}
    assert {"demo_scene.rrd", "demo_lk_combined.rrd", "demo_lk_instance_0.rrd"} <= names


def test_spawn_without_a_viewer_executable_is_one_line(monkeypatch):
    from permask.record import live

    monkeypatch.setattr(live.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="no `rerun` executable") as err:
        live.LiveView(RecordingIds("permask", "x"), spawn=True)
    assert "record.spawn" in str(err.value) and "\n" not in str(err.value)
