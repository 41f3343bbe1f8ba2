"""The fetch path (permask.fetch) against a local server standing in for GitHub and the Hugging
Face Hub (tests/model_server.py): fetched once and verified, reused with no request, refused with
one line when corrupt or of another commit, one line offline, and `permask fetch --to DIR` then a
run that never touches the network. The served code is the stand-in hub repo of
tests/fixtures (known motion), the weights its checkpoint, pinned by sha256 in the config."""

import logging
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

from permask.errors import FetchError  # noqa: E402
from permask.fetch import store  # noqa: E402
from permask.fetch.code import fetch_code  # noqa: E402
from permask.fetch.spec import WeightFile  # noqa: E402
from permask.fetch.weights import fetch_weight  # noqa: E402
from permask.trackers.mvtracker import UPSTREAM  # noqa: E402
from tests.helpers import ROOT  # noqa: E402
from tests.helpers.overrides import demo, quick  # noqa: E402
from tests.helpers.runners import run_cli  # noqa: E402
from tests.helpers.standins import (HUB_MVTRACKER, SPATRACKER_CLONE,  # noqa: E402
                                    expected_mvtracker, mvtracker, rig_queries, rig_scene)
from tests.model_server import ModelServer, commit_archive, serve_in_process  # noqa: E402

COMMIT = UPSTREAM.split(":")[1]
ARCHIVE = f"/ethz-vlg/mvtracker/archive/{COMMIT}.zip"
WEIGHT = WeightFile("ethz-vlg/mvtracker", "mvtracker_200000_june2025.pth")
RESOLVE = f"/{WEIGHT.repo}/resolve/main/{WEIGHT.file}"


@pytest.fixture
def server(monkeypatch, tmp_path):
    """The stand-in server with the stand-in MVTracker repo; this process points at it, and its
    models folder is empty."""
    srv = ModelServer()
    srv.add_repo(UPSTREAM, HUB_MVTRACKER)
    serve_in_process(monkeypatch, srv)
    monkeypatch.setenv(store.MODELS_DIR_ENV, str(tmp_path / "models"))
    yield srv
    srv.close()


def one_line(err) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def fetch(marker="hubconf.py"):
    return fetch_code(UPSTREAM, key="tracker.hub_repo", choice="tracker=mvtracker", marker=marker)


# ------------------------------------------------------------------------------------ code
def test_code_is_fetched_once_checked_and_reused(server, tmp_path):
    folder = fetch()
    assert folder.is_relative_to(tmp_path / "models")
    assert (folder / "hubconf.py").read_bytes() == (HUB_MVTRACKER / "hubconf.py").read_bytes()
    assert server.requests == [("GET", ARCHIVE)]
    assert fetch() == folder and len(server.requests) == 1  # from the models folder, no request


def test_archive_of_another_commit_is_refused(server, tmp_path):
    server.add_repo(UPSTREAM, HUB_MVTRACKER, comment="1" * 40)
    with pytest.raises(FetchError) as info:
        fetch()
    text = one_line(info.value)
    assert "1" * 40 in text and "refused" in text and "tracker.hub_repo" in text
    assert not list((tmp_path / "models" / "code").rglob("hubconf.py"))


def test_archive_member_outside_its_folder_is_refused(server, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.comment = COMMIT.encode()
        zf.writestr(f"mvtracker-{COMMIT}/hubconf.py", "")
        zf.writestr(f"mvtracker-{COMMIT}/../../escaped.py", "")
    server.archives[ARCHIVE] = path.read_bytes()
    with pytest.raises(FetchError, match="leaves the folder"):
        fetch()
    assert not list(tmp_path.rglob("escaped.py"))


def test_torch_hub_copy_is_used_without_a_request(server, tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    copy = hub / f"ethz-vlg_mvtracker_{COMMIT}"
    copy.mkdir(parents=True)
    (copy / "hubconf.py").write_text("")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert fetch() == copy and server.requests == []


def test_code_offline_is_one_line_naming_where_and_how(server, monkeypatch, tmp_path):
    monkeypatch.setenv("PERMASK_GITHUB_URL", "http://127.0.0.1:9")  # the network gone
    with pytest.raises(FetchError) as info:
        fetch()
    text = one_line(info.value)
    target = store.code_dir(store.Pin("ethz-vlg", "mvtracker", COMMIT))
    assert f"would be stored in {target}" in text
    assert "permask fetch tracker=mvtracker --to DIR" in text and "key 'tracker.hub_repo'" in text


# ------------------------------------------------------------------------------------ weights
def pinned(sha):
    return WeightFile(WEIGHT.repo, WEIGHT.file, sha256=sha)


def get(weight):
    return fetch_weight(weight, key="tracker.checkpoint", choice="tracker=mvtracker")


def test_weights_are_fetched_verified_and_reused(server, tmp_path):
    data = b"weights" * 1000
    sha = server.add_file(WEIGHT.repo, WEIGHT.file, data)
    path = get(pinned(sha))
    assert path.read_bytes() == data and path.is_relative_to(tmp_path / "models")
    assert ("GET", RESOLVE) in server.requests
    count = len(server.requests)
    assert get(pinned(sha)) == path and len(server.requests) == count  # no request


def test_served_file_with_another_sha256_is_refused_and_not_kept(server):
    server.add_file(WEIGHT.repo, WEIGHT.file, b"tampered")
    with pytest.raises(FetchError) as info:
        get(pinned("0" * 64))
    text = one_line(info.value)
    assert "0" * 64 in text and "refused" in text and "tracker.checkpoint" in text
    assert not store.weight_path(WEIGHT).exists()


def test_corrupted_cached_file_is_refused_with_one_line(server):
    sha = server.add_file(WEIGHT.repo, WEIGHT.file, b"good weights")
    path = get(pinned(sha))
    path.write_bytes(b"bad weights!")  # same size, changed on disk
    count = len(server.requests)
    with pytest.raises(FetchError) as info:
        get(pinned(sha))
    text = one_line(info.value)
    assert str(path) in text and sha in text and len(server.requests) == count


def test_unpinned_weights_report_their_sha256(server, caplog):
    sha = server.add_file(WEIGHT.repo, WEIGHT.file, b"some weights")
    with caplog.at_level(logging.WARNING):
        get(WEIGHT)
    assert sha in caplog.text and "not pinned" in caplog.text


def test_weights_offline_is_one_line(server, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FetchError) as info:
        get(pinned("0" * 64))
    text = one_line(info.value)
    assert f"would be stored at {store.weight_path(WEIGHT)}" in text
    assert "permask fetch tracker=mvtracker --to DIR" in text and server.requests == []


def test_bad_sha256_in_the_config_is_a_config_error(server):
    from permask.errors import ConfigError

    with pytest.raises(ConfigError, match="tracker.weights.0.sha256"):
        get(pinned("xyz"))


# ------------------------------------------------------------------------------------ trackers
def test_tracker_with_nothing_local_fetches_then_reuses(server, checkpoints):
    """tracker=mvtracker without hub_repo / checkpoint: code and weights come from the server,
    the tracks are the stand-in's known motion; a second tracker object asks nothing."""
    sha = server.add_file(WEIGHT.repo, WEIGHT.file, checkpoints["mvtracker"].read_bytes())
    scene = rig_scene(T=6)
    q = rig_queries(scene, frame=2)

    def fetched():
        return mvtracker(checkpoints, hub_repo=None, checkpoint=None, weights=[pinned(sha)])

    res = fetched().track(scene, q)
    np.testing.assert_allclose(res.tracks, expected_mvtracker(q, 6), atol=1e-4)
    count = len(server.requests)
    assert count >= 2 and ("GET", ARCHIVE) in server.requests
    fetched().track(scene, q)
    assert len(server.requests) == count


@pytest.mark.slow
def test_permask_fetch_to_dir_then_an_offline_run(checkpoints, tmp_path, cache_dir):
    """`permask fetch tracker=mvtracker --to DIR` where the server is, then `run.py` with the
    server gone and PERMASK_MODELS_DIR=DIR: the run writes its outputs, nothing is requested."""
    srv = ModelServer()
    srv.add_repo(UPSTREAM, HUB_MVTRACKER)
    sha = srv.add_file(WEIGHT.repo, WEIGHT.file, checkpoints["mvtracker"].read_bytes())
    pin = f"tracker.weights.0.sha256={sha}"
    models = tmp_path / "models"
    try:
        fetched = run_cli_module(["tracker=mvtracker", pin, "--to", str(models)], srv.env())
    finally:
        srv.close()
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    assert f"PERMASK_MODELS_DIR={models}" in fetched.stdout and "tracker.hub_repo=" in fetched.stdout
    count = len(srv.requests)
    gone = {"PERMASK_GITHUB_URL": "http://127.0.0.1:9", "HF_ENDPOINT": "http://127.0.0.1:9",
            "HF_HUB_OFFLINE": "0", "PERMASK_MODELS_DIR": str(models),
            "PERMASK_CACHE_DIR": str(cache_dir)}
    run = run_cli(["tracker=mvtracker", pin, "tracker.device=cpu", "tracker.input_size=null",
                   *quick(num_frames=8), f"output_dir={tmp_path / 'out'}"], env_extra=gone)
    assert run.returncode == 0, run.stderr[-3000:]
    assert list((tmp_path / "out").rglob("*_tracked.npz")) and len(srv.requests) == count
    offline = run_cli(["tracker=mvtracker", "tracker.device=cpu", *demo(num_frames=8),
                       "record.enabled=false", f"output_dir={tmp_path / 'out2'}"],
                      env_extra=dict(gone, PERMASK_MODELS_DIR=str(tmp_path / "empty")))
    assert offline.returncode == 2 and len(offline.stderr.strip().splitlines()) == 1
    assert "permask fetch tracker=mvtracker --to DIR" in offline.stderr
    assert not (tmp_path / "out2").exists()  # a failed start leaves no folder


def run_cli_module(args, env_extra):
    import os
    import subprocess
    import sys

    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-m", "permask.fetch", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_commit_archive_helper_names_the_commit(tmp_path):
    data = commit_archive(HUB_MVTRACKER, "mvtracker", COMMIT)
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.comment.decode() == COMMIT
        assert f"mvtracker-{COMMIT}/hubconf.py" in zf.namelist()


def test_permask_fetch_spatialtrackerv2_fetches_code_utils3d_and_weights(tmp_path, monkeypatch,
                                                                        capsys):
    """`permask fetch tracker=spatialtrackerv2 --to DIR` (in process): its code, its own utils3d
    and both weight files land in DIR, and the printed overrides point at them."""
    from permask.fetch.command import main
    from permask.trackers import spatialtracker as st

    utils3d = tmp_path / "utils3d-src"
    (utils3d / "utils3d").mkdir(parents=True)
    (utils3d / "utils3d" / "__init__.py").write_text("")
    srv = ModelServer()
    try:
        srv.add_repo(st.UPSTREAM, SPATRACKER_CLONE)
        srv.add_repo(st.UTILS3D, utils3d)
        pins = [f"tracker.weights.{i}.sha256={srv.add_file(w.repo, w.file, w.file.encode())}"
                for i, w in enumerate(st.WEIGHTS)]
        serve_in_process(monkeypatch, srv)
        assert main(["tracker=spatialtrackerv2", *pins, "--to", str(tmp_path / "m")]) == 0
    finally:
        srv.close()
    out = capsys.readouterr().out
    for key in ("tracker.hub_repo=", "tracker.utils3d_dir=", "tracker.checkpoint="):
        assert f"{key}{tmp_path / 'm'}" in out, out
    assert (tmp_path / "m" / "weights" / st.HF_REPO / "main" / "model.safetensors").is_file()
    assert main(["tracker=nosuch"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
