"""What each workload is timed on: nnfs_gpu's backends, the book-style baseline, PyTorch.

Each contender's ``prepare(workload, X, y)`` builds the model outside the timing and returns
``(train, synchronize)``: ``train()`` runs the workload once (continuing from where the last call
left off) and ``synchronize()`` waits for queued device work; or None when the workload is not
one it runs (PyTorch has no chapter-10 script).
"""

from __future__ import annotations

import contextlib
import io
from typing import Callable

import numpy as np

import book_baseline
import book_chapter10
from workloads import Workload

Trainer = tuple[Callable[[], object], Callable[[], None]]


def chapter10_trainer(names: object, workload: Workload, X: np.ndarray, y: np.ndarray, under_nnfs_init: bool) -> Callable[[], object]:
    """One run of chapter 10's loop over ``names`` (the book's classes or nnfs_gpu.book), from the
    same seed each time; the published script's ``nnfs.init()`` where the workload is the script."""

    def train() -> object:
        with book_chapter10.book_numpy() if under_nnfs_init else contextlib.nullcontext():
            np.random.seed(0)
            optimizer_class = names.Optimizer_SGD if workload.optimizer == "sgd" else names.Optimizer_Adam
            optimizer = optimizer_class(learning_rate=workload.learning_rate, decay=workload.decay)
            lines = io.StringIO()
            book_chapter10.loop(names, X, y, workload.epochs, optimizer, lines)
            return lines.getvalue()

    return train


def nnfs_gpu_contender(backend_name: str, **options: str) -> Callable[[Workload, np.ndarray, np.ndarray], Trainer]:
    """nnfs_gpu on ``set_backend(backend_name, **options)`` (a device for torch)."""

    def prepare(workload: Workload, X: np.ndarray, y: np.ndarray) -> Trainer:
        import nnfs_gpu

        if workload.loop != "model":
            import nnfs_gpu.book

            backend = nnfs_gpu.set_backend(backend_name, **options)
            return chapter10_trainer(nnfs_gpu.book, workload, X, y, workload.loop == "script"), backend.synchronize
        with nnfs_gpu.use_backend(backend_name, **options) as backend:
            np.random.seed(0)
            model = nnfs_gpu.Model()
            for index, (n_in, n_out) in enumerate(zip(workload.sizes, workload.sizes[1:])):
                model.add(nnfs_gpu.Dense(n_in, n_out))
                model.add(nnfs_gpu.ReLU() if index < len(workload.sizes) - 2 else nnfs_gpu.Softmax())
            optimizer = nnfs_gpu.SGD(workload.learning_rate) if workload.optimizer == "sgd" else nnfs_gpu.Adam(workload.learning_rate)
            model.set(loss=nnfs_gpu.CategoricalCrossentropy(), optimizer=optimizer, accuracy=nnfs_gpu.Categorical())
            model.finalize()
            X_device, y_device = backend.asarray(X), backend.asarray(y)

        def train() -> object:
            return model.train(X_device, y_device, epochs=workload.epochs, batch_size=workload.batch_size, verbose=False)

        return train, backend.synchronize

    return prepare


def book_contender(workload: Workload, X: np.ndarray, y: np.ndarray) -> Trainer:
    """The book's own chapter-10 classes for the published script (W0), else the book-style baseline."""
    if workload.loop == "script":
        return chapter10_trainer(book_chapter10.BOOK, workload, X, y, under_nnfs_init=True), lambda: None
    np.random.seed(0)

    def train() -> object:
        return book_baseline.train(workload.sizes, X, y, workload.optimizer, workload.learning_rate,
                                   workload.epochs, workload.batch_size)

    return train, lambda: None


def torch_contender(device: str) -> Callable[[Workload, np.ndarray, np.ndarray], Trainer | None]:
    def prepare(workload: Workload, X: np.ndarray, y: np.ndarray) -> Trainer | None:
        if workload.loop == "script":
            return None
        import torch

        torch.manual_seed(0)
        layers: list = []
        for index, (n_in, n_out) in enumerate(zip(workload.sizes, workload.sizes[1:])):
            layers.append(torch.nn.Linear(n_in, n_out))
            if index < len(workload.sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers).to(device)
        if workload.optimizer == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=workload.learning_rate)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=workload.learning_rate, eps=1e-7)
        loss_function = torch.nn.CrossEntropyLoss()
        X_device = torch.from_numpy(X).to(device)
        y_device = torch.from_numpy(y.astype(np.int64)).to(device)
        batch = workload.batch_size or len(X)

        def train() -> object:
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            for _ in range(workload.epochs):
                for start in range(0, len(X), batch):
                    batch_X, batch_y = X_device[start:start + batch], y_device[start:start + batch]
                    output = model(batch_X)
                    loss = loss_function(output, batch_y)
                    loss_sum += loss.detach() * len(batch_y)
                    correct += (output.argmax(dim=1) == batch_y).sum()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
            return float(loss_sum)

        synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        return train, synchronize

    return prepare
