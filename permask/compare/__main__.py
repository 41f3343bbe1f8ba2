"""The command line: `python -m permask.compare DIR [DIR ...] [-o OUT] [--no-recording]
[--no-plots]` (see `permask.compare`). Prints the headline tables and where the files are; exit
status 2 with one error line when there is nothing to compare or a run cannot be read."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from permask.compare.runs import CompareError
from permask.compare.sweep import compare


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m permask.compare",
        description="Compare trackers per mask across run folders (or sweep folders holding runs).")
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="a run's output folder, or a folder above runs (e.g. a sweep folder)")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="where to write (default: the single DIR given, else ./comparison)")
    parser.add_argument("--no-recording", action="store_true",
                        help="skip the merged cross-run .rrd (no scene loading)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output) if args.output else (
        Path(args.dirs[0]) if len(args.dirs) == 1 else Path("comparison"))
    try:
        comp = compare(args.dirs, out, recording=not args.no_recording, plots=not args.no_plots)
    except CompareError as err:
        print(f"permask.compare: error: {err}", file=sys.stderr)
        return 2
    from permask.compare.printed import print_comparison

    print_comparison(comp, show_files=False)
    print(f"compared {len(comp.runs)} run(s): {', '.join(comp.columns)}; "
          f"{len(comp.rows)} instance(s)")
    for kind, path in comp.files.items():
        print(f"  {kind:18s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
