"""glibc allocator settings for the worker processes that run pods.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` in its
environment, so that freed memory goes back to the operating system soon.
Setting that variable also freezes glibc's mmap threshold at its initial
128 KiB. Pods allocate blocks of 0.5 to 4 MiB for every chunk they compute.
With the frozen threshold, each of them is a fresh ``mmap`` whose pages the
kernel zero-fills on first touch, and ``free`` unmaps it again. On the sample
pipeline of the benchmarks, this made a worker three times slower than the
same pods in the client process.

:func:`raise_malloc_thresholds` raises both thresholds at run time with ``mallopt``,
so that blocks up to :data:`MMAP_THRESHOLD` come from the heap and are
reused. A worker keeps at most :data:`TRIM_THRESHOLD` of free memory at the
top of each heap before it gives memory back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "raise_malloc_thresholds"]

logger = logging.getLogger(__name__)

#: Allocations of this many bytes or more get their own mapping; smaller ones come from the heap.
MMAP_THRESHOLD = 32 << 20
#: Free bytes at the top of a heap that glibc keeps before returning memory to the system.
TRIM_THRESHOLD = 32 << 20

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def raise_malloc_thresholds(mmap_threshold: int = MMAP_THRESHOLD,
                            trim_threshold: int = TRIM_THRESHOLD) -> dict | None:
    """Set glibc's mmap and trim thresholds of the calling process.

    Parameters
    ----------
    mmap_threshold : int
        Size in bytes from which an allocation gets its own memory mapping.
    trim_threshold : int
        Free bytes at the top of a heap kept before memory goes back to the system.

    Returns
    -------
    dict or None
        ``{"mmap_threshold": bytes, "trim_threshold": bytes}`` as applied, or
        None where the C library is not glibc (nothing is changed there).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as error:
        logger.info("allocator settings left as they are: no glibc mallopt (%s)", error)
        return None

    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    applied = {}
    for name, parameter, value in (("mmap_threshold", _M_MMAP_THRESHOLD, mmap_threshold),
                                   ("trim_threshold", _M_TRIM_THRESHOLD, trim_threshold)):
        if mallopt(parameter, value) == 1:  # mallopt returns 1 on success
            applied[name] = value
        else:
            logger.warning("allocator setting %s=%d was rejected by mallopt", name, value)
    logger.info("allocator settings: %s", applied)
    return applied
