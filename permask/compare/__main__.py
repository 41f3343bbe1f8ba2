"""The command line: `python -m permask.compare DIR [DIR ...] [-o OUT] [--no-recording]
[--no-plots] [--select METRIC]` (see `permask.compare`; `--select`: `permask.compare.best`).
Prints the headline tables and where the files are; exit status 2 with one error line when there
is nothing to compare, a run cannot be read, or the selection metric is unknown or missing."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from permask.compare.runs import CompareError
from permask.compare.sweep import compare
from permask.errors import PermaskError


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
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=None,
                        help="side-by-side MP4 per camera, one panel per run (default: when the "
                             "runs wrote videos)")
    parser.add_argument("--select", metavar="METRIC",
                        help="also write OUT/best/: per mask the winning run's tracks by METRIC "
                             "(aj, median_error, mask_adherence, ...; auto: aj with ground "
                             "truth, else mask_adherence)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output) if args.output else (
        Path(args.dirs[0]) if len(args.dirs) == 1 else Path("comparison"))
    try:
        if args.select:
            from permask.compare.select import resolve_metric

            resolve_metric(args.select)  # an unknown name fails before any work
        comp = compare(args.dirs, out, recording=not args.no_recording, plots=not args.no_plots,
                       video=args.video)
        if args.select:
            from permask.compare.best import write_best

            best = write_best(comp.runs, out, args.select, recording=not args.no_recording)
            comp.files.update({f"best_{k}": v for k, v in best.items()
                               if not k.startswith(("tracked_", "metrics"))})
    except (CompareError, PermaskError) as err:
        print(f"permask.compare: error: {err}", file=sys.stderr)
        return 2
    from permask.compare.printed import print_comparison

    print_comparison(comp, show_files=False)
    print(f"compared {len(comp.runs)} run(s): {', '.join(comp.columns)}; "
          f"{len(comp.rows)} instance(s)")
    for kind, path in comp.files.items():
        print(f"  {kind:18s} {path}")
    if args.select:
        from permask.compare.best import summary_lines

        print("\n".join(summary_lines(best)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
