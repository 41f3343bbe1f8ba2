"""What the tests share: composed configs and in-process runs (`runs`), the small-demo overrides
(`overrides`), hand-made scenes with known geometry (`scenes`), the broken-input corpus
(`bad_inputs`), the stand-in learned models (`standins`) and `python run.py` in a subprocess
(`runners`). Test modules import from here, never from one another."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (run.py, conf/, README.md)."""
