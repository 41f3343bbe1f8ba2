"""`permask inspect`: what a file holds, `--extract`, `--verify`, and hostile files.

Known answers come from the arrays the test writes (pixel counts, empty frames, contact frames),
not from the reader under test. Hostile files are the reader's own corpus
(tests/test_bad_input.py, tests/test_trust.py): each must give the run's one-line error, exit 2,
and run no pickle code.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from permask.api import compose
from permask.demo.params import DemoParams
from permask.demo.scene import make_demo_scene
from permask.errors import InstanceError, OutputError, PermaskError
from permask.inputs.load import load_scene
from permask.inspect.command import main
from permask.inspect.instance_tools import extract_instance, verify_paths
from permask.inspect.printed import WIDTH, frame_ranges, render
from permask.inspect.summary import summarize
from permask.instances import EMPTY_MASK, write_instance_npz
from permask.queries import build_queries
from tests import hostile
from tests.helpers import ROOT
from tests.helpers.bad_inputs import CASES, SPECIAL, Evil, special_file, write_case
from tests.helpers.runners import run_cli

CFG = compose()
SHARED_CLIP = ROOT.parent / "shared" / "data" / "davis_libby.npz"


def small_scene(num_views: int = 2) -> dict:
    """A small demo scene in the pickled form (masks as one pickled dict); instance_1 is hidden
    from the last view in frames 2-3, and an extra instance_9 is empty everywhere."""
    arrays = make_demo_scene(DemoParams(num_views=num_views, num_frames=6, height=32, width=40,
                                        num_objects=2))
    masks = dict(arrays["sam2_masks"].item())
    masks["instance_1"] = masks["instance_1"].copy()
    masks["instance_1"][-1, 2:4] = False
    masks["instance_9"] = np.zeros_like(masks["instance_0"])
    arrays["sam2_masks"] = hostile.pickled_dict_member(masks)
    return arrays


def save(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture(autouse=True)
def composed_once(monkeypatch):
    """The run config is composed once for the module (Hydra's compose takes a third of a
    second); the slow test runs the real command."""
    from permask.inspect import command

    monkeypatch.setattr(command, "run_config", lambda depth_scale=None: CFG if depth_scale is None
                        else compose(f"input.depth_scale={depth_scale}"))


def inspect_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ what a file holds


def test_pickled_file_lists_every_instance_with_its_pixels(tmp_path):
    arrays = small_scene()
    masks = arrays["sam2_masks"].item()
    path = save(tmp_path / "scene.npz", arrays)
    s = summarize(path, CFG)
    assert (s["views"], s["frames"], s["height"], s["width"]) == (2, 6, 32, 40)
    assert s["mask_key"] == "sam2_masks" and s["mask_form"] == "pickle"
    assert [i["id"] for i in s["instances"]] == ["instance_0", "instance_1", "instance_9"]
    for inst in s["instances"]:
        expected = masks[inst["id"]][:, 0].sum(axis=(1, 2)).tolist()
        assert inst["pixels_frame0"] == expected
    one = s["instances"][1]
    assert one["empty_frames"] == [] and one["empty_frames_per_view"]["cam_01"] == [2, 3]
    assert s["instances"][2]["empty_frames"] == list(range(6))
    contact = arrays["sam2_contact_frames"].item()
    assert s["instances"][0]["contact_frames"] == {k: int(v) for k, v in
                                                   contact["instance_0"].items()}
    assert s["ground_truth"] == ["instance_0", "instance_1"]
    # what run.py does: the queries it builds, the instance it skips and why
    scene = load_scene(path)
    assert s["run"]["queries"]["instance_0"] == len(build_queries(scene, "instance_0", CFG.query))
    assert s["run"]["skipped"] == {"instance_9": EMPTY_MASK}
    assert s["run"]["command"] == f"python run.py input.npz={path}"
    assert {m["key"] for m in s["members"]} == set(arrays)
    assert next(m for m in s["members"] if m["key"] == "sam2_masks")["dtype"] == "object (pickle)"


def test_the_table_fits_80_columns(tmp_path, capsys):
    path = save(tmp_path / "scene.npz", small_scene())
    code, out, err = inspect_cli(capsys, path)
    assert code == 0 and not err
    lines = out.splitlines()
    assert all(len(line) <= WIDTH for line in lines if not line.startswith("  python run.py"))
    for iid in ("instance_0", "instance_1", "instance_9"):
        assert any(line.startswith(iid) for line in lines), iid
    assert "cam_01: 2-3" in out and "all views: 0-5" in out and f"skips instance_9: {EMPTY_MASK}" \
        in out


def test_json_is_the_summary(tmp_path, capsys):
    path = save(tmp_path / "scene.npz", small_scene())
    code, out, _ = inspect_cli(capsys, path, "--json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(summarize(path, CFG)))


def test_a_numpy1_written_pickle_is_read(tmp_path):
    """Files written by numpy 1.x name `numpy.core.multiarray` in their pickles."""
    import io

    from numpy.lib import format as npy_format

    arrays = small_scene()
    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                               "shape": ()})
    stream = pickle.dumps(arrays["sam2_masks"], protocol=2)  # as np.save pickles it, no frames
    assert b"numpy._core.multiarray" in stream
    arrays["sam2_masks"] = header.getvalue() + stream.replace(b"numpy._core.multiarray",
                                                              b"numpy.core.multiarray")
    path = hostile.write_npz(tmp_path / "numpy1.npz", arrays)
    s = summarize(path, CFG)
    assert [i["id"] for i in s["instances"]] == ["instance_0", "instance_1", "instance_9"]
    assert s["mask_form"] == "pickle"


def test_a_label_map_is_found_under_its_own_key(tmp_path):
    arrays = small_scene(num_views=1)
    labels = np.zeros((1, 6, 32, 40), np.uint8)
    labels[0, :, 4:10, 5:15] = 1
    labels[0, 1:, 20:30, 20:25] = 3
    arrays = {k: v for k, v in arrays.items() if not k.startswith(("sam2", "gt_"))}
    path = save(tmp_path / "clip.npz", {**arrays, "masks": labels})
    s = summarize(path, CFG)
    assert s["mask_key"] == "masks" and s["mask_form"] == "label_map"
    assert [i["id"] for i in s["instances"]] == ["instance_1", "instance_3"]
    assert [i["pixels_frame0"] for i in s["instances"]] == [[60], [0]]
    assert s["instances"][1]["empty_frames"] == [0]
    assert s["run"]["command"].endswith("input.mask_key=masks")


def test_a_monocular_clip_has_no_baseline(tmp_path, capsys):
    path = save(tmp_path / "mono.npz", small_scene(num_views=1))
    s = summarize(path, CFG)
    assert s["views"] == 1 and s["baseline_m"] is None and len(s["cameras"]) == 1
    assert "one view: none" in render(s)


def test_baseline_is_the_distance_between_camera_centres(tmp_path):
    arrays = small_scene(num_views=2)
    extrs = np.zeros((2, 3, 4), np.float32)
    extrs[:, :, :3] = np.eye(3)
    extrs[1, :, 3] = [-0.3, 0.0, -0.4]  # centre = -R^T t = (0.3, 0, 0.4): 0.5 m from the origin
    arrays["extrs"] = extrs
    s = summarize(save(tmp_path / "rig.npz", arrays), CFG)
    assert s["baseline_m"] == pytest.approx({"min": 0.5, "max": 0.5})
    assert s["cameras"][1]["position"] == pytest.approx([0.3, 0.0, 0.4])


@pytest.mark.skipif(not SHARED_CLIP.is_file(), reason="no ../shared beside the checkout")
def test_the_shared_davis_clip(capsys):
    code, out, _ = inspect_cli(capsys, SHARED_CLIP)
    assert code == 0 and "instance_1" in out and "input.mask_key=masks" in out
    assert "stand-in plane" in out


def test_frame_ranges():
    assert frame_ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert frame_ranges([4]) == "4" and frame_ranges([]) == "none"



def test_millimetre_depth_is_inspected_with_its_unit(tmp_path, capsys):
    arrays = small_scene()
    metres = arrays["depths"]  # [V,T,1,H,W]
    arrays["depths"] = np.round(metres * 1000).astype(np.uint16)
    path = save(tmp_path / "mm.npz", arrays)
    code, out, err = inspect_cli(capsys, path)  # integer depth has no unit of its own
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "'depths'" in err and "input.depth_scale" in err
    code, out, err = inspect_cli(capsys, path, "--depth-scale", 0.001, "--json")
    assert code == 0 and f"input.npz={path} input.depth_scale=0.001" in json.loads(out)["run"]["command"]
    extracted = tmp_path / "instance_0.npz"
    code, out, err = inspect_cli(capsys, path, "--depth-scale", 0.001, "--extract", "instance_0",
                                 "-o", extracted)
    assert code == 0 and "input.depth_scale=null" in out  # the instance file stores metres
    np.testing.assert_allclose(load_scene(extracted, "sam2_masks").depths, metres[:, :, 0], atol=5e-4)

# ------------------------------------------------------------------ hostile files


def _run_error(path: Path) -> str:
    """The line run.py prints for this file (its loader, as `permask.pipeline.load_input`)."""
    from omegaconf import OmegaConf

    from permask.pipeline import load_input

    cfg = OmegaConf.merge(CFG, {"input": {"npz": str(path)}})
    with pytest.raises(PermaskError) as info:
        load_input(cfg)
    return f"permask: error: {info.value}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_content_gives_the_runs_one_line(name, tmp_path, capsys):
    path, key = write_case(name, tmp_path)
    before = path.read_bytes()
    code, out, err = inspect_cli(capsys, path)
    assert code == 2 and not out and err.splitlines() == [_run_error(path)]
    assert key in err and path.read_bytes() == before
    assert not (tmp_path / "CANARY").exists(), "pickle code ran"


def test_the_canary_would_run_with_plain_numpy(tmp_path):
    """The pickle case really carries code: numpy's own loader runs it."""
    path, _ = write_case("pickle_that_carries_code", tmp_path)
    with np.load(path, allow_pickle=True) as data:
        data["sam2_masks"]
    assert Path(Evil.canary).exists()


@pytest.mark.parametrize("name", SPECIAL)
def test_broken_files_give_the_runs_one_line(name, tmp_path, capsys):
    path = special_file(name, tmp_path)
    code, out, err = inspect_cli(capsys, path)
    assert code == 2 and not out and err.splitlines() == [_run_error(path)]


@pytest.mark.parametrize("name,member", [
    ("deep_list", ("camera_ids", hostile.object_array_with_raw_item(
        hostile.deep_list_ops(100_000)))),
    ("reconstruct_1TB", ("camera_ids", hostile.object_array_with_raw_item(
        hostile.reconstruct_ops(10**12)))),
    ("header_1TB", ("depths", hostile.huge_header_member((10**12,), "<f4"))),
])
def test_bombs_give_the_runs_one_line(name, member, tmp_path, capsys):
    arrays = small_scene()
    arrays[member[0]] = member[1]
    path = hostile.write_npz(tmp_path / f"{name}.npz", arrays)
    code, _, err = inspect_cli(capsys, path)
    assert code == 2 and err.splitlines() == [_run_error(path)] and member[0] in err


def test_members_the_run_does_not_use_are_never_inflated(tmp_path, monkeypatch):
    """Only their headers are read: a junk member beside the scene is listed, never loaded."""
    from permask.inputs import npz

    path = hostile.write_npz(tmp_path / "extra.npz",
                             {**small_scene(), "unused_junk": np.zeros(10**6, np.uint8)})
    read = []
    real = npz._read_member
    monkeypatch.setattr(npz, "_read_member",
                        lambda zf, info, *a: read.append(info.filename) or real(zf, info, *a))
    s = summarize(path, CFG)
    assert read and "unused_junk.npy" not in read
    assert next(m for m in s["members"] if m["key"] == "unused_junk")["shape"] == [10**6]


def test_an_unreadable_unused_member_is_listed_not_fatal(tmp_path, capsys):
    path = hostile.write_npz(tmp_path / "junk.npz", {**small_scene(), "junk": b"not an npy"})
    code, out, _ = inspect_cli(capsys, path)
    assert code == 0 and "unreadable" in out


# ------------------------------------------------------------------ --extract


def test_extract_writes_one_instance_a_run_reads_alone(tmp_path, capsys):
    source = save(tmp_path / "scene.npz", small_scene())
    out = tmp_path / "one.npz"
    code, printed, _ = inspect_cli(capsys, source, "--extract", "instance_1", "-o", out)
    assert code == 0 and f"python run.py input.npz={out}" in printed
    full, alone = load_scene(source), load_scene(out)
    assert alone.instance_ids == ["instance_1"]
    assert np.array_equal(alone.masks["instance_1"], full.masks["instance_1"])
    assert alone.contact_frames == {"instance_1": full.contact_frames["instance_1"]}
    assert alone.ground_truth.instance_ids == ["instance_1"]
    assert np.array_equal(alone.ground_truth.object_poses[0], full.ground_truth.object_poses[1])
    for key in ("rgbs", "depths", "intrs", "extrs"):
        assert np.array_equal(getattr(alone, key), getattr(full, key)), key
    ours, theirs = (build_queries(s, "instance_1", CFG.query) for s in (alone, full))
    assert np.array_equal(ours.points, theirs.points)  # the same queries as in the full file
    with np.load(out) as data:  # pickle-free: numpy's default loader reads it
        assert "sam2_masks/instance_1" in data.files


def test_extract_keeps_the_label_map_key(tmp_path, capsys):
    arrays = {k: v for k, v in small_scene(num_views=1).items()
              if not k.startswith(("sam2", "gt_"))}
    labels = np.zeros((1, 6, 32, 40), np.uint8)
    labels[0, :, 4:10, 5:15] = 2
    source = save(tmp_path / "clip.npz", {**arrays, "masks": labels})
    code, printed, _ = inspect_cli(capsys, source, "--extract", "instance_2", "-o",
                                   tmp_path / "o.npz")
    assert code == 0 and "input.mask_key=masks" in printed
    assert load_scene(tmp_path / "o.npz", "masks").instance_ids == ["instance_2"]


def test_extract_refuses_an_unknown_id_and_the_input_itself(tmp_path, capsys):
    source = save(tmp_path / "scene.npz", small_scene())
    before = source.read_bytes()
    code, _, err = inspect_cli(capsys, source, "--extract", "instance_7", "-o", tmp_path / "x.npz")
    assert code == 2 and "instance_7" in err and str(source) in err and len(err.splitlines()) == 1
    scene = load_scene(source)
    with pytest.raises(OutputError):
        extract_instance(scene, "sam2_masks", "instance_0", source)
    with pytest.raises(InstanceError):
        extract_instance(scene, "sam2_masks", "nope", tmp_path / "y.npz")
    assert source.read_bytes() == before and not (tmp_path / "x.npz").exists()


# ------------------------------------------------------------------ --verify


def _instance_folder(tmp_path: Path) -> Path:
    """Instance files as a run writes them: `instances/{base}_{id}.npz` (+ a query file)."""
    scene = load_scene(save(tmp_path / "scene.npz", small_scene()))
    folder = tmp_path / "run" / "instances"
    for iid in ("instance_0", "instance_1"):
        write_instance_npz(folder / f"demo_{iid}.npz", scene, iid)
    np.savez(folder / "demo_instance_0_query.npz", points=np.zeros((3, 4), np.float32))
    return tmp_path / "run"


def test_verify_passes_a_runs_instance_files(tmp_path, capsys):
    run_dir = _instance_folder(tmp_path)
    checked = verify_paths([run_dir])
    assert [(c.path.name, c.instance_id, c.problems) for c in checked] == [
        ("demo_instance_0.npz", "instance_0", []), ("demo_instance_1.npz", "instance_1", [])]
    code, out, err = inspect_cli(capsys, run_dir, "--verify")
    assert code == 0 and not err and "2 ok" in out


@pytest.mark.parametrize("damage", ["truncated", "empty_mask", "no_instance_id"])
def test_verify_names_the_corrupted_file(damage, tmp_path, capsys):
    run_dir = _instance_folder(tmp_path)
    bad = run_dir / "instances" / "demo_instance_1.npz"
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:200])
    else:
        with np.load(bad) as data:
            arrays = dict(data)
        if damage == "empty_mask":
            arrays["masks/instance_1"][:] = False
        else:
            del arrays["instance_id"]
        np.savez(bad, **arrays)
    code, out, err = inspect_cli(capsys, run_dir, "--verify")
    assert code == 2 and "1 ok, 1 with problems" in out
    assert err.splitlines() and all(line.startswith("permask: error: ") and str(bad) in line
                                    for line in err.splitlines())


def test_verify_of_an_empty_folder_is_a_problem(tmp_path, capsys):
    code, _, err = inspect_cli(capsys, tmp_path, "--verify")
    assert code == 2 and "no instance files found" in err


# ------------------------------------------------------------------ the `permask` command


def test_permask_inspect_goes_to_inspect(tmp_path, monkeypatch, capsys):
    from permask import cli

    path = save(tmp_path / "scene.npz", small_scene())
    monkeypatch.setattr(sys, "argv", ["permask", "inspect", str(path), "--json"])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 0
    assert json.loads(capsys.readouterr().out)["mask_key"] == "sam2_masks"


@pytest.mark.slow
def test_permask_command_inspects_and_still_runs(tmp_path):
    """The installed `permask`: `inspect` goes to the inspector; overrides still go to Hydra;
    an extracted instance then runs alone, and --verify passes that run's folder."""
    import shutil
    import subprocess

    exe = shutil.which("permask", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the permask console script is not installed")
    source = save(tmp_path / "scene.npz", small_scene())

    def permask(*args):
        return subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    shown = permask("inspect", source)
    assert shown.returncode == 0 and "instance_9" in shown.stdout, shown.stderr
    assert permask("--cfg", "job", "query.max_points=7").stdout.count("max_points: 7") == 1
    bad = permask("inspect", tmp_path / "missing.npz")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    one = tmp_path / "one.npz"
    assert permask("inspect", source, "--extract", "instance_1", "-o", one).returncode == 0
    out = tmp_path / "out"
    done = run_cli([f"input.npz={one}", f"output_dir={out}", "progress=false",
                    "record.enabled=false", "query.max_points=8"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in out.glob("*_tracked.npz")] == ["demo_lk_instance_1_tracked.npz"]
    verified = permask("inspect", out, "--verify")
    assert verified.returncode == 0 and "1 ok" in verified.stdout, verified.stderr
