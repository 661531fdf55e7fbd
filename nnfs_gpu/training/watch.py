"""Watching a run without stalling it.

Numbers leave the device asynchronously (``Backend.read_later``: on a GPU, copies to pinned host
memory), and whatever is shown with them (the book's lines, a progress bar's numbers) waits for them
in the order it was asked for, so a step never waits for the host: lines appear as soon as their
numbers have arrived, typically a step later on a GPU and at once on the CPU. A number still on its
way after ``MAX_WAIT_STEPS`` steps is waited for, so that nothing falls further behind.

The same queue checks that training has not diverged: every ``CHECK_EVERY_STEPS`` steps it reads
the running loss totals the device keeps anyway (NaN and infinity survive a sum), and when one is
not finite it looks up the first step whose loss was not, among those since the last check. A run
that shows nothing therefore stops within about CHECK_EVERY_STEPS + MAX_WAIT_STEPS steps of a NaN.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable

from ..backends import Backend, Readback

CHECK_EVERY_STEPS = 8
MAX_WAIT_STEPS = 4


class NotFiniteError(FloatingPointError):
    """The loss became NaN or infinite; the message names where and what to try."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"the loss became NaN or infinite at {where}; lower the learning rate, scale the inputs, "
            f"or check the data for extreme values"
        )


def is_finite(*numbers: Any) -> bool:
    return all(math.isfinite(float(number)) for number in numbers)


class Watch:
    """Actions that wait, in order, for numbers on their way from the device."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._queue: deque[tuple[Readback | None, Callable[..., None], int]] = deque()
        self._steps = 0
        self._unchecked: list[tuple[str, Any]] = []
        self._ended: list[Any] = []

    def when_read(self, values: list[Any], action: Callable[..., None]) -> None:
        """Calls ``action(*values)`` with ``values`` (0-d arrays or numbers) on the host, after every
        action queued before it."""
        readback = self.backend.read_later(values) if values else None
        self._queue.append((readback, action, self._steps))
        self._run_ready()

    def step_done(self, where: str, batch_loss: Any, running_total: Any) -> None:
        """A training step is done: ``batch_loss`` is its summed loss, ``running_total`` the pass's
        running total so far, whose finiteness vouches for the pass's steps."""
        self._steps += 1
        self._unchecked.append((where, batch_loss))
        if len(self._unchecked) >= CHECK_EVERY_STEPS:
            self.check(running_total)
        self._run_ready()

    def pass_ended(self, total: Any) -> None:
        """A pass ended with this running total: the next check covers it."""
        self._ended.append(total)

    def check(self, running_total: Any = None) -> None:
        """Queues a check that the totals since the last check are finite; when one is not, it
        raises NotFiniteError naming the first step whose loss was not."""
        steps, self._unchecked = self._unchecked, []
        totals, self._ended = self._ended + ([] if running_total is None else [running_total]), []

        def verify(*values: Any) -> None:
            if not is_finite(*values):
                losses = self.backend.read_later([loss for _, loss in steps]).values()
                raise NotFiniteError(next((where for (where, _), loss in zip(steps, losses) if not is_finite(loss)), steps[-1][0]))

        if steps and totals:
            self.when_read(totals, verify)

    def finish(self) -> None:
        """Waits for every number still on its way and runs what waits for it."""
        self._run_ready(wait_all=True)

    def _run_ready(self, wait_all: bool = False) -> None:
        while self._queue:
            readback, action, asked_at = self._queue[0]
            overdue = self._steps - asked_at >= MAX_WAIT_STEPS
            if readback is not None and not (wait_all or overdue or readback.ready()):
                return
            self._queue.popleft()
            action(*(readback.values() if readback is not None else ()))
