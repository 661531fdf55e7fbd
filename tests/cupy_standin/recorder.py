"""What the stand-in counts: every operation a CuPy program puts on the GPU, and every host wait."""

from __future__ import annotations

import collections
import contextlib
from dataclasses import dataclass
from typing import Iterator

#: the kinds of device operation (each costs a launch's host time and is a node of a CUDA graph)
DEVICE_KINDS = ("kernel", "memset", "copy")
#: what a launch budget counts: kernels and memsets; copies are counted on their own
LAUNCH_KINDS = ("kernel", "memset")
#: how far the stand-in's device runs behind the host: an operation is done once this many more
#: have been queued after it (or the host waited for it). A launch-bound step, which the budget is
#: about, keeps its GPU about this close: the device finishes a step's work while the host queues
#: the next step's (W1 queues 14 launches a step, W2 20), so a shown step's numbers arrive a step
#: later. The lag decides when lines appear, not the budget's count of waits inside a step: in its
#: two-step runs the watch waits for nothing (it waits only for numbers MAX_WAIT_STEPS steps old)
DEVICE_LAG = 12


class StandinError(NotImplementedError):
    """The code under test asked for CuPy behaviour the stand-in does not model: counting it would guess."""


@dataclass(frozen=True)
class Event:
    kind: str  # "kernel", "memset", "copy" or "sync"
    what: str  # the CuPy operation, e.g. "ufunc add", "matmul (cuBLAS)", "take_along_axis: arange"


class Recorder:
    """The events of a run, in order; ``window()`` looks at those of one stretch of code."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.labels: list[str] = []
        self.queued = 0  # device operations queued so far
        self.finished = 0  # of which the host has waited for the first ``finished``

    def record(self, kind: str, what: str) -> None:
        label = f"{self.labels[-1]}: " if self.labels else ""
        self.events.append(Event(kind, label + what))
        self.queued += kind in DEVICE_KINDS

    def kernel(self, what: str) -> None:
        self.record("kernel", what)

    def sync(self, what: str, upto: int | None = None) -> None:
        """A host call that waits for the device: for the first ``upto`` operations (all queued so far
        unless given)."""
        self.record("sync", what)
        self.finished = max(self.finished, self.queued if upto is None else upto)

    def done(self, upto: int) -> bool:
        """Whether the device has finished the first ``upto`` operations (see ``DEVICE_LAG``)."""
        return self.finished >= upto or self.queued - upto >= DEVICE_LAG

    @contextlib.contextmanager
    def labelled(self, label: str) -> Iterator[None]:
        """Prefixes the events recorded inside with ``label`` (a step's phase, for the report)."""
        self.labels.append(label)
        try:
            yield
        finally:
            self.labels.pop()

    @contextlib.contextmanager
    def window(self) -> Iterator["Window"]:
        start = len(self.events)
        window = Window([])
        try:
            yield window
        finally:
            window.events.extend(self.events[start:])


@dataclass
class Window:
    events: list[Event]

    @property
    def launches(self) -> int:
        return sum(event.kind in LAUNCH_KINDS for event in self.events)

    @property
    def copies(self) -> int:
        return sum(event.kind == "copy" for event in self.events)

    @property
    def syncs(self) -> int:
        return sum(event.kind == "sync" for event in self.events)

    def by_kind(self) -> dict[str, int]:
        return dict(collections.Counter(event.kind for event in self.events))

    def table(self) -> str:
        """One line per distinct operation with its count, in first-seen order (for reports)."""
        counts = collections.Counter((event.kind, event.what) for event in self.events)
        return "\n".join(f"{count:3d} {kind:6s} {what}" for (kind, what), count in counts.items())


_active: list[Recorder] = []


def active() -> Recorder:
    """The recorder of the innermost open stand-in."""
    if not _active:
        raise StandinError("a stand-in array was used after its recording_cupy() block closed")
    return _active[-1]
