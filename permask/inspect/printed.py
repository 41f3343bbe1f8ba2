"""`permask inspect` for a person: the summary (`permask.inspect.summary`) as text that fits an
80-column terminal (rich tables, long cells wrapped, no markup taken from the file's names)."""

from __future__ import annotations

import io
import sys
import textwrap
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from permask.inspect.summary import MASK_FORMS

WIDTH = 80


def render(summary: dict[str, Any]) -> str:
    """The summary as text lines of at most 80 columns (a long path or command may run over)."""
    buffer = io.StringIO()
    # plain text: ids and keys from the file are shown as they are, never as rich markup,
    # emoji codes or highlighted tokens
    out = Console(file=buffer, width=WIDTH, markup=False, emoji=False, highlight=False,
                  color_system=None)
    for part in _parts(summary):
        if isinstance(part, Table):
            out.print()
        out.print(part, soft_wrap=isinstance(part, str))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def print_summary(summary: dict[str, Any]) -> None:
    sys.stdout.write(render(summary))


def _parts(summary: dict[str, Any]) -> list[Any]:
    return [
        summary["file"],
        f"  {_size(summary['size_bytes'])}, {len(summary['members'])} members, "
        f"content fingerprint {summary['fingerprint']}",
        _members_table(summary["members"]),
        "",
        _scene_lines(summary),
        _cameras_table(summary),
        *_camera_lines(summary),
        _instances_table(summary),
        *_run_lines(summary),
    ]


def _table(*headers: str, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1), collapse_padding=True)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _members_table(members: list[dict[str, Any]]) -> Table:
    table = _table("member", "shape", "dtype", "stored", "inflated")
    for m in members:
        shape = "?" if m["shape"] is None else "[" + ",".join(map(str, m["shape"])) + "]"
        table.add_row(m["key"], shape, m["dtype"] or f"unreadable: {m['problem']}",
                      _size(m["stored_bytes"]), _size(m["bytes"]))
    return table


def _scene_lines(s: dict[str, Any]) -> str:
    hm, wm = s["mask_size"]
    gt = s["ground_truth"]
    qp = s["query_points"]
    return "\n".join([
        f"scene        {s['views']} view(s) x {s['frames']} frames, depth {s['height']} x "
        f"{s['width']} (H x W), masks {hm} x {wm}",
        f"masks        '{s['mask_key']}': "
        + " + ".join(MASK_FORMS[f] for f in s["mask_form"].split("+") if f)
        + f"; {len(s['instances'])} instance(s)",
        "ground truth " + (f"gt_object_poses for {len(gt)} instance(s)" if gt else "none"),
        "query_points " + (f"{qp} point(s) (used with query=npz)" if qp is not None else "none"),
    ])


def _cameras_table(s: dict[str, Any]) -> Table:
    table = _table("view", "depth ok", "depth (m)", "fx", "fy", "cx", "cy", "hfov",
                   "position (m)")
    for c in s["cameras"]:
        span = "-" if c["depth_min"] is None else f"{c['depth_min']:.2f}-{c['depth_max']:.2f}"
        table.add_row(c["id"], f"{c['depth_valid']:.1%}", span, *(f"{c[k]:.1f}" for k in
                                                            ("fx", "fy", "cx", "cy")),
                      f"{c['hfov_deg']:.0f}", " ".join(f"{x:+.2f}" for x in c["position"]))
    return table


def _camera_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    gaps = s["baseline_m"]
    moving = [c["id"] for c in s["cameras"] if c["pose_changes"]]
    zooming = [c["id"] for c in s["cameras"] if c["intrinsics_change"]]
    text = (f"baseline     {gaps['min']:.3f} m (closest pair) to {gaps['max']:.3f} m "
            "(farthest pair) at frame 0" if gaps else "baseline     one view: none")
    lines.append(text)
    lines.append("cameras      " + (f"pose changes over time: {', '.join(moving)}" if moving
                                    else "static poses")
                 + (f"; intrinsics change: {', '.join(zooming)}" if zooming else ""))
    lines += [textwrap.fill(note, WIDTH, initial_indent="check        ",
                            subsequent_indent=" " * 13) for note in s["checks"]]
    return lines


def _instances_table(s: dict[str, Any]) -> Table:
    run = s["run"]
    gt = bool(s["ground_truth"])
    table = _table("instance", "px per view, frame 0", "queries", "empty frames",
                   "contact per view",
                   *(["gt"] if gt else []))
    for inst in s["instances"]:
        iid = inst["id"]
        table.add_row(iid, " ".join(map(str, inst["pixels_frame0"])),
                      "skip" if iid in run["skipped"] else str(run["queries"].get(iid)),
                      _empty_text(inst), _contact_text(inst["contact_frames"], [c["id"] for c in s["cameras"]]),
                      *(["yes" if inst["ground_truth"] else "no"] if gt else []))
    return table


def _empty_text(inst: dict[str, Any]) -> str:
    """Frames without a pixel in every view, then the views whose own empty frames differ."""
    everywhere = inst["empty_frames"]
    parts = [f"all views: {frame_ranges(everywhere)}"] if everywhere else []
    for cam, frames in inst["empty_frames_per_view"].items():
        if frames != everywhere:
            parts.append(f"{cam}: {frame_ranges(frames)}")
    return "; ".join(parts) or "none"


def _contact_text(contact: dict[str, int], camera_ids: list[str]) -> str:
    """Contact frames in view order ('-' where a view has none), or '-' when there are none."""
    if not contact:
        return "-"
    return " ".join(str(contact.get(cam, "-")) for cam in camera_ids)


def _run_lines(s: dict[str, Any]) -> list[str]:
    run = s["run"]
    tracked = len(s["instances"]) - len(run["skipped"])
    lines = ["", f"run.py       {tracked} of {len(s['instances'])} instance(s) tracked "
             f"(query={run['query_mode']}, max {run['max_points']} points):",
             f"  {run['command']}"]
    lines += [f"             skips {iid}: {why}" for iid, why in run["skipped"].items()]
    return lines


def frame_ranges(frames: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    if not frames:
        return "none"
    parts, start, prev = [], frames[0], frames[0]
    for t in [*frames[1:], None]:
        if t is not None and t == prev + 1:
            prev = t
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if t is not None:
            start = prev = t
    return ", ".join(parts)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
