"""For each kernel of ``cupy_kernels.KERNELS``: the backend op it speeds up, called on data with
every awkward value, for ``tests/test_kernel_semantics.py``.

A new kernel needs one entry in ``CASES`` (its registry name -> a function of a random generator
and the kernel's dtypes returning a ``Case``, or several): which ``Backend`` op to call, and its
arguments as host data. The semantics test runs the op through the cupy backend on the recording
stand-in (the kernel's code compiled for the host) and through the generic code on NumPy, and
compares every result bit for bit, or, for a kernel that is not ``exact``, within the bound the
case gives for it (``bounds``: one per result, None where that result is exact). A kernel without
an entry fails that test, naming this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from support import softmax_bound, transcendental_sum_bound

SHAPE = (37, 29)
#: more rows than a one-block kernel has threads, so that its threads take several rows each
BATCH_SHAPE = (1000, 10)
Bounds = Callable[[list[np.ndarray]], list[np.ndarray | None]]


@dataclass(frozen=True)
class Case:
    op: str
    args: tuple[Any, ...]
    #: positions of arguments the op changes in place (compared after the call, as its results)
    changed: tuple[int, ...] = ()
    #: the generic code's results (changed arguments first, then what the op returns) -> how far
    #: the kernel's may lie from each (None: bit for bit); None when every result is exact
    bounds: Bounds | None = None


def awkward(rng: np.random.Generator, dtype: str, shape: tuple[int, ...] = SHAPE, positive: bool = False) -> np.ndarray:
    """Normal values of several scales, with ±0, NaN, ±inf, subnormals and the smallest normal mixed in."""
    info = np.finfo(dtype)
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, shape)
    values = values.astype(dtype)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, info.smallest_subnormal, -info.smallest_subnormal,
                         info.smallest_normal * 0.75, -info.smallest_normal / 3, info.smallest_normal], dtype=dtype)
    chosen = rng.random(shape) < 0.15
    values[chosen] = rng.choice(specials, int(chosen.sum()))
    return np.abs(values) if positive else values


def labels(rng: np.random.Generator, dtype: str, classes: int, count: int) -> np.ndarray:
    """Class labels, a few out of range (the op's answer for them must agree too)."""
    if dtype == "bool":
        return rng.integers(0, 2, count).astype(bool)
    low = -2 if np.dtype(dtype).kind == "i" else 0
    return rng.integers(low, classes + 2, count).astype(dtype)


def labels_in_range(rng: np.random.Generator, dtype: str, classes: int, count: int) -> np.ndarray:
    """Class labels in [0, classes) (the generic code of a loss indexes with them)."""
    return rng.integers(0, 2 if dtype == "bool" else classes, count).astype(dtype)


def rows_to_normalize(rng: np.random.Generator, dtype: str, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Rows of normal values, each of its own scale, and a fifth of the rows awkward (most of those
    hold a NaN or an infinity, which make the row's softmax NaN)."""
    values = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 2, (shape[0], 1))).astype(dtype)
    chosen = rng.random(shape[0]) < 0.2
    values[chosen] = awkward(rng, dtype, (int(chosen.sum()), shape[1]))
    return values


def probabilities(rng: np.random.Generator, dtype: str, with_nan: bool) -> np.ndarray:
    """Awkward non-negative values (zeros, subnormals, values above 1, infinity), NaN only if asked."""
    values = awkward(rng, dtype, BATCH_SHAPE, positive=True)
    return values if with_nan else np.where(np.isnan(values), values.dtype.type(0.5), values)


def _softmax_cce_backward(rng: np.random.Generator, T: str, L: str) -> Case:
    probabilities = awkward(rng, T, positive=True)
    return Case("softmax_cce_backward", (probabilities, labels(rng, L, SHAPE[1], SHAPE[0])))


def _softmax(rng: np.random.Generator, T: str) -> Case:
    return Case("softmax", (rows_to_normalize(rng, T),), bounds=lambda expected: [softmax_bound(expected[0])])


def _bias_softmax(rng: np.random.Generator, T: str) -> Case:
    z, biases = rows_to_normalize(rng, T), awkward(rng, T, (1, SHAPE[1]))
    return Case("bias_softmax", (z, biases), changed=(0,), bounds=lambda expected: [None, softmax_bound(expected[1])])


def _crossentropy_sum(rng: np.random.Generator, T: str, L: str) -> list[Case]:
    """A first batch (no total yet), and a batch with NaN added to a running total."""
    cases = []
    for total in (None, np.asarray(12.5, dtype=T)):
        values = probabilities(rng, T, with_nan=total is not None)
        picked = labels_in_range(rng, L, BATCH_SHAPE[1], BATCH_SHAPE[0])
        terms = -np.log(np.clip(values[np.arange(BATCH_SHAPE[0]), picked.astype(np.int64)], 1e-7, 1 - 1e-7))

        def bounds(expected: list[np.ndarray], terms: np.ndarray = terms) -> list[np.ndarray | None]:
            batch = transcendental_sum_bound(terms)  # the total adds one rounding of its own
            return [batch, batch + np.finfo(terms.dtype).eps * np.abs(expected[1].astype(np.float64))]

        cases.append(Case("crossentropy_sum", (values, picked, total), bounds=bounds))
    return cases


def _argmax_matches(rng: np.random.Generator, T: str, L: str) -> list[Case]:
    """Half the labels at the row's largest output, so that a wrong argmax changes the count."""
    outputs = awkward(rng, T, BATCH_SHAPE)
    with np.errstate(invalid="ignore"):
        right = outputs.argmax(axis=1).astype(L)
    wanted = np.where(rng.random(BATCH_SHAPE[0]) < 0.5, right, labels(rng, L, BATCH_SHAPE[1], BATCH_SHAPE[0]))
    return [Case("argmax_matches", (outputs, wanted, total)) for total in (None, np.asarray(41, dtype=np.int64))]


def _update(op: str, states: tuple[bool, ...], hyperparameters: tuple[Any, ...]) -> Callable[..., Case]:
    """An optimizer update; ``states`` says for each state array whether it is never negative (a cache)."""

    def case(rng: np.random.Generator, T: str) -> Case:
        param, grad = awkward(rng, T), awkward(rng, T)
        kept = [awkward(rng, T, positive=positive) for positive in states]
        return Case(op, (param, grad, *kept, *hyperparameters), changed=(0, *range(2, 2 + len(states))))

    return case


CASES: dict[str, Callable[..., Case | list[Case]]] = {
    "bias_relu": lambda rng, T: Case("bias_relu", (awkward(rng, T), awkward(rng, T, (1, SHAPE[1]))), changed=(0,)),
    "softmax": _softmax,
    "bias_softmax": _bias_softmax,
    "crossentropy_sum": _crossentropy_sum,
    "argmax_matches": _argmax_matches,
    "relu_backward": lambda rng, T: Case("relu_backward", (awkward(rng, T), awkward(rng, T))),
    "softmax_cce_backward": _softmax_cce_backward,
    "sgd_update": _update("sgd_update", (), (0.3,)),
    "momentum_update": _update("momentum_update", (False,), (0.3, 0.9)),
    "adagrad_update": _update("adagrad_update", (True,), (0.3, 1e-7)),
    "rmsprop_update": _update("rmsprop_update", (True,), (0.3, 0.9, 1e-7)),
    "adam_update": _update("adam_update", (False, True), (0.3, 0.9, 0.999, 1e-7, 3)),
}
