"""One function makes file-name parts from ids and names read from files or overrides."""

from __future__ import annotations

import hashlib
import re

MAX_PART_CHARS = 64  # a name part; whole file names stay far below every file system's 255 bytes
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(text: str, max_chars: int = MAX_PART_CHARS) -> str:
    """A readable, portable file-name part for `text` (an instance id, a base name, a tracker).

    Plain names (`[A-Za-z0-9._-]`, not starting with a dot, at most `max_chars`) are kept as they
    are. Anything else keeps its safe characters (others become `_`, a leading dot becomes `_`),
    is cut to fit and gets `-` plus 8 hex digits of the original's sha256, so two different texts
    never share a name part. The result never contains a path separator, is never `.`/`..` or
    empty, and holds only ASCII.
    """
    text = str(text)
    cleaned = _UNSAFE.sub("_", text)
    cleaned = re.sub(r"^\.", "_", cleaned)
    if cleaned == text and text and len(text) <= max_chars:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[: max_chars - 9]}-{digest}"
