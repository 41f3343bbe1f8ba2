"""Hostile inputs and careless commands, run in process through `permask.compose` and
`permask.run` (the entry point's only other job, printing `str(err)` with exit 2, is
checked end to end in tests/test_trust_cli.py).

Each case either fails with a `PermaskError` whose one line names the file, key and problem, or
succeeds with every output inside the output folder; the input is byte-identical afterwards.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from permask.errors import ConfigError, InputFileError, InputFormatError, OutputError, \
    PermaskError, UnsafePickleError
from permask.files.lock import FolderLock
from permask.files.names import safe_name
from permask.pipeline import Interrupted
from tests import hostile
from tests.helpers.bad_inputs import SMALL_SCENE, small_masks, with_masks
from tests.helpers.overrides import SMALL_DEMO_OVERRIDES
from tests.helpers.runs import compose, files_under, run_on


def assert_all_inside(tmp_path: Path, out: Path, before: set[Path]) -> None:
    """Every file created under tmp_path during the run lies inside `out`."""
    created = files_under(tmp_path) - before
    outside = [p for p in created if out not in p.parents]
    assert not outside, outside


def refused(path: Path, out: Path, kind: type[PermaskError], *words: str,
            overrides: tuple[str, ...] = ()) -> str:
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(kind) as info:
        run_on(path, out, *overrides)
    line = str(info.value)
    assert "\n" not in line and line.isprintable(), line
    for word in words:
        assert word in line, (word, line)
    if before is not None:
        assert path.read_bytes() == before, "the input changed"
    return line


# ------------------------------------------------------------------ ids that name paths


@pytest.mark.parametrize("evil", ["x/../../../somewhere/NAME", "/abs/NAME", "..", ".hidden",
                                  "a\\b", "Ümlaut id", "x" * 230])
def test_instance_ids_from_the_file_never_leave_the_output_folder(evil, tmp_path):
    path = tmp_path / "in" / "scene.npz"
    path.parent.mkdir()
    m = small_masks()
    np.savez(path, **with_masks({evil: m["instance_0"], "instance_1": m["instance_1"]}))
    out = tmp_path / "a" / "b" / "out"
    before = files_under(tmp_path)
    report = run_on(path, out)
    assert set(report.outcomes) == {evil, "instance_1"}
    assert_all_inside(tmp_path, out, before)
    assert all(len(p.name.encode()) < 200 for p in files_under(out))


def test_member_names_that_climb_are_kept_inside(tmp_path):
    path = tmp_path / "scene.npz"
    m = small_masks()
    arrays = {k: v for k, v in SMALL_SCENE.items() if k not in ("sam2_masks", "sam2_contact_frames")}
    arrays["sam2_masks/x/../../../somewhere/NAME"] = m["instance_0"]
    arrays["sam2_masks/instance_1"] = m["instance_1"]
    hostile.write_npz(path, arrays)
    out = tmp_path / "out"
    before = files_under(tmp_path)
    report = run_on(path, out)
    assert "x/../../../somewhere/NAME" in report.outcomes
    assert_all_inside(tmp_path, out, before)
    assert not (tmp_path.parent / "somewhere").exists()


@pytest.mark.parametrize("base", ["../../x", "/abs/path/x", "..", "a/b", "x" * 300])
def test_base_name_overrides_stay_inside(base, tmp_path, small_demo_path):
    out = tmp_path / "out"
    before = files_under(tmp_path)
    run_on(None, out, f"base_name='{base}'", *SMALL_DEMO_OVERRIDES)
    assert_all_inside(tmp_path, out, before)


def test_default_run_folder_uses_a_safe_base_name():
    cfg = compose("base_name=../../x")
    assert ".." not in Path(cfg.output_dir).parts and not Path(cfg.output_dir).is_absolute()


def test_safe_name_is_readable_unique_and_bounded():
    assert safe_name("instance_2") == "instance_2"
    names = {safe_name(s) for s in ["a/b", "a_b", "a\\b", "a b", "a\0b", "a\ud800b", "A/b"]}
    assert len(names) == 7
    for text in ["..", ".", "", "/", "x" * 1000, "\ud800", "a\0"]:
        name = safe_name(text)
        assert name not in ("", ".", "..") and "/" not in name and not name.startswith(".")
        assert name.isascii() and len(name) <= 64


def test_two_ids_on_one_file_name_are_refused_naming_file_and_key(tmp_path):
    path = tmp_path / "scene.npz"
    m = small_masks()
    twin = safe_name("a/")  # an id crafted to equal another id's safe name
    np.savez(path, **with_masks({"a/": m["instance_0"], twin: m["instance_1"]}))
    line = refused(path, tmp_path / "out", OutputError, "same output file", "instance id",
                   twin)
    assert str(tmp_path / "out") in line


@pytest.mark.parametrize("ids", [(0, "0"), ("Cup", "cup")])
def test_ids_that_collapse_are_refused(ids, tmp_path):
    path = tmp_path / "scene.npz"
    m = small_masks()
    np.savez(path, **with_masks({ids[0]: m["instance_0"], ids[1]: m["instance_1"]}))
    refused(path, tmp_path / "out", InputFormatError, str(path), "sam2_masks")


@pytest.mark.parametrize("evil", ["nul\0id", "lone\ud800surrogate", "x" * 2000, "", "tab\tid"])
def test_unprintable_or_huge_ids_are_one_line(evil, tmp_path):
    path = tmp_path / "scene.npz"
    np.savez(path, **with_masks({evil: small_masks()["instance_0"]}))
    refused(path, tmp_path / "out", InputFormatError, str(path), "sam2_masks")


# ------------------------------------------------------------------ the input is never an output


def test_input_inside_the_output_folder_is_never_replaced(tmp_path, small_demo_path):
    out = tmp_path / "out"
    run_on(None, out, "split.self_contained=true", *SMALL_DEMO_OVERRIDES)
    instance_file = out / "instances" / "demo_instance_0.npz"
    line = refused(instance_file, out, OutputError, "replace the file it reads",
                   str(instance_file), overrides=("input.mask_key=masks",))
    assert "output_dir" in line


def test_reused_split_folder_is_read_not_written(tmp_path, small_demo_path):
    out = tmp_path / "out"
    run_on(None, out, *SMALL_DEMO_OVERRIDES)
    split = out / "instances"
    before = {p: p.read_bytes() for p in split.glob("demo_instance_?.npz")}
    run_on(None, out, *SMALL_DEMO_OVERRIDES, f"split.reuse_dir={split}", "on_existing=overwrite")
    assert {p: p.read_bytes() for p in before} == before


# ------------------------------------------------------------------ one run per folder


def test_a_second_run_into_a_locked_folder_fails_at_once_naming_the_holder(tmp_path,
                                                                           small_demo_path):
    out = tmp_path / "out"
    tmp_of_holder = out / ".demo_lk_instance_0.rrd.12345.abcdef01.tmp"
    with FolderLock(out / ".permask" / "lock"):
        tmp_of_holder.write_bytes(b"in progress")
        with pytest.raises(OutputError) as info:
            run_on(small_demo_path, out)
        assert f"pid {os.getpid()}" in str(info.value) and str(out) in str(info.value)
        assert tmp_of_holder.exists(), "a live run's temporary file was removed"


def test_on_locked_wait_waits_for_the_holder(tmp_path, small_demo_path):
    out = tmp_path / "out"
    lock = FolderLock(out / ".permask" / "lock").__enter__()
    timer = threading.Timer(1.0, lock.__exit__, args=(None, None, None))
    timer.start()
    started = time.monotonic()
    run_on(small_demo_path, out, "on_locked=wait")
    assert time.monotonic() - started >= 0.9
    timer.join()


def test_temporaries_of_a_killed_run_are_removed_by_the_next(tmp_path, small_demo_path):
    out = tmp_path / "out"
    (out / "instances").mkdir(parents=True)
    orphans = [out / ".demo_lk_instance_0_tracked.npz.999999.0badc0de.tmp",
               out / "instances" / ".demo_instance_0.npz.999999.0badc0de.tmp"]
    for p in orphans:
        p.write_bytes(b"half")
    run_on(small_demo_path, out)
    assert not any(p.exists() for p in orphans)


# ------------------------------------------------------------------ resume never mixes inputs


def _interrupt_after_first(monkeypatch):
    from permask.trackers.lk import LKTracker

    real, calls = LKTracker.track, []

    def track(self, scene, queries):
        calls.append(queries.instance_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, scene, queries)

    monkeypatch.setattr(LKTracker, "track", track)


def test_resume_after_the_input_changed_refuses_or_overwrites_cleanly(tmp_path, monkeypatch):
    m = small_masks()
    path = tmp_path / "scene.npz"
    np.savez(path, **with_masks(m))
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _interrupt_after_first(patch)
        with pytest.raises(Interrupted):
            run_on(path, out, "record.enabled=true")
    assert (out / "demo_lk_instance_0_tracked.npz").is_file()
    np.savez(path, **with_masks({"instance_1": m["instance_1"]}))  # fewer instances
    refused(path, out, OutputError, "different input", str(out))
    run_on(path, out, "on_existing=overwrite", "record.enabled=true")
    names = {p.name for p in files_under(out)}
    assert not any("instance_0" in n for n in names), names


def test_killed_and_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    path = tmp_path / "scene.npz"
    np.savez(path, **with_masks(small_masks()))
    with monkeypatch.context() as patch:
        _interrupt_after_first(patch)
        with pytest.raises(Interrupted):
            run_on(path, tmp_path / "a")
    resumed = run_on(path, tmp_path / "a")
    whole = run_on(path, tmp_path / "b")
    assert resumed.reused == ["instance_0"]
    for iid, outcome in whole.outcomes.items():
        np.testing.assert_array_equal(outcome.result.tracks, resumed.outcomes[iid].result.tracks)
        np.testing.assert_array_equal(outcome.result.visible,
                                      resumed.outcomes[iid].result.visible)


# ------------------------------------------------------------------ bounded decoding


def _camera_ids_member(raw_ops: bytes) -> dict:
    arrays = with_masks(small_masks())
    arrays["camera_ids"] = hostile.object_array_with_raw_item(raw_ops)
    return arrays


@pytest.mark.parametrize("name,raw_ops,words", [
    ("deep_list", hostile.deep_list_ops(100_000), ["nested more than"]),
    ("nested_40", hostile.deep_list_ops(40), ["nested more than"]),
    ("bytearray_1TB", hostile.call_ops("builtins", "bytearray", 10**12), ["bytearray"]),
    ("ndarray_1TB", hostile.call_ops("numpy", "ndarray", (10**6, 10**6)), ["an array"]),
    ("reconstruct_1TB", hostile.reconstruct_ops(10**12), ["an array"]),
])
def test_pickles_that_allocate_or_nest_without_bound_are_refused(name, raw_ops, words, tmp_path):
    path = tmp_path / f"{name}.npz"
    hostile.write_npz(path, _camera_ids_member(raw_ops))
    refused(path, tmp_path / "out", (UnsafePickleError, InputFileError), str(path),
            "camera_ids", *words)


def _mask_dict_ops(instance_ops: bytes) -> bytes:
    """Pickle opcodes of `{'instance_0': <instance_ops>}` (a mask dict as pickled files store it)."""
    key = b"instance_0"
    return b"}" + b"X" + len(key).to_bytes(4, "little") + key + instance_ops + b"s"


@pytest.mark.parametrize("nbytes", [200 * 2**20, 6 * 2**30])
def test_a_pickled_mask_gets_a_budget_from_its_video_not_from_the_machine(nbytes, tmp_path):
    """A tiny recording (2 views, 5 frames, 32x40: 38 KiB of video) may unpickle at most the
    64 MiB floor, on any machine: a mask entry asking for 200 MiB or 6 GiB is refused before
    anything is allocated."""
    arrays = with_masks(small_masks())
    arrays["sam2_masks"] = hostile.object_array_with_raw_item(
        _mask_dict_ops(hostile.reconstruct_ops(nbytes)))
    path = hostile.write_npz(tmp_path / "mask_alloc.npz", arrays)
    refused(path, tmp_path / "out", UnsafePickleError, str(path), "sam2_masks", str(nbytes),
            "budget of 67108864")


def test_the_unpickle_budget_follows_the_video_with_a_floor_and_a_ceiling(monkeypatch):
    from permask.inputs.limits import DecodeLimits, unpickle_budget

    limits = DecodeLimits()
    assert unpickle_budget(limits, None) == unpickle_budget(limits, 1000) == 64 * 2**20
    assert unpickle_budget(limits, 8 * 2**20) == 64 * 8 * 2**20
    assert unpickle_budget(limits, 10 * 2**30) == 2**30
    for pages in (2**20, 2**30):  # 4 GiB and 4 TiB of memory: the same budget
        monkeypatch.setattr(os, "sysconf", lambda name, p=pages: 4096 if "PAGE" in name else p)
        assert unpickle_budget(DecodeLimits.for_this_machine(), 1000) == 64 * 2**20


def test_the_pickled_entries_of_one_file_share_one_budget(tmp_path):
    """Two pickled entries of 40 MiB each fit the 64 MiB floor one at a time, not together."""
    from permask.inputs.npz import load_npz_safely

    path = hostile.write_npz(tmp_path / "two.npz", {
        "a": hostile.object_array_with_raw_item(hostile.reconstruct_ops(40 * 2**20)),
        "b": hostile.object_array_with_raw_item(hostile.reconstruct_ops(40 * 2**20))})
    assert load_npz_safely(path, keys=["a"])["a"].nbytes == 40 * 2**20
    with pytest.raises(UnsafePickleError, match="bytes left of the file's budget"):
        load_npz_safely(path)


def test_npy_header_declaring_a_terabyte_is_refused(tmp_path):
    arrays = with_masks(small_masks())
    arrays["depths"] = hostile.huge_header_member((10**12,), "<f4")
    path = hostile.write_npz(tmp_path / "header.npz", arrays)
    refused(path, tmp_path / "out", InputFileError, str(path), "depths", "header declares")


def test_a_decompression_bomb_under_a_used_key_is_refused_before_inflating(tmp_path):
    others = {k: v for k, v in with_masks(small_masks()).items() if k != "rgbs"}
    path = hostile.write_zero_bomb(tmp_path / "bomb.npz", "rgbs", 400 * 2**20, others,
                                   shape=(2, 5, 40, 699051, 3))
    refused(path, tmp_path / "out", InputFileError, str(path), "rgbs", "inflates")


def test_a_mask_that_inflates_far_beyond_its_video_is_refused(tmp_path):
    """Masks cannot be judged by their ratio (sparse masks compress ~1000x): beside a small
    video, a mask member declaring 400 MiB is refused before inflating."""
    others = {k: v for k, v in SMALL_SCENE.items() if k not in ("sam2_masks", "sam2_contact_frames")}
    path = hostile.write_zero_bomb(tmp_path / "bomb.npz", "sam2_masks/instance_0", 400 * 2**20,
                                   others, shape=(2, 5, 32 * 1024, 40 * 64))
    refused(path, tmp_path / "out", InputFileError, str(path), "sam2_masks/instance_0",
            "the video's", "max_relative_size")


def test_members_the_run_does_not_use_are_never_read(tmp_path, monkeypatch):
    from permask.inputs import npz

    path = tmp_path / "extra.npz"
    hostile.write_npz(path, {**with_masks(small_masks()), "unused_junk": np.zeros(10, np.uint8)})
    read = []
    real = npz._read_member
    monkeypatch.setattr(npz, "_read_member",
                        lambda zf, info, *a: read.append(info.filename) or real(zf, info, *a))
    run_on(path, tmp_path / "out")
    assert read and "unused_junk.npy" not in read


def test_an_encrypted_member_is_one_line(tmp_path):
    path = hostile.write_npz(tmp_path / "enc.npz", with_masks(small_masks()))
    data = bytearray(path.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the 'encrypted' flag on every header
        start = 0
        while (i := data.find(sig, start)) >= 0:
            flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
            data[flag_at] |= 1
            start = i + 4
    path.write_bytes(bytes(data))
    refused(path, tmp_path / "out", InputFileError, str(path))


def test_limits_are_config_keys(tmp_path):
    path = tmp_path / "scene.npz"
    np.savez(path, **with_masks(small_masks()))
    refused(path, tmp_path / "out", InputFileError, "over the limit", "max_member_bytes",
            overrides=("input.limits.max_member_bytes=1000",))


# ------------------------------------------------------------------ faults while writing


def test_disk_full_while_writing_an_npz_is_one_line_and_leaves_nothing_half_written(
        tmp_path, monkeypatch, small_demo_path):
    out = tmp_path / "out"
    real = np.savez_compressed

    def full(file, *args, **kwargs):
        real(file, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(OutputError, match="no space left on the device"):
        run_on(small_demo_path, out)
    assert not [p for p in files_under(out) if p.name.endswith(".tmp")]
    assert not (out / "metrics.json").exists()


def test_a_rerun_write_error_is_one_line(tmp_path, monkeypatch, small_demo_path):
    import rerun as rr

    def broken(self, *args, **kwargs):
        raise RuntimeError("Failed to write: No space left on device (os error 28)")

    monkeypatch.setattr(rr.RecordingStream, "flush", broken)
    with pytest.raises(OutputError, match=r"\.rrd: cannot write: Failed to write"):
        run_on(small_demo_path, tmp_path / "out", "record.enabled=true")
    assert not [p for p in files_under(tmp_path / "out") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------ options checked at start


@pytest.mark.parametrize("override,key", [("query.max_points=-5", "query.max_points"),
                                          ("temporal_stride=0", "temporal_stride"),
                                          ("query.depth_min=60", "query.depth_min"),
                                          ("metrics.distances=[]", "metrics.distances")])
def test_out_of_range_values_fail_before_any_work(override, key, tmp_path, small_demo_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=key):
        run_on(small_demo_path, out, override)
    assert not out.exists()
