"""A call's data: its arguments checked, its arrays checked on the host and moved to the backend
once, and its batches as slices of the moved arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import checks
from ..backends import is_host


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
        checks.object_with(callback, ("on_train_begin", "on_epoch_end", "on_train_end"), "callbacks",
                           "a callback such as EarlyStopping() (a subclass of nnfs_gpu.callbacks.Callback)", owner="train")


def split_validation(X: Any, y: Any, fraction: float, backend: Any) -> tuple[Any, Any, tuple[Any, Any]]:
    """A random ``fraction`` of the samples held out for validation (drawn from NumPy's global RNG,
    so seeds reproduce; a random share, since data sets often come sorted by class)."""
    X, y = (np.asarray(data) if is_host(data) else data for data in (X, y))
    samples = X.shape[0] if getattr(X, "ndim", 0) else 0
    held_out = round(samples * fraction)
    if not 0 < held_out < samples:
        raise ValueError(f"train: validation_split={fraction} of {samples} samples leaves no training or no validation samples")
    order = np.random.permutation(samples)
    training, validation = order[held_out:], order[:held_out]

    def rows(data: Any, chosen: np.ndarray) -> Any:
        if is_host(data):
            return data[chosen]
        return backend.xp.take(data, backend.asarray(chosen), axis=0)

    return rows(X, training), rows(y, training), (rows(X, validation), rows(y, validation))


def check_batch_size(batch_size: Any, owner: str) -> None:
    """``batch_size`` is None (every sample in one batch) or a whole number >= 1."""
    if batch_size is not None:
        checks.whole_number(batch_size, "batch_size", minimum=1, owner=owner)


def batch_slices(samples: int, batch_size: int | None) -> list[slice]:
    check_batch_size(batch_size, "")
    if batch_size is None:
        return [slice(0, samples)]
    batch_size = int(batch_size)
    return [slice(start, min(start + batch_size, samples)) for start in range(0, samples, batch_size)]


def prepare_inputs(model: Any, X: Any) -> Any:
    """Checks inputs (on the host when they are host data) and moves them to the backend once."""
    backend = model.backend
    if is_host(X):
        X = np.asarray(X)
        if X.dtype.kind not in "iubf":
            raise TypeError(f"inputs must be numbers, got dtype {X.dtype}")
    shape = tuple(X.shape)
    if len(shape) != 2 or shape[1] != model.n_inputs:
        raise ValueError(
            f"the first layer {model.layers[0]!r} expects inputs of shape (samples, {model.n_inputs}), "
            f"got {shape}" + ("; flatten them with X.reshape(len(X), -1)" if len(shape) > 2 else "")
        )
    if shape[0] == 0:
        raise ValueError("got no samples (inputs of shape (0, ...)); pass at least one")
    if is_host(X):
        if X.dtype.kind == "f" and not _all_finite(np, X):
            row = int(np.argwhere(~np.isfinite(X))[0][0])
            raise ValueError(f"inputs contain NaN or infinity (first in row {row}); clean the data first")
        with np.errstate(over="ignore"):  # an overflow is refused below, with the fix
            converted, target = backend.asfloat(X), np.dtype(backend.dtype_name)
        if target.itemsize < X.dtype.itemsize and not _all_finite(backend.xp, converted):
            raise ValueError(f"inputs overflow {target} (values beyond {float(np.finfo(target).max):.3g} in size); "
                             "scale them, or use dtype='float64'")
        return converted
    X = backend.asfloat(X)
    if not _all_finite(backend.xp, X):
        raise ValueError("inputs contain NaN or infinity; clean the data first")
    return X


def _all_finite(xp: Any, X: Any) -> bool:
    """Whether ``X`` holds no NaN and no infinity, without a data-sized mask: any of them makes the
    sum NaN or infinite (one pass); only a sum that overflowed needs min and max as well."""
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is the question asked, not news
        total = xp.sum(X)
    return bool(xp.isfinite(total)) or bool(xp.isfinite(xp.min(X)) & xp.isfinite(xp.max(X)))


def prepare(model: Any, X: Any, y: Any) -> tuple[Any, Any]:
    """Inputs and targets, checked once and moved to the backend."""
    X = prepare_inputs(model, X)
    return X, model.loss.targets(y, (X.shape[0], model.n_outputs), model.backend.dtype)
