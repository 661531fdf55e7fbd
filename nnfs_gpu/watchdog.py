"""A watchdog for work that may never finish (a collective whose peer died): a daemon thread that
calls ``on_timeout(what)`` once a watched piece of work runs past its deadline.

Two kinds of work are watched. A blocking wait (``watching``: the caller waits in a C call that
releases the GIL, such as MPI's ``Wait``) costs the caller only setting and clearing a deadline, so
a timeout adds nothing to a training step. Queued work (``queued``: a GPU collective the host does
not wait for) is given a ``done()`` test that the thread polls, so the host still never waits. Each
queued piece keeps its own deadline; work on one stream finishes in order, so the thread forgets
finished pieces from the oldest on and judges the oldest unfinished one.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Callable, Iterator

#: how often the thread looks at the watched work
WATCH_SECONDS = 0.1


class Watchdog:
    """Started with the first watched work; ``prepare`` runs first in its thread (a GPU device to use)."""

    def __init__(self, on_timeout: Callable[[str], None], prepare: Callable[[], None] = lambda: None) -> None:
        self.on_timeout, self.prepare = on_timeout, prepare
        self.blocking: tuple[float, str] | None = None
        self.pending: collections.deque[tuple[float, str, Callable[[], bool]]] = collections.deque()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, what: str, seconds: float) -> Iterator[None]:
        """Watches the blocking wait inside the block."""
        self._start()
        self.blocking = (time.monotonic() + seconds, what)
        try:
            yield
        finally:
            self.blocking = None

    def queued(self, what: str, seconds: float, done: Callable[[], bool]) -> None:
        """Watches work that finishes later, when ``done()`` says so."""
        self._start()
        with self.lock:
            self.pending.append((time.monotonic() + seconds, what, done))

    def _start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="nnfs_gpu watchdog", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        self.prepare()
        while True:
            time.sleep(WATCH_SECONDS)
            late = self._late()
            if late is not None:
                self.on_timeout(late)
                return

    def _late(self) -> str | None:
        """What has run past its deadline, if anything; forgets queued work that is done."""
        now = time.monotonic()
        blocking = self.blocking
        if blocking is not None and now > blocking[0]:
            return blocking[1]
        with self.lock:
            while self.pending and self.pending[0][2]():
                self.pending.popleft()
            oldest = self.pending[0] if self.pending else None
        return oldest[1] if oldest is not None and now > oldest[0] else None
