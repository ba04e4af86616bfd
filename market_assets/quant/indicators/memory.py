"""Large float64 buffers on plain, pre-mapped pages (internal).

numpy asks the kernel for transparent huge pages (``madvise``) on every
array of 4 MiB or more.  Where the kernel then compacts memory on the page
fault (THP ``defrag=madvise``, as on the hosts we measured) writing a fresh
3 GiB feature table took 2-4x longer than with plain 4 KiB pages, and every
large temporary paid the same again.  Output columns and other large,
long-lived buffers therefore come from an anonymous ``mmap`` with
``MAP_POPULATE``: plain pages, all mapped in one system call instead of one
fault per page.  Temporaries are kept below the 4 MiB threshold by working
in chunks of symbols or dates instead.
"""

from __future__ import annotations

import mmap

import numpy as np

_POPULATE = getattr(mmap, "MAP_POPULATE", None)


def plain_empty(shape: int | tuple[int, ...]) -> np.ndarray:
    """An uninitialised C-ordered float64 array on pre-mapped plain pages.

    Falls back to ``np.empty`` where anonymous populated maps are unavailable
    (non-Linux) or the array is empty.  The map is released with the last
    array (or polars Series) that references it.
    """
    cells = int(np.prod(shape))
    if cells == 0 or _POPULATE is None:
        return np.empty(shape)
    buffer = mmap.mmap(-1, cells * 8, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _POPULATE)
    return np.frombuffer(buffer, dtype=np.float64).reshape(shape)
