"""``Model.train``'s, ``evaluate``'s and ``predict``'s arguments, checked before any work: each
error names the argument, what it got and what it needs."""

from __future__ import annotations

from typing import Any

from .. import checks
from ..callbacks import HOOKS


def check_arguments(
    epochs: Any, batch_size: Any, print_every: Any, validation_data: Any, shuffle: Any, verbose: Any, progress: Any,
    validation_split: Any = 0.0, callbacks: Any = (),
) -> None:
    """Checks ``Model.train``'s arguments before any work: each error names the argument, what it
    got and what it needs."""
    checks.whole_number(epochs, "epochs", minimum=0, owner="train")
    check_batch_size(batch_size, "train")
    if print_every is not None:
        checks.whole_number(print_every, "print_every", minimum=1, owner="train")
    if validation_data is not None and not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        sequence = isinstance(validation_data, (tuple, list))
        got = f"a {type(validation_data).__name__} of {len(validation_data)}" if sequence else checks.shown(validation_data)
        raise TypeError(f"train: validation_data must be a pair (X_val, y_val), got {got}")
    checks.real_number(validation_split, "validation_split", at_least=0, below=1, owner="train")
    if validation_split and validation_data is not None:
        raise ValueError("train: give validation_data or validation_split, not both")
    checks.flag(shuffle, "shuffle", owner="train")
    checks.flag(verbose, "verbose", owner="train")
    if progress is not None:
        checks.flag(progress, "progress", owner="train")
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"train: callbacks must be a list of callbacks, got {checks.shown(callbacks)}")
    for callback in callbacks:
        checks.object_with(callback, HOOKS, "callbacks", "a callback such as EarlyStopping() (a subclass of "
                           f"nnfs_gpu.callbacks.Callback, or an object with all of its hooks: {', '.join(HOOKS)})", owner="train")


def check_batch_size(batch_size: Any, owner: str) -> None:
    """``batch_size`` is None (every sample in one batch) or a whole number >= 1."""
    if batch_size is not None:
        checks.whole_number(batch_size, "batch_size", minimum=1, owner=owner)
