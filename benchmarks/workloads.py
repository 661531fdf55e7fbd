"""The benchmark workloads: what is trained, on what data, for how long (full and --quick)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nnfs_gpu.datasets import spiral_data


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    sizes: tuple[int, ...]
    samples: int
    batch_size: int | None
    optimizer: str
    learning_rate: float
    epochs: int
    quick_epochs: int
    quick_samples: int | None = None
    decay: float = 0.0
    #: how nnfs_gpu trains it: "model" (Model.train), "chapter10" (the book's chapter-10 loop of layer
    #: and optimizer calls on nnfs_gpu.book's names, book_chapter10.py), or "script" (that loop as
    #: the book publishes it, under nnfs.init(), against the book's own classes)
    loop: str = "model"

    def scaled(self, quick: bool) -> "Workload":
        """The --quick variant: fewer epochs (and samples), same shapes."""
        if not quick:
            return self
        return dataclasses.replace(self, samples=self.quick_samples or self.samples, epochs=self.quick_epochs)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """Float32 inputs and integer labels, the same for every contender (fixed seed)."""
        if self.sizes == (2, 64, 3):
            np.random.seed(0)
            return spiral_data(self.samples // 3, 3)
        rng = np.random.default_rng(0)
        X = rng.uniform(-1, 1, (self.samples, self.sizes[0])).astype(np.float32)
        y = rng.integers(0, self.sizes[-1], self.samples).astype(np.uint8)
        return X, y

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.batch_size is None else -(-self.samples // self.batch_size)

    def useful_flops(self) -> float:
        """Matrix-multiply FLOPs of training: forward, weight gradients, and input gradients of all but
        the first layer (nobody needs the gradient of the data)."""
        products = [n_in * n_out for n_in, n_out in zip(self.sizes, self.sizes[1:])]
        per_sample = 2 * sum(products) + 2 * sum(products) + 2 * sum(products[1:])
        return float(per_sample) * self.samples * self.epochs


WORKLOADS = {
    "W0": Workload("W0", "chapter 10's script as published: spiral_data(100, 3), 2-64-3, Adam(0.05, decay 5e-7), "
                   "10001 epochs, the book's own classes vs nnfs_gpu.book", (2, 64, 3), 300, None, "adam", 0.05, 10001,
                   2001, decay=5e-7, loop="script"),
    "W1": Workload("W1", "spiral_data(1000, 3), 2-64-3, full batch, SGD lr 1 (tiny ops: overhead-bound)",
                   (2, 64, 3), 3000, None, "sgd", 1.0, 1000, 200),
    "W1-book": Workload("W1-book", "W1 through the book's chapter-10 loop of layer and optimizer calls (nnfs_gpu.book)",
                        (2, 64, 3), 3000, None, "sgd", 1.0, 1000, 200, loop="chapter10"),
    "W2": Workload("W2", "60000 x 784 synthetic, 784-128-128-10, batch 128, Adam, 1 epoch (the book's chapter 19)",
                   (784, 128, 128, 10), 60000, 128, "adam", 0.001, 1, 1, quick_samples=12800),
    "W3": Workload("W3", "1024-4096-4096-10, batch 1024, Adam, 20 steps (matrix-multiply bound)",
                   (1024, 4096, 4096, 10), 1024, None, "adam", 0.001, 20, 3),
}
