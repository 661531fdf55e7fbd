"""How a training step is shared: by one process (``LocalSteps``), or by the ranks of a
data-parallel run (``nnfs_gpu.distributed.DataParallel``, the same interface), so the loop has no
branch for it."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np


class LocalSteps:
    """One process trains on every row of every batch: each call is the identity or does nothing."""

    is_root = True
    #: whether steps call collectives (every rank must then decide alike which steps show numbers)
    collective = False

    def agree(self, model: Any, X: Any, y: Any, validation_data: Any, settings: dict[str, Any]) -> None:
        """Checks, before any work, that every process is about to train the same run."""

    def start(self, samples: int, batches: list[slice], update: Any) -> None:
        """Checks and set-up before the first step (``update``: the run's, see ``training.updates``)."""

    def shard(self, rows: slice) -> slice:
        """The rows of a batch this process trains on."""
        return rows

    def shuffled_order(self, samples: int) -> np.ndarray:
        """An epoch's order of the samples, from NumPy's global RNG (so seeds reproduce)."""
        return np.random.permutation(samples)

    def average_gradients(self, update: Any, local_samples: int, global_samples: int) -> None:
        """Makes the gradients those of the whole batch."""

    def sums(self, numbers: list[Any]) -> list[Any]:
        """Sums over all processes (0-d arrays stay on the device)."""
        return numbers

    @contextlib.contextmanager
    def stopping_all_on_error(self) -> Iterator[None]:
        """Where an error on one process must stop the others too."""
        yield


LOCAL = LocalSteps()
