"""How a process asks glibc and numpy for memory, by the kind of job.

A streaming job (the front end) hands its large, short-lived frame buffers back to the system and trims its free
pages now and then, so that its memory stays flat over an hour of video (:mod:`hyp_face.video.prefetch`).

A short batch job (a back-end) is the opposite: it allocates and frees the same few hundred MB of numpy
temporaries again and again, then exits. :func:`keep_freed_memory` keeps what it frees for the next allocation and
asks for ordinary 4 kB pages. On a virtual machine whose host takes back the guest's free memory (free page
reporting, as on this project's 2-core machines), every fresh page costs the host a fault of its own, and numpy's
default (huge pages for each large array, given back when it is freed) made back-end runs spend up to 1 s more in
the kernel, at random: ``steps/eval_be.sh`` v9 plain, 5 runs, 0.95-1.96 s with the defaults and 0.99-1.40 s with
this policy; v4 faithful s-norm 11.4-11.5 s and 8.8-9.5 s (README, back-end benchmark).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import numpy as np

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
LARGE_BUFFER = 4 * 2**20  # bytes; a streaming job maps and unmaps buffers this large on their own
_NEVER_TRIM = 2**31 - 1  # bytes of free heap top before glibc gives any back (mallopt takes an int)


@cache
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@cache
def return_large_frees() -> bool:
    """Streaming-job policy: fix glibc's mmap threshold at ``LARGE_BUFFER`` (once per process), so such buffers go
    back to the system when freed; False where there is no glibc."""
    libc = glibc()
    return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER))


def trim_free_memory() -> None:
    """Hand the free pages of glibc's arenas back to the system (no-op elsewhere)."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)


def keep_freed_memory() -> bool:
    """Batch-job policy: glibc serves every allocation from its heaps and never gives freed memory back before the
    process ends, and numpy stops asking for huge pages. Call it before the large allocations; it does not change
    any result. Returns False where there is no glibc (numpy's part still applies)."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    core.multiarray._set_madvise_hugepage(False)
    libc = glibc()
    return bool(libc and libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
