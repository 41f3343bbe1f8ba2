"""Bounds on what reading one input NPZ may inflate (`DecodeLimits`; config: `input.limits`).

`permask.inputs.npz` checks a member's declared size and compression ratio against them before
inflating it; `permask.inputs.safe_pickle` bounds what a pickled entry may allocate and how deep
it may nest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on what reading one NPZ may inflate (config: `input.limits`).

    max_member_bytes: largest declared (uncompressed) size of one member.
    max_total_bytes: sum over the members read.
    Where the file holds a video (`scale_keys`: rgbs, depths), it sets the scale:
    max_ratio: largest uncompressed/compressed ratio of a video member over `floor_bytes` (real
        video compresses 2-20x, zeros about 1000x);
    max_relative_size: every other member over `floor_bytes` may declare at most this many times
        the video's size (masks at 4x resolution, label maps, dozens of pickled instance masks
        fit; a mask that inflates to gigabytes beside a small video does not). Masks cannot be
        judged by their ratio: sparse masks really compress a thousand times.
    max_depth: deepest nesting of lists/dicts in a pickled entry.
    max_unpickled_bytes: ceiling on what the pickled entries of one file may allocate in all
        (see `unpickle_budget`: the budget follows the file's own video, never the machine).
    """

    max_member_bytes: int = 8 * 2**30
    max_total_bytes: int = 16 * 2**30
    max_ratio: float = 200.0
    max_relative_size: float = 64.0
    floor_bytes: int = 64 * 2**20
    max_depth: int = 32
    max_unpickled_bytes: int = 2**30
    scale_keys: tuple[str, ...] = ("rgbs", "depths")

    @classmethod
    def for_this_machine(cls, **overrides: Any) -> "DecodeLimits":
        """Defaults that fit the machine: at most half its memory for one file."""
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            memory = 16 * 2**30
        half = max(memory // 2, 2**30)
        base = cls(max_member_bytes=min(cls.max_member_bytes, half),
                   max_total_bytes=min(cls.max_total_bytes, half))
        return cls(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})


DEFAULT_LIMITS = DecodeLimits.for_this_machine()


def unpickle_budget(limits: DecodeLimits, video_bytes: int | None) -> int:
    """Bytes the pickled entries of one file may allocate in all: `max_relative_size` times the
    file's declared video size (`video_bytes`, None when it has no video), at least
    `floor_bytes` (tiny files), at most `max_unpickled_bytes` and `max_member_bytes`.

    Masks are bounded by the video they belong to, so is everything an unpickler builds for
    them; the machine's memory plays no part (a bigger machine does not admit a bigger bomb).
    """
    relative = 0 if video_bytes is None else int(limits.max_relative_size * video_bytes)
    return min(max(limits.floor_bytes, relative), limits.max_unpickled_bytes,
               limits.max_member_bytes)
