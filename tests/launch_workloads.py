"""The training steps whose launches and syncs are counted, on the recording stand-in
(``tests/test_launch_budget.py``) and on a GPU (``scripts/gpu_launch_count.py``), the same way."""

from __future__ import annotations

import collections
import contextlib
import io
from typing import Any, Callable, ContextManager

import numpy as np

from nnfs_gpu import SGD, Adam, Categorical, CategoricalCrossentropy, Dense, Model, ReLU, Softmax, progress
from nnfs_gpu.datasets import spiral_data

#: per step, after the first: launches (kernels, memsets, copies) and host waits, by how progress is shown
STEP_COUNTS = {
    ("W2", "quiet"): {"launches": 42, "syncs": 0},
    ("W2", "book lines"): {"launches": 44, "syncs": 2},
    ("W2", "progress bar"): {"launches": 44, "syncs": 2},
    ("W1", "quiet"): {"launches": 35, "syncs": 0},
    ("W1", "book lines"): {"launches": 37, "syncs": 2},
    ("W1", "progress bar"): {"launches": 37, "syncs": 2},
}
#: issue 11's budget per step (and 0 syncs in every mode)
TARGETS = {"W2": 20, "W1": 16}
#: how a run shows its progress: not at all, the book's line per step, a progress bar
MODES = {
    "quiet": {"verbose": False},
    "book lines": {"verbose": True, "progress": False, "print_every": 1},
    "progress bar": {"verbose": True, "progress": True},
}


def _model(layers: list[Any], optimizer: Any) -> Model:
    model = Model()
    for layer in layers:
        model.add(layer)
    model.set(loss=CategoricalCrossentropy(), optimizer=optimizer, accuracy=Categorical())
    model.finalize()
    return model


def w2() -> tuple[Model, np.ndarray, np.ndarray, int]:
    """Fashion-MNIST's shape: 784-128-128-10, ReLU, Softmax + CCE, Adam, batches of 128, uint8 labels."""
    model = _model([Dense(784, 128), ReLU(), Dense(128, 128), ReLU(), Dense(128, 10), Softmax()], Adam())
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256).astype(np.uint8), 128


def w1() -> tuple[Model, np.ndarray, np.ndarray, int]:
    """Chapter 10's spiral: 2-64-3, ReLU, Softmax + CCE, SGD, the full batch of 3000."""
    model = _model([Dense(2, 64), ReLU(), Dense(64, 3), Softmax()], SGD())
    X, y = spiral_data(1000, 3)
    return model, np.concatenate([X, X]), np.concatenate([y, y]), 3000


WORKLOADS = {"W2": w2, "W1": w1}


@contextlib.contextmanager
def every_bar_read() -> Any:
    """A progress bar that reads its numbers on every shown step (not at most every 0.1 s), so that
    a count does not depend on how fast the step ran: the bar's worst case."""
    saved = progress.BAR_READ_SECONDS
    progress.BAR_READ_SECONDS = 0.0
    try:
        yield
    finally:
        progress.BAR_READ_SECONDS = saved


def one_step(workload: str, mode: str, recording: Callable[[], ContextManager[Any]]) -> collections.Counter:
    """The events of one training step on the current backend: a run of two batches less a run of
    one (after a first run, which builds the flat buffers and compiles the kernels), so what a run
    does once, before or after its steps, cancels. ``recording()`` is a context manager whose value
    has the ``events`` (hashable) of its block once the block is done."""
    np.random.seed(0)
    model, X, y, batch = WORKLOADS[workload]()
    runs = []
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
          every_bar_read()):
        model.train(X[:batch], y[:batch], epochs=1, batch_size=batch, verbose=False)
        for batches in (1, 2):
            with recording() as recorded:
                model.train(X[:batches * batch], y[:batches * batch], epochs=1, batch_size=batch, **MODES[mode])
            runs.append(collections.Counter(recorded.events))
    if runs[0] - runs[1]:
        raise AssertionError(f"the one-batch run did something the two-batch run did not: {runs[0] - runs[1]}")
    return runs[1] - runs[0]
