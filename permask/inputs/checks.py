"""The error context and the small checks every input reader shares.

`Ctx` carries the file name (and every key of the file) so each problem raises an
`InputFormatError` naming the file, the key and the problem; `numeric`, `shape_error` and
`check_vt` are the array checks the per-key readers build on; `shown` / `key_text` make values
safe for one-line messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from permask.errors import InputFormatError


class Ctx:
    """Carries the source name so every error names the file."""

    def __init__(self, source: str, keys: list[str] | None = None):
        self.source = source
        self.keys = keys or []  # every key of the file, for messages (arrays may be consumed)

    def error(self, key: str | None, problem: str, fix: str | None = None) -> InputFormatError:
        return InputFormatError(problem, file=self.source, key=key, fix=fix)


def positive_int(value: Any, name: str, ctx: Ctx) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ctx.error(None, f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def key_summary(arrays: dict[str, Any] | list[str]) -> str:
    """Top-level key names, collapsing `a/b` members to `a/*`."""
    names: list[str] = []
    for key in arrays:
        name = key.split("/", 1)[0] + "/*" if "/" in key else key
        if name not in names:
            names.append(name)
    return ", ".join(names) if names else "(none)"


def numeric(value: Any, key: str, ctx: Ctx, kinds: str = "biuf") -> np.ndarray:
    """`value` as a numeric ndarray (dtype kind in `kinds`), else InputFormatError."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ctx.error(key, f"not an array ({err})") from None
    if array.dtype.kind not in kinds:
        raise ctx.error(key, f"expected a numeric array, got dtype {array.dtype}")
    return array


def shape_error(key: str, expected: str, array: np.ndarray, ctx: Ctx) -> InputFormatError:
    return ctx.error(key, f"expected shape {expected}, got {list(array.shape)}")


def check_vt(key: str, shape: tuple[int, ...], V: int, T: int | None, ctx: Ctx) -> None:
    """Views (and frames, unless T is None) of `key` must agree with depths."""
    if shape[0] != V:
        raise ctx.error(key, f"has V={shape[0]} views but depths has V={V}")
    if T is not None and shape[1] != T:
        raise ctx.error(key, f"has T={shape[1]} frames but depths has T={T}")


def shown(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: ASCII, escaped, cut to `limit` characters."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_text(value: Any) -> str:
    """A dict key as part of a key path in messages: as it is when plain, else escaped."""
    text = str(value) if isinstance(value, (str, int, np.integer)) else ""
    return text if text and text.isprintable() and len(text) <= 60 else shown(value)
