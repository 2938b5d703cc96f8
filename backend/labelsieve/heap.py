"""Give the C heap's freed pages back to the system (glibc's ``malloc_trim``), where the C library offers it.

A long inference pass interleaves short-lived buffers (torch's per-batch tensors) with small long-lived ones (the
per-image detections it keeps). glibc returns freed memory to the system only from the top of its heap, so once
long-lived blocks sit above the freed buffers the process's RSS grows with the pass although nothing is held:
a 10 000-image boxes round grew by 637 MiB during its detector pass, and by none with ``malloc_trim(0)`` after each
batch (benchmarks/results/boxes.md). Elsewhere (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> bool:
    """``malloc_trim(0)``: unmap every free page of the heap. True when the C library has it."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
