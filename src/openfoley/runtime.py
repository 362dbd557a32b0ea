"""Process-wide settings for CPU runs, applied by the command line (never at import).

    keep_freed_memory() -> bool   ask glibc's malloc to keep up to 1 GiB of freed heap above its top
                                  (M_TOP_PAD) instead of handing it back to the kernel

Why: PyTorch frees its large activation buffers after every training or sampling step; by default glibc
returns that memory to the kernel and the next step page-faults it back in, zero-filled. On the 2-core
machine this was 4.5 s of system time against 12.3 s of user time for 4 small-preset training steps, and
1.1 s with the pad (``python benchmarks/allocator.py`` prints the table). Peak memory is unchanged; the
process just does not shrink between steps. A ``MALLOC_TOP_PAD_`` set in the environment wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TOP_PAD = -2  # glibc <malloc.h>
TOP_PAD_BYTES = 1 << 30


def keep_freed_memory(pad_bytes: int = TOP_PAD_BYTES) -> bool:
    """Set glibc's M_TOP_PAD to ``pad_bytes``; False (and nothing changed) off glibc or when the
    environment already sets ``MALLOC_TOP_PAD_``."""
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_TOP_PAD, min(pad_bytes, 2**31 - 1)))
