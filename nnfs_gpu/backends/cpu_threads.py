"""How many CPU threads the NumPy backend's own parallel work uses: its threaded optimizer updates
and numba's parallel kernels."""

from __future__ import annotations

import os
import warnings

THREADS_VARIABLE = "NNFS_GPU_CPU_THREADS"


def _workers() -> int:
    """Threads for them: NNFS_GPU_CPU_THREADS, else the cores this process may use (set it to 1
    when several ranks share a machine)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return cores
    if text.isdigit() and int(text) >= 1:
        return int(text)
    warnings.warn(f"{THREADS_VARIABLE}={text!r} is not a whole number >= 1; using {cores} threads", stacklevel=2)
    return cores


WORKERS = _workers()
