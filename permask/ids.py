"""Instance ids in natural order (`instance_2` before `instance_10`): one order everywhere."""

from __future__ import annotations

import re
from typing import Iterable


def natural_key(text: str) -> tuple:
    """Sort key comparing digit runs as numbers: 'instance_2' < 'instance_10'.

    Ties (e.g. 'a01' vs 'a1') are broken by the plain string, so the order is total.
    """
    parts = re.split(r"(\d+)", str(text))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts) + (
        (2, 0, str(text)),)


def sort_instance_ids(ids: Iterable[str]) -> list[str]:
    """Instance ids in natural order."""
    return sorted(ids, key=natural_key)
