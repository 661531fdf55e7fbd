"""How ``Model.train`` reports progress: a progress bar, a line per epoch, the book's lines, or nothing.

``nnfs_gpu.Model`` shows a tqdm bar (``tqdm.auto``: a widget in a notebook) on a terminal and in a
notebook, with the latest loss and accuracy, and elsewhere (a pipe, a file, a log) one line per
epoch, plus a line every ``print_every`` steps only when asked. The book's ``Model``
(``nnfs_gpu.book``) prints the book's lines: ``epoch: N``, ``step: ...``, ``training, ...`` and
``validation, ...``. ``Model.train`` reads numbers back from the device only for what is reported.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProgressNumbers:
    """The numbers of a training step (``step``), or of the epoch so far (``step`` None), on the host."""

    step: int | None
    accuracy: float
    data_loss: float
    regularization: float
    learning_rate: float

    @property
    def loss(self) -> float:
        return self.data_loss + self.regularization

    @property
    def book_label(self) -> str:
        """How the book's lines begin: ``step: N`` or ``training``."""
        return "training" if self.step is None else f"step: {self.step}"


def progress_line(label: str, numbers: ProgressNumbers) -> str:
    """The book's ``step: ...`` / ``training, ...`` line, beginning with ``label``."""
    return (
        f"{label}, acc: {numbers.accuracy:.3f}, loss: {numbers.loss:.3f} "
        f"(data_loss: {numbers.data_loss:.3f}, reg_loss: {numbers.regularization:.3f}), lr: {numbers.learning_rate}"
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
    when the numbers have arrived (see ``nnfs_gpu.training.watch``), so those decisions must not depend on
    what was reported so far.
    """

    active = False

    def shows_step(self, epoch: int, step: int, last: bool, print_every: int | None) -> bool:
        """Whether the numbers of training step ``step`` of epoch ``epoch`` are reported: every
        ``print_every`` steps and the epoch's last one, as the book prints them; none without
        ``print_every``."""
        return self.active and print_every is not None and (not step % print_every or last)

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

    def progress(self, numbers: ProgressNumbers) -> None:
        """Numbers of a step, or of the epoch so far."""

    def validation(self, accuracy: float, loss: float) -> None:
        """Numbers of a pass over the validation data."""

    def epoch_done(self, epoch: int) -> None:
        """Everything of epoch ``epoch`` has been reported."""

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

    def progress(self, numbers: ProgressNumbers) -> None:
        print(progress_line(numbers.book_label, numbers))

    def validation(self, accuracy: float, loss: float) -> None:
        print(validation_line(accuracy, loss))


class EpochLines(Reporter):
    """``nnfs_gpu.Model``'s lines where no bar can be drawn: one per epoch, with its loss, accuracy,
    validation numbers, learning rate and the time so far, and one per ``print_every`` steps when
    asked. Outside training (``evaluate``) the validation numbers make a line of their own."""

    active = True

    def __init__(self, accuracy_name: str = "acc") -> None:
        self.accuracy_name, self.started = accuracy_name, time.monotonic()
        self.current: tuple[int, int] | None = None
        self.numbers: list[str] = []

    def epoch(self, epoch: int, epochs: int) -> None:
        self.current, self.numbers = (epoch, epochs), []

    def progress(self, numbers: ProgressNumbers) -> None:
        loss = f"loss {numbers.loss:.4f}" + (
            f" (data {numbers.data_loss:.4f} + regularization {numbers.regularization:.3g})" if numbers.regularization else "")
        shown = f"{loss}, {self.accuracy_name} {numbers.accuracy:.3f}"
        if numbers.step is None:
            self.numbers[:0] = [shown, f"lr {numbers.learning_rate:.4g}"]
        else:
            print(f"  step {numbers.step}: {shown}", flush=True)

    def validation(self, accuracy: float, loss: float) -> None:
        numbers = f"val_loss {loss:.4f}, val_{self.accuracy_name} {accuracy:.3f}"
        if self.current is None:
            print(f"validation: {numbers.replace('val_', '')}", flush=True)
        else:
            self.numbers.insert(1, numbers)

    def epoch_done(self, epoch: int) -> None:
        epochs = self.current[1] if self.current else epoch
        elapsed = time.monotonic() - self.started
        print(f"epoch {epoch}/{epochs}: {', '.join(self.numbers)} [{elapsed:.1f} s]", flush=True)


class ProgressBar(Reporter):
    """One tqdm bar over every step of every epoch (a widget in a notebook), showing the latest
    reported numbers."""

    active = True

    def __init__(self, total_steps: int, throttled: bool = True, accuracy_name: str = "acc") -> None:
        if in_notebook():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, unit="step")
        else:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, unit="step", file=sys.stdout, bar_format=BAR_FORMAT, **_bar_size())
        self.numbers = ""
        self.validation_numbers = ""
        self.throttled, self.accuracy_name = throttled, accuracy_name
        self._last_read = -math.inf

    def shows_step(self, epoch: int, step: int, last: bool, print_every: int | None) -> bool:
        """The book's steps (every step without ``print_every``), read at most every
        BAR_READ_SECONDS when ``throttled``; when the ranks of a distributed run must decide alike
        (not ``throttled``), the book's steps as every rank counts them."""
        if print_every is None and self.throttled:
            print_every = 1
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

    def progress(self, numbers: ProgressNumbers) -> None:
        self.numbers = f"loss={numbers.loss:.3f}, {self.accuracy_name}={numbers.accuracy:.3f}"
        self._show()

    def validation(self, accuracy: float, loss: float) -> None:
        self.validation_numbers = f"val_loss={loss:.3f}, val_{self.accuracy_name}={accuracy:.3f}"
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


def in_notebook() -> bool:
    """Whether this runs in a Jupyter (or Colab) kernel, where a bar is a widget."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def make_reporter(
    verbose: bool, progress: bool | None, total_steps: int = 0, shows: bool = True, throttled: bool = True,
    accuracy_name: str = "acc",
) -> Reporter:
    """What ``nnfs_gpu.Model.train`` reports through: nothing when not ``verbose``; a bar when
    ``progress`` is True, or is None on a terminal or in a notebook; a line per epoch otherwise.
    ``shows=False`` (a rank other than rank 0) reads the numbers the others show, and shows nothing."""
    if not verbose:
        return Reporter()
    if not shows:
        return Unshown()
    if progress or (progress is None and (stdout_is_terminal() or in_notebook())):
        return ProgressBar(total_steps, throttled, accuracy_name)
    return EpochLines(accuracy_name)
