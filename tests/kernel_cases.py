"""For each kernel of ``cupy_kernels.KERNELS``: the backend op it speeds up, called on data with
every awkward value, for ``tests/test_kernel_semantics.py``.

A new kernel needs one entry in ``CASES`` (its registry name -> a function of a random generator
and the kernel's dtypes returning a ``Case``): which ``Backend`` op to call, and its arguments as
host data. The semantics test runs the op through the cupy backend on the recording stand-in (the
kernel's body compiled for the host) and through the generic code on NumPy, and compares them as
the kernel's ``agreement`` says. A kernel without an entry fails that test, naming this file. The
stand-in runs ElementwiseKernels; a ReductionKernel or RawKernel entry first needs a model there
(``tests/cupy_standin/kernels.py``): until then the stand-in refuses it, and the test fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

SHAPE = (37, 29)


@dataclass(frozen=True)
class Case:
    op: str
    args: tuple[Any, ...]
    #: positions of arguments the op changes in place (compared after the call, as its results)
    changed: tuple[int, ...] = ()


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


def _softmax_cce_backward(rng: np.random.Generator, T: str, L: str) -> Case:
    probabilities = awkward(rng, T, positive=True)
    return Case("softmax_cce_backward", (probabilities, labels(rng, L, SHAPE[1], SHAPE[0])))


def _update(op: str, states: tuple[bool, ...], hyperparameters: tuple[Any, ...]) -> Callable[..., Case]:
    """An optimizer update; ``states`` says for each state array whether it is never negative (a cache)."""

    def case(rng: np.random.Generator, T: str) -> Case:
        param, grad = awkward(rng, T), awkward(rng, T)
        kept = [awkward(rng, T, positive=positive) for positive in states]
        return Case(op, (param, grad, *kept, *hyperparameters), changed=(0, *range(2, 2 + len(states))))

    return case


CASES: dict[str, Callable[..., Case]] = {
    "relu_backward": lambda rng, T: Case("relu_backward", (awkward(rng, T), awkward(rng, T))),
    "softmax_cce_backward": _softmax_cce_backward,
    "sgd_update": _update("sgd_update", (), (0.3,)),
    "momentum_update": _update("momentum_update", (False,), (0.3, 0.9)),
    "adagrad_update": _update("adagrad_update", (True,), (0.3, 1e-7)),
    "rmsprop_update": _update("rmsprop_update", (True,), (0.3, 0.9, 1e-7)),
    "adam_update": _update("adam_update", (False, True), (0.3, 0.9, 0.999, 1e-7, 3)),
}
