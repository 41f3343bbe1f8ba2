"""Instance ids as a file names them: validated text, and one id per instance.

An id comes from a dict key or a member name (str, int or UTF-8 bytes); it must be printable, not
empty and at most MAX_ID_CHARS long. Two raw keys naming one id (0 and '0'), or two ids equal
after natural sorting (instance_1, instance_01), are refused: one instance would be lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from permask.ids import natural_key
from permask.inputs.checks import Ctx, key_text, shown

MAX_ID_CHARS = 1000  # longer ids are refused (file names are cut and hashed far below this)


def instance_id_of(value: Any, key: str, ctx: Ctx) -> str:
    """An instance id from a dict key or member name: str, int or UTF-8 bytes; printable
    (no control characters, no lone surrogates), not empty, at most MAX_ID_CHARS."""
    if isinstance(value, (bytes, np.bytes_)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ctx.error(key, f"instance id {shown(value)} is not UTF-8 text") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        raise ctx.error(key, f"instance id {shown(value)} is a {type(value).__name__}, "
                             "expected a string or an integer")
    text = str(value)
    if not text or len(text) > MAX_ID_CHARS:
        raise ctx.error(key, f"instance id {shown(text)} is empty or longer than "
                             f"{MAX_ID_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ctx.error(key, f"instance id {shown(text)} is not valid Unicode") from None
    if any(not ch.isprintable() and ch != " " for ch in text):
        raise ctx.error(key, f"instance id {shown(text)} contains control characters")
    return text


def ids_of(mapping: dict, key: str, ctx: Ctx) -> dict[str, Any]:
    """{raw key: value} -> {instance id: value}; two keys naming one id (0 and '0') are refused."""
    out: dict[str, Any] = {}
    raw_of: dict[str, Any] = {}
    for raw, value in mapping.items():
        iid = instance_id_of(raw, f"{key}/{key_text(raw)}", ctx)
        if iid in out:
            raise ctx.error(key, f"keys {shown(raw_of[iid])} and {shown(raw)} both name "
                                 f"instance {shown(iid)}; one would be lost",
                            fix="give every instance a distinct id")
        out[iid], raw_of[iid] = value, raw
    return out


def check_distinct_ids(ids: list[str], mask_key: str, ctx: Ctx) -> None:
    """Ids that sort to the same natural key (instance_1, instance_01) would collide in file
    names and order: refuse them."""
    seen: dict[tuple, str] = {}
    for iid in ids:
        other = seen.setdefault(natural_key(iid)[:-1], iid)  # without the plain-string tiebreak
        if other != iid:
            raise ctx.error(mask_key, f"instance ids {shown(other)} and {shown(iid)} are the same after "
                                      "natural sorting", fix="rename one of them")
