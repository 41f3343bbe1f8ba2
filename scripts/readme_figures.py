"""Regenerate the figures README.md and docs/*.md quote from what the code prints today.

    python scripts/readme_figures.py              # rewrite the marked blocks of every page
    python scripts/readme_figures.py --check      # exit 1 when a page differs (tests run this)
    python scripts/readme_figures.py --only lk_suite,results   # just these blocks

Each block sits between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->` in the page that
PAGES names for it.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_INSTANCES = {"instance_0": "carried, turning 110 deg", "instance_1": "slow slide, tilting",
                  "instance_2": "leaves a camera's view"}


def run_demo(tracker: str, out: Path) -> dict:
    """metrics.json of `python run.py tracker=TRACKER` on the default demo."""
    subprocess.run([sys.executable, str(ROOT / "run.py"), f"tracker={tracker}",
                    f"output_dir={out}", "progress=false", "record.enabled=false"],
                   check=True, capture_output=True, text=True)
    return json.loads((out / "metrics.json").read_text())


_DEMO_RUNS = tempfile.TemporaryDirectory()


@functools.cache
def demo_runs() -> dict[str, Path]:
    """{tracker: run folder} of `lk` and `static` on the default demo, run once for every block
    that quotes them."""
    folders = {tracker: Path(_DEMO_RUNS.name) / tracker for tracker in ("lk", "static")}
    for tracker, folder in folders.items():
        run_demo(tracker, folder)
    return folders


def demo_metrics(tracker: str) -> dict:
    return json.loads((demo_runs()[tracker] / "metrics.json").read_text())["instances"]


def demo_table() -> str:
    lk, static = demo_metrics("lk"), demo_metrics("static")
    rows = ["| instance | lk AJ | static AJ | lk delta_avg | static delta_avg | lk median err "
            "| static median err |", "|---|---|---|---|---|---|---|"]
    for iid, about in DEMO_INSTANCES.items():
        a, b = lk[iid], static[iid]
        rows.append(f"| {iid} ({about}) | {a['AJ']:.3f} | {b['AJ']:.3f} | {a['delta_avg']:.3f} "
                    f"| {b['delta_avg']:.3f} | {a['median_error_cm']:.1f} cm "
                    f"| {b['median_error_cm']:.1f} cm |")
    return "\n".join(rows)


def compare_printed() -> str:
    """The first table `python -m permask.compare` prints for the two demo runs (what
    `python run.py -m tracker=static,lk` prints at its end), in a ``` block."""
    with tempfile.TemporaryDirectory() as tmp:
        shown = subprocess.run([sys.executable, "-m", "permask.compare",
                                *map(str, demo_runs().values()), "-o", tmp, "--no-recording",
                                "--no-plots"], cwd=ROOT, check=True, capture_output=True,
                               text=True).stdout.splitlines()
    start = next(i for i, line in enumerate(shown) if line.startswith("AJ"))
    end = next(i for i, line in enumerate(shown) if line.startswith("└"))
    return "\n".join(["```", *(line.rstrip() for line in shown[start:end + 1]), "```"])


def compare_demo_table() -> str:
    """Per instance, lk against static on two ground-truth figures and two without it; the
    better of each pair in bold."""
    lk, static = demo_metrics("lk"), demo_metrics("static")
    pairs = (("AJ ↑ / median err (cm) ↓", ("AJ", 1, ".3f"), ("median_error_cm", -1, ".3g")),
             ("mask adherence ↑ / tracked@end ↑", ("mask_adherence", 1, ".3f"),
              ("tracked_at_end", 1, ".3f")),
             ("OA ↑", ("OA", 1, ".3f")))
    rows = ["| instance | metric | lk | static |", "|---|---|---:|---:|"]
    for iid, about in DEMO_INSTANCES.items():
        for n, (name, *keys) in enumerate(pairs):
            cells = {"lk": [], "static": []}
            for key, sign, fmt in keys:
                a, b = lk[iid][key], static[iid][key]
                for who, mine, other in (("lk", a, b), ("static", b, a)):
                    text = format(mine, fmt)
                    cells[who].append(f"**{text}**" if sign * (mine - other) > 0 else text)
            label = f"{iid} ({about})" if n == 0 else ""
            rows.append(f"| {label} | {name} | {' / '.join(cells['lk'])} | "
                        f"{' / '.join(cells['static'])} |")
    return "\n".join(rows)


SHARED_CLIP = "../shared/data/davis_libby.npz"  # as docs/inputs.md names it, from the checkout


def inspect_output(*args: str) -> str:
    """What `permask inspect ARGS` prints, run from the checkout, in a ```text block."""
    shown = subprocess.run([sys.executable, "-m", "permask.inspect", *args], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout
    return f"```text\n{shown.rstrip()}\n```"


def inspect_demo() -> str:
    """From the `scene` line on: the cached file's path and zip timestamps differ per machine."""
    shown = inspect_output().split("\n")
    start = next(i for i, line in enumerate(shown) if line.startswith("scene "))
    return "\n".join(["```text", "...", *shown[start:]])


def inspect_clip() -> str | None:
    return inspect_output(SHARED_CLIP) if (ROOT / SHARED_CLIP).is_file() else None


# (TAPVid-3D scaling, thresholds, the published convention it is)
MODES = [("median", "adaptive", "TAPVid-3D paper table (default scaling)"),
         ("none", "adaptive", "TAPVid-3D, metric (no rescaling)"),
         ("none", "fixed", "TAPVid-3D, fixed metric thresholds"),
         ("mean", "adaptive", ""), ("per_trajectory", "adaptive", ""),
         ("local_neighborhood", "adaptive", ""), ("median_on_queries", "adaptive", ""),
         ("reproduce_2d", "adaptive", "TAPVid-3D's 2D-equivalent thresholds")]
SHEET = {"instance_0": "sheet (deforming)", "instance_1": "ball (rigid)"}


def modes_table() -> str:
    """The `sheet` hard case with its ground truth as point tracks, tracked by lk with query=gt
    once, then re-scored in every mode (same folder: the tracks are reused)."""
    import permask
    from permask.demo.point_tracks import write

    with tempfile.TemporaryDirectory() as tmp:
        npz = write("sheet", Path(tmp) / "sheet_tracks.npz")
        out = Path(tmp) / "run"

        def scored(*overrides):
            cfg = permask.compose(f"input.npz={npz}", "query=gt", "base_name=sheet",
                                  "progress=false", "record.enabled=false", *overrides)
            permask.run(cfg, out)
            return json.loads((out / "metrics.json").read_text())

        rows = ["| mode | convention | " + " | ".join(f"{about} 3D-AJ / APD / OA"
                                                   for about in SHEET.values()) + " |",
                "|---|---|" + "---|" * len(SHEET)]
        for scaling, thresholds, convention in MODES:
            m = scored(f"metrics.scaling={scaling}", f"metrics.thresholds={thresholds}")
            cells = [" / ".join(f"{m['instances'][i][f'tapvid3d_{k}']:.3f}"
                                for k in ("AJ", "APD", "OA")) for i in SHEET]
            rows.append(f"| `scaling={scaling} thresholds={thresholds}` | {convention} | "
                        + " | ".join(cells) + " |")
        for name, keys, convention in (
                ("TAP-Vid 2D, mean over cameras", ("tapvid2d_AJ", "tapvid2d_delta_avg",
                                                   "tapvid2d_OA"), "TAP-Vid / CoTracker (AJ, <δ_avg, OA)"),
                ("MVTracker `dexycb`, %", ("mvtracker_AJ", "mvtracker_delta_avg", "mvtracker_OA"),
                 "MVTracker (AJ, δ_avg, OA)")):
            cells = [" / ".join(f"{m['instances'][i][k]:.3f}" if k.startswith("tapvid")
                                else f"{m['instances'][i][k]:.1f}" for k in keys) for i in SHEET]
            rows.append(f"| {name} | {convention} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


RESULTS = ROOT / "benchmarks" / "results"


def results_table(name: str, columns: tuple[str, ...] = ()) -> str:
    """The table of benchmarks/results/NAME.json (written by `python benchmarks/lk_suite.py`,
    with `--ablation` for lk_ablation), with the command that made it; only `columns` if given."""
    saved = json.loads((RESULTS / f"{name}.json").read_text())
    rows = saved["rows"]
    columns = list(columns or next(iter(rows.values())))
    lines = [f"`{saved['command']}`:", "", "| | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(f"{row[c]:.1f}" for c in columns) + " |"
              for label, row in rows.items()]
    return "\n".join(lines)


def lk_misses() -> str | None:
    """`python benchmarks/real_clips.py` without and with the local carry and the pull into the
    mask (needs ../shared)."""
    if not (ROOT.parent / "shared" / "data" / "badja").is_dir():
        return None
    shown = []
    for overrides in (["carry_neighbours=0", "pull_into_mask=false"], []):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "real_clips.py"), *overrides],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        table = out.strip().splitlines()
        label = " ".join(overrides) or "(today's defaults)"
        shown += ([table[0].replace("| clip |", "| lk | clip |"),
                   table[1].replace("|---|", "|---|---|", 1)] if not shown else [])
        shown += [f"| {label} " + line for line in table[2:]]
    return "\n".join(shown)


def vs_plain_lk() -> str:
    """`python benchmarks/vs_plain_lk.py` with the depth replaced by a plane (a video) and with the
    scene's depth: the means over every camera and instance of the demo."""
    rows = ["| depth | plain LK delta_avg | lk delta_avg | plain LK AJ | lk AJ | plain LK median error "
            "| lk median error |", "|---|---:|---:|---:|---:|---:|---:|"]
    for depth, label in (("plane", "a 1 m plane (`--depth plane`)"), ("real", "the scene's (`--depth real`)")):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vs_plain_lk.py"), "--depth", depth],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        means = {line.split()[1]: line.split()[-3::2] for line in out.splitlines()
                 if line.startswith("mean ")}  # key -> [plain LK, lk]
        (pd, ld), (pa, la), (pm, lm) = (means[k] for k in ("delta_avg", "AJ", "median_error_px"))
        rows.append(f"| {label} | {float(pd):.3f} | {float(ld):.3f} | {float(pa):.3f} | {float(la):.3f} "
                    f"| {float(pm):.1f} px | {float(lm):.1f} px |")
    return "\n".join(rows)


RESULTS_COLUMNS = ("camel", "cows", "real variants", "hard cases", "hard videos", "demo")
BLOCKS = {"demo": demo_table, "compare_printed": compare_printed,
          "compare_demo": compare_demo_table, "inspect_demo": inspect_demo, "inspect_clip": inspect_clip,
          "modes": modes_table, "lk_suite": lambda: results_table("lk_suite"),
          "results": lambda: results_table("lk_suite", RESULTS_COLUMNS),
          "lk_ablation": lambda: results_table("lk_ablation"), "lk_misses": lk_misses,
          "vs_plain_lk": vs_plain_lk}
# the page (relative to the checkout) that holds each block
PAGES = {"README.md": ("demo", "compare_printed", "results"), "docs/inputs.md": ("inspect_demo", "inspect_clip"),
         "docs/comparing.md": ("compare_demo", "modes"), "docs/lk.md": ("lk_suite", "lk_misses", "lk_ablation", "vs_plain_lk")}


def regenerate(page: str, text: str, only: set[str] | None = None) -> str:
    for name in PAGES[page]:
        pattern = re.compile(rf"(<!-- figures:{name} -->\n).*?(<!-- /figures:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{page} has no block figures:{name}")
        if only is not None and name not in only:
            continue
        block = BLOCKS[name]()
        if block is None:  # its input is missing here (../shared): left as it is
            continue
        text = pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on drift")
    parser.add_argument("--only", type=lambda text: set(text.split(",")), default=None,
                        metavar="NAME[,NAME]", help=f"only these blocks: {', '.join(BLOCKS)}")
    args = parser.parse_args()
    if args.only and args.only - set(BLOCKS):
        parser.error(f"no such block: {', '.join(sorted(args.only - set(BLOCKS)))}")
    drift = []
    for page in PAGES:
        old = (ROOT / page).read_text()
        new = regenerate(page, old, args.only)
        if new == old:
            continue
        if args.check:
            drift.append(page)
        else:
            (ROOT / page).write_text(new)
    if drift:
        print(f"figures in {', '.join(drift)} differ from what the code prints: run "
              "python scripts/readme_figures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
