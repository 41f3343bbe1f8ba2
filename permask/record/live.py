"""Watching a run live (`record.spawn=true`, `record.connect=ADDR`): a second recording stream,
beside the files, that sends the scene and then each instance as it finishes to a Rerun viewer,
as Rerun's own examples do (`rr.spawn`, `connect_grpc`). Same application and recording id as the
run's files, so the viewer merges what it receives with files opened later.

The files never depend on the viewer: a viewer that is absent at start is one error line before
any work (`check_address`); one that goes away during the run costs a warning, and the run goes on
writing its files.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from urllib.parse import urlparse

import rerun as rr

from permask.data import Queries, Scene, TrackResult
from permask.errors import ConfigError
from permask.record.blueprint import make_blueprint
from permask.record.context import SceneContext, log_scene_context
from permask.record.identity import RecordingIds
from permask.record.tracks import log_instance_tracks

log = logging.getLogger(__name__)

DEFAULT_PORT = 9876  # rerun's gRPC port
CONNECT_TIMEOUT_S = 2.0
FLUSH_TIMEOUT_S = 10.0  # at the end: the most a run waits for the viewer to take the rest
DISCONNECT_TIMEOUT_S = 10.0


def check_address(url: str) -> tuple[str, int]:
    """(host, port) of a viewer address `rerun+http://HOST:PORT/proxy` (also `rerun://`,
    `rerun+https://`), after checking that something listens there. ConfigError (one line)
    for a malformed address or a closed port."""
    parsed = urlparse(str(url))
    if parsed.scheme not in ("rerun", "rerun+http", "rerun+https") or not parsed.hostname \
            or parsed.path.rstrip("/") != "/proxy":
        raise ConfigError(f"not a Rerun viewer address: {url!r}", key="record.connect",
                          fix="write it as rerun+http://HOST:PORT/proxy, e.g. "
                              "rerun+http://127.0.0.1:9876/proxy")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"bad port in {url!r}", key="record.connect") from None
    try:
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise ConfigError(f"no Rerun viewer at {url} ({err.strerror or err})",
                          key="record.connect",
                          fix="start one with `rerun` (it prints its address), or use "
                              "record.spawn=true") from None
    return parsed.hostname, port


class LiveView:
    """The live stream of one run. Build it before any work (it checks the viewer), then
    `scene(...)` once, `instance(...)` per finished instance, `close()` at the end."""

    def __init__(self, ids: RecordingIds, *, spawn: bool = False, connect: str | None = None):
        if connect:
            check_address(connect)
        elif spawn and shutil.which("rerun") is None:
            raise ConfigError("cannot start a viewer: no `rerun` executable on PATH",
                              key="record.spawn", fix="install rerun-sdk in this environment")
        self.rec = rr.RecordingStream(ids.application_id, recording_id=ids.recording_id)
        self.failed = False
        if connect:
            self.rec.connect_grpc(connect)
        else:
            self.rec.spawn(connect=True)

    def _guard(self, what: str, fn) -> None:
        if self.failed:
            return
        try:
            fn()  # queued: the viewer takes it at its own pace
        except Exception as err:  # noqa: BLE001 - a viewer never fails a run
            self.failed = True
            log.warning("live viewer: stopped streaming at %s (%s); the files are still written",
                        what, str(err).splitlines()[0] if str(err) else type(err).__name__)

    def scene(self, scene: Scene, context: SceneContext, trackers: list[str], name: str) -> None:
        def send():
            self.rec.send_recording_name(name)
            self.rec.send_blueprint(make_blueprint(scene, trackers, context=context),
                                    make_active=True)
            log_scene_context(self.rec, scene, context=context)
        self._guard("the scene", send)

    def instance(self, scene: Scene, queries: Queries, result: TrackResult, tracker: str) -> None:
        self._guard(queries.instance_id,
                    lambda: log_instance_tracks(self.rec, scene, queries, result, tracker=tracker))

    def close(self) -> None:
        """Hand the viewer the rest (at most FLUSH_TIMEOUT_S) and disconnect. A viewer that
        accepted the connection but stopped answering would make Rerun's disconnect, and its
        exit hook, wait forever: the disconnect is left behind after DISCONNECT_TIMEOUT_S and the
        exit hook unregistered (every file stream of the run is closed by then)."""
        try:
            if not self.failed:
                self.rec.flush(timeout_sec=FLUSH_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001
            log.warning("live viewer: the last data may not have arrived (%s)",
                        str(err).splitlines()[0] if str(err) else type(err).__name__)
        closing = threading.Thread(target=self.rec.disconnect, daemon=True,
                                   name="permask-live-disconnect")
        closing.start()
        closing.join(DISCONNECT_TIMEOUT_S)
        if closing.is_alive():
            rr.unregister_shutdown()
            log.warning("live viewer: it stopped answering; left behind (the files are complete)")
