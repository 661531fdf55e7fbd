"""Arrays a CPU backend reuses between calls (scratch buffers, rows of ones), per thread.

On the CPU a fresh large array costs page faults every time (the operating system must hand over
and zero new pages), so the NumPy and torch backends keep their temporaries; per thread, so that
models trained in parallel threads on one backend never share them.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

#: how many shapes of each kind of array a thread keeps by default (one per shape a model has)
CACHED_OTHER_SHAPES = 64


def cached(per_thread: threading.local, kind: str, key: tuple, make: Callable[[], Any],
           keep: int = CACHED_OTHER_SHAPES) -> Any:
    """This thread's ``make()`` for ``key`` among those of ``kind``; the last ``keep`` keys of each kind stay."""
    cache = per_thread.__dict__.setdefault(kind, {})
    if key not in cache:
        if len(cache) >= keep:
            del cache[next(iter(cache))]
        cache[key] = make()
    return cache[key]
