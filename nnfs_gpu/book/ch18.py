"""Chapter 18's classes: those of ``nnfs_gpu.book``, except ``Model``, chapter 18's first version of it.

Its ``train(X, y, *, epochs=1, print_every=1, validation_data=None)`` takes no batches (every epoch
is one step over the whole set), prints ``epoch: N, acc: ..., loss: ... (data_loss: ..., reg_loss:
...), lr: ...`` every ``print_every`` epochs with the numbers of that epoch's step, and validates
once, after the last epoch (the final ``Model`` prints ``epoch:``, ``step:`` and ``training,`` lines
every epoch, and validates after each).

    from nnfs_gpu.book.ch18 import *
"""

from __future__ import annotations

from typing import Any

from ..progress import ProgressNumbers, Reporter, progress_line, validation_line
from . import Model as FinalModel
from . import *  # noqa: F401,F403  (the final chapters' names, and np)
from . import __all__  # noqa: F401  (the same names, so ``import *`` gives them all)


class EpochLines(Reporter):
    """Chapter 18's lines: the numbers of the step of every ``print_every``-th epoch (it reads
    nothing back in the other epochs, and never the whole epoch's numbers)."""

    active = True

    def __init__(self, print_every: int) -> None:
        self.print_every = print_every
        self.current_epoch = 0

    def shows_step(self, epoch: int, step: int, last: bool, print_every: int) -> bool:
        return not epoch % self.print_every

    def shows_epoch(self, epoch: int) -> bool:
        return False

    def epoch(self, epoch: int, epochs: int) -> None:
        self.current_epoch = epoch

    def progress(self, numbers: ProgressNumbers) -> None:
        print(progress_line(f"epoch: {self.current_epoch}", numbers))

    def validation(self, accuracy: float, loss: float) -> None:
        print(validation_line(accuracy, loss))


class Model(FinalModel):
    """Chapter 18's ``Model``: one step per epoch, a line every ``print_every`` epochs, one validation."""

    def train(  # type: ignore[override]
        self, X: Any, y: Any, *, epochs: int = 1, print_every: int = 1, validation_data: tuple[Any, Any] | None = None,
        verbose: bool = True,
    ) -> dict[str, list[float]]:
        """Trains as chapter 18's Model does; returns the final Model's history, whose ``val_loss`` and
        ``val_accuracy`` hold the one validation. ``verbose=False`` prints nothing."""
        history = super().train(X, y, epochs=epochs, print_every=print_every, verbose=verbose)
        if validation_data is not None:
            loss, accuracy = self.evaluate(*validation_data, verbose=verbose)
            history.update(val_loss=[loss], val_accuracy=[accuracy])
        return history

    def _book_lines(self, print_every: int) -> Reporter:
        return EpochLines(print_every)
