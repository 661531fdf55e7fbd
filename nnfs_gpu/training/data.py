"""A call's data: its arrays checked on the host and moved to the backend once, a validation
share held out, and its batches as slices of the moved arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .arguments import check_batch_size


def split_validation(X: Any, y: Any, fraction: float, backend: Any) -> tuple[Any, Any, tuple[Any, Any]]:
    """A random ``fraction`` of the samples held out for validation (drawn from NumPy's global RNG,
    so seeds reproduce; a random share, since data sets often come sorted by class)."""
    X, y = (backend.host_data(data) if backend.comes_from_host(data) else data for data in (X, y))
    samples = X.shape[0] if getattr(X, "ndim", 0) else 0
    held_out = round(samples * fraction)
    if not 0 < held_out < samples:
        raise ValueError(f"train: validation_split={fraction} of {samples} samples leaves no training or no validation samples")
    order = np.random.permutation(samples)
    training, validation = order[held_out:], order[:held_out]

    def rows(data: Any, chosen: np.ndarray) -> Any:
        if isinstance(data, np.ndarray):
            return data[chosen]
        return backend.xp.take(backend.asarray(data), backend.asarray(chosen), axis=0)

    return rows(X, training), rows(y, training), (rows(X, validation), rows(y, validation))


def batch_slices(samples: int, batch_size: int | None) -> list[slice]:
    check_batch_size(batch_size, "")
    if batch_size is None:
        return [slice(0, samples)]
    batch_size = int(batch_size)
    return [slice(start, min(start + batch_size, samples)) for start in range(0, samples, batch_size)]


def prepare_inputs(model: Any, X: Any) -> Any:
    """Checks inputs (on the host when they are host data) and moves them to the backend once."""
    backend = model.backend
    host = backend.comes_from_host(X)
    if host:
        X = np.asarray(backend.host_data(X), order="C")  # whatever the layout given: a BLAS may round the products of another differently
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
    if host:
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
