"""The training steps whose launches and syncs are counted, on the recording stand-in
(``tests/test_launch_budget.py``) and on a GPU (``scripts/gpu_launch_count.py``), the same way.

What a step counts (``step_counts``):
- ``launches``: kernels and memsets, the issue's "kernel launches": the events of a run of two
  batches less those of a run of one, so that what a run does once cancels;
- ``copies``: device-to-host copies, the same way: the numbers a shown step reads back, each copied
  asynchronously into pinned memory (a copy is queued like a launch, but it is not a kernel, and it
  happens only on shown steps, so the budget counts it on its own);
- ``syncs``: host calls that wait for the device while a step runs (``TrainingRun.step``, which
  shows lines and runs the watch's bookkeeping too): the waits at the end of a run, for numbers
  still on their way, happen once a run, however many steps it had.
"""

from __future__ import annotations

import collections
import contextlib
import io
from typing import Any, Callable, ContextManager, Iterable

import numpy as np

from nnfs_gpu import SGD, Adam, Categorical, CategoricalCrossentropy, Dense, Model, ReLU, Softmax, progress, training
from nnfs_gpu.datasets import spiral_data

#: per step, after the first, by how progress is shown (see the module docstring)
STEP_COUNTS = {
    ("W2", "quiet"): {"launches": 20, "copies": 0, "syncs": 0},
    ("W2", "book lines"): {"launches": 20, "copies": 2, "syncs": 0},
    ("W2", "progress bar"): {"launches": 20, "copies": 2, "syncs": 0},
    ("W1", "quiet"): {"launches": 14, "copies": 0, "syncs": 0},
    ("W1", "book lines"): {"launches": 14, "copies": 2, "syncs": 0},
    ("W1", "progress bar"): {"launches": 14, "copies": 2, "syncs": 0},
}
#: issue 11's budget per step: launches at most these, no sync in any mode, no copy in a quiet step
TARGETS = {"W2": 20, "W1": 16}
#: the numbers a shown step of these workloads reads back: its loss and its right answers (their
#: penalty is a host 0.0: they have no regularizer), each one copy
SHOWN_NUMBERS = 2
#: what begins the description of an event recorded while a step runs
IN_STEP = "step: "
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


def step_counts(events: Iterable[tuple[str, str]]) -> dict[str, int]:
    """A step's counts (see the module docstring) from its events as (kind, what) pairs."""
    kinds = collections.Counter(kind for kind, _ in events)
    in_step_syncs = sum(kind == "sync" and what.startswith(IN_STEP) for kind, what in events)
    return {"launches": kinds["kernel"] + kinds["memset"], "copies": kinds["copy"], "syncs": in_step_syncs}


@contextlib.contextmanager
def marking_steps(in_step: Callable[[], ContextManager[Any]]) -> Any:
    """Runs every ``TrainingRun.step`` inside ``in_step()`` (which marks what is recorded there)."""
    step = training.TrainingRun.step

    def marked(run: Any, *args: Any) -> None:
        with in_step():
            step(run, *args)

    training.TrainingRun.step = marked
    try:
        yield
    finally:
        training.TrainingRun.step = step


def one_step(workload: str, mode: str, recording: Callable[[], ContextManager[Any]],
             in_step: Callable[[], ContextManager[Any]]) -> collections.Counter:
    """The events of one training step on the current backend: a run of two batches less a run of
    one (after a first run, which builds the flat buffers and compiles the kernels), so what a run
    does once, before or after its steps, cancels. ``recording()`` is a context manager whose value
    has the ``events`` (hashable) of its block once the block is done; ``in_step()`` one inside which
    events are recorded as the step's (their description begins with ``IN_STEP``)."""
    np.random.seed(0)
    model, X, y, batch = WORKLOADS[workload]()
    runs = []
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
          every_bar_read(), marking_steps(in_step)):
        model.train(X[:batch], y[:batch], epochs=1, batch_size=batch, verbose=False)
        for batches in (1, 2):
            with recording() as recorded:
                model.train(X[:batches * batch], y[:batches * batch], epochs=1, batch_size=batch, **MODES[mode])
            runs.append(collections.Counter(recorded.events))
    if runs[0] - runs[1]:
        raise AssertionError(f"the one-batch run did something the two-batch run did not: {runs[0] - runs[1]}")
    return runs[1] - runs[0]
