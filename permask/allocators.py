"""Process-wide allocator settings: freed buffers go back to the operating system at once.

A run's large arrays are short-lived: each instance's dilated masks and masked video, the
columns Rerun encodes for each file. By default both allocators in the process keep freed memory
for reuse, so the resident size after the first instance stays near its peak and later stages
stack on top of it (`benchmarks/memory.py` measured 2.4x the decoded scene for one instance).

- glibc `malloc` (numpy's buffers): blocks of at least `mmap_threshold` bytes always come from
  their own mapping and are unmapped on free. Setting the threshold also stops glibc raising it
  after each free, which otherwise moves every later video-sized array onto the heap, where it
  is kept.
- mimalloc inside `rerun-sdk` (the encoder and file writer): `MIMALLOC_PURGE_DELAY=0` returns
  freed pages at once instead of after a delay that a busy writer keeps extending. mimalloc reads
  it when Rerun's library loads, so call `release_freed_memory_promptly` before importing rerun.

Variables already set in the environment win, so a user can still tune either allocator.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
DEFAULT_MMAP_THRESHOLD = 1 << 20  # bytes; smaller blocks stay on the (fast, reused) heap


def release_freed_memory_promptly(mmap_threshold: int = DEFAULT_MMAP_THRESHOLD) -> bool:
    """Apply both settings to this process. Returns True when glibc accepted the threshold
    (False elsewhere: other C libraries, or `MALLOC_MMAP_THRESHOLD_` set by the user)."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
