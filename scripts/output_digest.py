"""One sha256 per run over everything a run computes, to prove a change leaves outputs alone.

Runs `python run.py` into a temporary folder (progress off) on the built-in demo, on
`tracker=static`, on the real clip `../shared/data/badja/camel.npz` (its own query points) and on
the demo with videos, and prints one digest per run over:

- every member of every output NPZ (instance, query and tracked files), strings with the temporary
  folder replaced by `<TMP>`;
- `metrics.json` parsed, without the input's path, and `metrics.md`;
- every Rerun recording's logged data, read back chunk by chunk (entity, static or not, frame,
  component, value), leaving out row ids, the recording's start time and the blueprint;
- the videos' decoded frames, and the list of files the run wrote (without Hydra's record,
  the log and the lock).

Usage: python scripts/output_digest.py [--without-fingerprints] [NAME ...]
(names: demo static camel video; default all). --without-fingerprints leaves out the tracked
files' `fingerprint` member: the hash of the settings that resume compares, not a result (it
changes when the set of settings that never change a result does).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "demo": [],
    "static": ["tracker=static"],
    # the clip's resolved path: the same in every checkout (it is written into some outputs)
    "camel": [f"input.npz={(ROOT.parent / 'shared/data/badja/camel.npz').resolve()}",
              "query=npz"],
    "video": ["video=true", "video_settings.per_instance=true"],
}
VOLATILE_COLUMNS = {"rerun.controls.RowId", "RecordingInfo:start_time"}
SKIPPED = {".hydra", ".permask", "run.log"}


def _update(digest, label: str, payload: bytes) -> None:
    digest.update(label.encode() + b"\0" + hashlib.sha256(payload).digest())


def _npz(digest, path: Path, tmp: str, skipped: set[str]) -> None:
    with np.load(path, allow_pickle=False) as data:
        for name in sorted(set(data.files) - skipped):
            value = data[name]
            if value.dtype.kind == "U":
                payload = "\n".join(map(str, value.ravel())).replace(tmp, "<TMP>").encode()
            else:
                payload = np.ascontiguousarray(value).tobytes()
            _update(digest, f"{path.name}:{name}:{value.dtype}:{value.shape}", payload)


def _arrow_bytes(array) -> bytes:
    """A canonical byte string of a (sliced) arrow array: lengths, validity and leaf values."""
    import pyarrow as pa

    kind = array.type
    nulls = np.asarray(array.is_null().to_numpy(zero_copy_only=False), bool).tobytes()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        lengths = np.asarray(array.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
        return nulls + lengths.astype(np.int64).tobytes() + _arrow_bytes(array.flatten())
    if pa.types.is_struct(kind):
        return nulls + b"".join(_arrow_bytes(child) for child in array.flatten())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        values = np.asarray(array.to_numpy(zero_copy_only=False))
        return nulls + np.where(np.asarray(array.is_null()), 0, values).tobytes()
    return nulls + repr(array.to_pylist()).encode()


def _rrd(digest, path: Path) -> None:
    from rerun.chunk import RrdReader

    reader = RrdReader(path)
    for store in reader.recordings():
        rows = []  # (entity, static, frame, column, row id, bytes)
        for chunk in reader.stream(store=store):
            batch = chunk.to_record_batch()
            names = batch.schema.names
            row_ids = batch.column("rerun.controls.RowId").to_pylist()
            frames = (batch.column("frame").to_pylist() if "frame" in names
                      else [None] * batch.num_rows)
            for name in names:
                if name in VOLATILE_COLUMNS or name == "frame":
                    continue
                column = batch.column(name)
                for i in range(batch.num_rows):
                    rows.append((chunk.entity_path, chunk.is_static, -1 if frames[i] is None
                                 else frames[i], name, str(row_ids[i]),
                                 _arrow_bytes(column.slice(i, 1))))
        rows.sort(key=lambda r: r[:5])  # the row id orders rows logged at the same key
        for entity, static, frame, name, _, payload in rows:
            _update(digest, f"{path.name}:{entity}:{static}:{frame}:{name}", payload)


def _video(digest, path: Path) -> None:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            _update(digest, f"{path.name}:{frames}", frame.tobytes())
            frames += 1
    finally:
        cap.release()


def run_digest(name: str, skipped_members: set[str] = frozenset()) -> str:
    with tempfile.TemporaryDirectory(prefix="permask-digest-") as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "run.py", *RUNS[name], f"output_dir={out}",
                   f"sweep_dir={tmp}/sweep", "progress=false"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name}: exit {done.returncode}\n{done.stderr}")
        digest = hashlib.sha256()
        files = sorted(p for p in out.rglob("*")
                       if p.is_file() and not SKIPPED & set(p.relative_to(out).parts))
        _update(digest, "files", "\n".join(str(p.relative_to(out)) for p in files).encode())
        for path in files:
            if path.suffix == ".npz":
                _npz(digest, path, tmp, skipped_members)
            elif path.suffix == ".rrd":
                _rrd(digest, path)
            elif path.suffix == ".mp4":
                _video(digest, path)
            elif path.name == "metrics.json":
                metrics = json.loads(path.read_text())
                metrics.pop("input", None)
                _update(digest, path.name, json.dumps(metrics, sort_keys=True).encode())
            else:  # metrics.md, the view script
                _update(digest, path.name, path.read_text().replace(tmp, "<TMP>").encode())
        return digest.hexdigest()


def main(args: list[str]) -> None:
    skipped = {"fingerprint"} if "--without-fingerprints" in args else set()
    for name in [a for a in args if not a.startswith("--")] or list(RUNS):
        print(f"{name:7s} {run_digest(name, skipped)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
