"""The command line of `permask inspect` (also `python -m permask.inspect`).

    permask inspect [FILE] [--mask-key KEY] [--json]      what FILE holds (no FILE: the demo)
    permask inspect FILE --extract ID -o OUT.npz           one instance as its own recording
    permask inspect DIR_OR_FILE [...] --verify [--json]    check a run's instance files

A file a run would refuse gets the run's own one-line error (`permask: error: ...`), exit 2;
`--verify` prints one line per problem and exits 2 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from permask.errors import PermaskError, unexpected_failure

PROG = "permask inspect"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Look at an input NPZ before a run: members, cameras, masks, "
        "instances and what run.py would do with it. Reads it as a run does (no pickle code).")
    p.add_argument("paths", nargs="*", metavar="FILE",
                   help="the recording (default: the built-in demo scene); with --verify: "
                        "instance files or folders holding them (a run's output folder)")
    p.add_argument("--mask-key", metavar="KEY",
                   help="where the masks are (default: input.mask_key if the file has it, else "
                        "the one key named like masks)")
    p.add_argument("--depth-scale", metavar="M", type=float,
                   help="metres per stored depth unit, as input.depth_scale (0.001: integer "
                        "depth in millimetres; default: input.depth_scale)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--extract", metavar="ID", help="write instance ID to its own file (-o)")
    p.add_argument("-o", "--output", metavar="OUT.npz", help="where --extract writes")
    p.add_argument("--verify", action="store_true",
                   help="check instance files: one line per problem, exit 2 if any")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run `permask inspect ARGV`; returns the exit status (0, or 2 on a problem)."""
    p = parser()
    args = p.parse_args(argv)
    if args.verify and (not args.paths or args.extract):
        p.error("--verify needs at least one FILE or folder, and no --extract")
    if not args.verify and len(args.paths) > 1:
        p.error("give one FILE (several only with --verify)")
    if bool(args.extract) != bool(args.output):
        p.error("--extract ID and -o OUT.npz go together")
    for stream in (sys.stdout, sys.stderr):  # odd ids in messages never crash the printing
        stream.reconfigure(errors="backslashreplace")
    try:
        if args.verify:
            return _verify(args.paths, args.json)
        return _inspect(args)
    except PermaskError as err:
        print(f"permask: error: {err}", file=sys.stderr)
    except (MemoryError, RecursionError, OSError) as err:
        print(f"permask: error: {unexpected_failure(err)}", file=sys.stderr)
    return 2


def run_config(depth_scale: float | None = None):
    """The config `python run.py` composes with no overrides (conf/ and any local settings), or
    with `input.depth_scale` given: its query budget, decode limits, depth source, depth unit
    and mask key are what inspect reports on."""
    from permask.api import compose

    return compose(*([] if depth_scale is None else [f"input.depth_scale={depth_scale}"]))


def _inspect(args: argparse.Namespace) -> int:
    from permask.pipeline import input_path

    cfg = run_config(args.depth_scale)
    path = Path(args.paths[0]) if args.paths else input_path(cfg)  # the demo, as run.py
    if args.extract:
        return _extract(path, cfg, args)
    from permask.inspect.summary import summarize

    summary = summarize(path, cfg, args.mask_key, demo=not args.paths)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        from permask.inspect.printed import print_summary

        print_summary(summary)
    return 0


def _extract(path: Path, cfg, args: argparse.Namespace) -> int:
    from permask.inspect.instance_tools import extract_instance
    from permask.inspect.summary import read_input, run_command

    _, _, key, scene = read_input(path, cfg, args.mask_key)
    out = extract_instance(scene, key, args.extract, args.output)
    command = run_command(args.output, key, cfg, None)  # the instance file stores metres
    mask = scene.masks[args.extract]
    if args.json:
        print(json.dumps({"file": str(out), "instance_id": args.extract, "mask_key": key,
                          "command": command}, indent=1))
    else:
        print(f"wrote {out}: {args.extract}, {mask.shape[0]} view(s) x {mask.shape[1]} frames, "
              f"{int(mask.sum())} mask pixels")
        print(f"track it: {command}")
    return 0


def _verify(paths: list[str], as_json: bool) -> int:
    from permask.inspect.instance_tools import verify_paths

    checked = verify_paths(paths)
    bad = [c for c in checked if c.problems]
    if as_json:
        print(json.dumps({"files": [c.as_dict() for c in checked], "problems": len(bad)},
                         indent=1))
    else:
        for c in checked:
            if not c.problems:
                print(f"ok      {c.path} ({c.instance_id})")
        for c in bad:
            for problem in c.problems:
                print(f"permask: error: {problem}", file=sys.stderr)
        print(f"checked {len(checked)} instance file(s): {len(checked) - len(bad)} ok, "
              f"{len(bad)} with problems")
    return 2 if bad else 0
