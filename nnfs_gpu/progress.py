"""How ``Model.train`` reports progress: the book's lines, a tqdm progress bar, or nothing.

The book prints ``epoch: N``, ``step: ...``, ``training, ...`` and ``validation, ...`` lines; they
suit logs and pipes, but scroll a terminal away, so on a terminal a progress bar with live loss and
accuracy replaces them. ``Model.train`` reads numbers back from the device only for the steps it
reports (every ``print_every`` steps and at each epoch's end); the bar shows the latest of them and
advances on every step without reading anything.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any


def progress_line(label: str, accuracy: float, data_loss: float, regularization: float, learning_rate: float) -> str:
    """The book's ``step: ...`` / ``training, ...`` line."""
    return (
        f"{label}, acc: {accuracy:.3f}, loss: {data_loss + regularization:.3f} "
        f"(data_loss: {data_loss:.3f}, reg_loss: {regularization:.3f}), lr: {learning_rate}"
    )


def validation_line(accuracy: float, loss: float) -> str:
    """The book's ``validation, ...`` line."""
    return f"validation, acc: {accuracy:.3f}, loss: {loss:.3f}"


#: tqdm's default layout with the numbers before the timings, so a narrow terminal cuts the timings
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix} [{elapsed}<{remaining}, {rate_fmt}]"


#: a progress bar's numbers are read back from the device at most this often
BAR_READ_SECONDS = 0.1


class Reporter:
    """Reports nothing (``verbose=False``); ``active`` tells ``train`` not to read numbers back.

    ``train`` asks ``shows_step`` and ``shows_epoch`` when a step or an epoch ends, to decide which
    numbers to read back; what is reported (``epoch``, ``progress``, ``validation``) comes later,
    when the numbers have arrived (see ``nnfs_gpu.watch``), so those decisions must not depend on
    what was reported so far.
    """

    active = False

    def shows_step(self, epoch: int, step: int, last: bool, print_every: int) -> bool:
        """Whether the numbers of training step ``step`` of epoch ``epoch`` are reported: every
        ``print_every`` steps and the epoch's last one, as the book prints them."""
        return self.active and (not step % print_every or last)

    def shows_epoch(self, epoch: int) -> bool:
        """Whether the numbers of the whole epoch (the book's ``training`` line) are reported."""
        return self.active

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def epoch(self, epoch: int, epochs: int) -> None:
        """An epoch begins."""

    def advance(self) -> None:
        """A training step is done."""

    def progress(self, label: str, accuracy: float, data_loss: float, regularization: float, learning_rate: float) -> None:
        """Numbers of a step (``label`` ``step: N``) or of the epoch so far (``training``)."""

    def validation(self, accuracy: float, loss: float) -> None:
        """Numbers of a pass over the validation data."""

    def close(self) -> None:
        """Training ended (also on error)."""


class Unshown(Reporter):
    """Reads the numbers of every line but shows none: a rank whose sums make up rank 0's lines."""

    active = True


class BookLines(Reporter):
    """The book's plain lines, printed to ``sys.stdout`` as the book prints them."""

    active = True

    def epoch(self, epoch: int, epochs: int) -> None:
        print(f"epoch: {epoch}")

    def progress(self, label: str, accuracy: float, data_loss: float, regularization: float, learning_rate: float) -> None:
        print(progress_line(label, accuracy, data_loss, regularization, learning_rate))

    def validation(self, accuracy: float, loss: float) -> None:
        print(validation_line(accuracy, loss))


class ProgressBar(Reporter):
    """One tqdm bar over every step of every epoch, showing the latest reported numbers."""

    active = True

    def __init__(self, total_steps: int, throttled: bool = True) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total_steps, unit="step", file=sys.stdout, bar_format=BAR_FORMAT, **_bar_size())
        self.numbers = ""
        self.validation_numbers = ""
        self.throttled = throttled
        self._last_read = -math.inf

    def shows_step(self, epoch: int, step: int, last: bool, print_every: int) -> bool:
        """The book's steps, read at most every BAR_READ_SECONDS when ``throttled`` (not when the
        ranks of a distributed run must decide alike)."""
        if not super().shows_step(epoch, step, last, print_every):
            return False
        now = time.monotonic()
        if self.throttled and now - self._last_read < BAR_READ_SECONDS:
            return False
        self._last_read = now
        return True

    def epoch(self, epoch: int, epochs: int) -> None:
        self.bar.set_description_str(f"epoch {epoch}/{epochs}", refresh=False)

    def advance(self) -> None:
        self.bar.update()

    def progress(self, label: str, accuracy: float, data_loss: float, regularization: float, learning_rate: float) -> None:
        self.numbers = f"loss={data_loss + regularization:.3f}, acc={accuracy:.3f}"
        self._show()

    def validation(self, accuracy: float, loss: float) -> None:
        self.validation_numbers = f"val_loss={loss:.3f}, val_acc={accuracy:.3f}"
        self._show()

    def _show(self) -> None:
        # refresh=False: the bar redraws at its own pace (tqdm's mininterval), not once per report
        self.bar.set_postfix_str(", ".join(part for part in (self.numbers, self.validation_numbers) if part), refresh=False)

    def close(self) -> None:
        self.bar.close()


def _bar_size() -> dict[str, Any]:
    """Follow the terminal's size; where it reports none (0 x 0: ``script``, some CI and container
    terminals), tqdm would draw nothing, so assume 80 x 24."""
    try:
        columns, lines = os.get_terminal_size(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # not a terminal, or a stream without a descriptor
        columns = lines = 0
    return {"dynamic_ncols": True} if columns > 0 and lines > 0 else {"ncols": 80, "nrows": 24}


def stdout_is_terminal() -> bool:
    """Whether ``sys.stdout`` is a terminal (not a pipe, a file, or a notebook's stream)."""
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def make_reporter(
    verbose: bool, progress: bool | None, total_steps: int = 0, shows: bool = True, throttled: bool = True
) -> Reporter:
    """What ``train`` reports through: nothing when not ``verbose``; a bar when ``progress`` is True,
    or is None and stdout is a terminal; the book's lines otherwise. ``shows=False`` (a rank other
    than rank 0) reads the numbers the others show, and shows nothing."""
    if not verbose:
        return Reporter()
    if not shows:
        return Unshown()
    if progress or (progress is None and stdout_is_terminal()):
        return ProgressBar(total_steps, throttled)
    return BookLines()
