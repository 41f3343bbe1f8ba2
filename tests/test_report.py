"""The end-of-run table a person reads: whole headers on an 80-column terminal, plain text in
files (the run's log)."""

from __future__ import annotations

from rich.console import Console

from permask.logs import plain_text
from permask.pipeline import InstanceOutcome, RunReport
from permask.report import GT_COLUMNS, GT_FREE_COLUMNS, print_report

FIGURES = {"points": 300, "visible_at_end": 0.9, "tracked_at_end": 0.85, "mask_adherence": 0.97,
           "AJ": 0.633, "delta_avg": 0.744, "OA": 0.964, "median_error_cm": 1.5}


def _report():
    outcomes = {f"instance_{i}": InstanceOutcome(f"instance_{i}", None, None, FIGURES, {})
                for i in range(3)}
    return RunReport("/out", "demo", "lk", outcomes, {}, {}, FIGURES, [])


def test_every_header_is_whole_at_80_columns():
    text = plain_text(lambda console: print_report(_report(), console), width=80)
    header = next(line for line in text.splitlines() if "instance" in line and "points" in line)
    for _, name, _ in GT_FREE_COLUMNS + GT_COLUMNS:
        assert name in header, (name, header)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80


def test_plain_text_has_no_escapes():
    text = plain_text(lambda console: print_report(_report(), console))
    assert "\x1b" not in text and "overall" in text


def test_terminal_output_keeps_its_style():
    console = Console(width=100, force_terminal=True, color_system="standard", record=True)
    print_report(_report(), console)
    assert "\x1b[" in console.export_text(styles=True)
