"""What each call of chapter 10's loop costs on the book's sizes (spiral 100x3, 2-64-3, Adam):
nnfs_gpu.book's classes on the numpy backend against the book's own classes, call by call, under
``nnfs.init()`` as the published script runs. Where the book's NumPy work is a few microseconds,
the difference is the framework's per-call overhead."""

from __future__ import annotations

import timeit
from typing import Any

from nnfs_gpu.datasets import spiral_data

import book_chapter10

CALLS = {
    "dense1.forward(X)": "dense1.forward(X)",
    "activation1.forward": "activation1.forward(dense1.output)",
    "dense2.forward": "dense2.forward(activation1.output)",
    "loss_activation.forward": "loss_activation.forward(dense2.output, y)",
    "np.argmax + np.mean": "np_.mean(np_.argmax(loss_activation.output, axis=1) == y)",
    "loss_activation.backward": "loss_activation.backward(loss_activation.output, y)",
    "dense2.backward": "dense2.backward(loss_activation.dinputs)",
    "activation1.backward": "activation1.backward(dense2.dinputs)",
    "dense1.backward": "dense1.backward(activation1.dinputs)",
    "optimizer.update_params(dense1)": "optimizer.update_params(dense1)",
}


def chapter10_objects(names: Any) -> dict[str, Any]:
    """The chapter's objects after one forward and backward pass, as the timed statements see them."""
    X, y = spiral_data(samples=100, classes=3)
    scope = {"X": X, "y": y, "np_": names.np, "dense1": names.Layer_Dense(2, 64), "activation1": names.Activation_ReLU(),
             "dense2": names.Layer_Dense(64, 3), "loss_activation": names.Activation_Softmax_Loss_CategoricalCrossentropy(),
             "optimizer": names.Optimizer_Adam(learning_rate=0.05, decay=5e-7)}
    for statement in CALLS.values():
        exec(statement, scope)
    return scope


def microseconds(statement: str, scope: dict[str, Any], repeats: int, number: int = 2000) -> float:
    return min(timeit.repeat(statement, number=number, repeat=repeats, globals=scope)) / number * 1e6


def per_call_costs(repeats: int) -> dict[str, dict[str, float]]:
    """{call: {"nnfs_gpu": µs, "book": µs}}, the fastest of ``repeats`` timings of each."""
    import nnfs_gpu.book

    costs: dict[str, dict[str, float]] = {call: {} for call in CALLS}
    with nnfs_gpu.use_backend("numpy"), book_chapter10.book_numpy():
        for label, names in (("nnfs_gpu", nnfs_gpu.book), ("book", book_chapter10.BOOK)):
            scope = chapter10_objects(names)
            for call, statement in CALLS.items():
                costs[call][label] = microseconds(statement, scope, repeats)
    return costs


def print_costs(costs: dict[str, dict[str, float]]) -> None:
    print("\nper call on chapter 10's sizes (µs, fastest of the repeats), chapter 10's loop in isolation:")
    print(f"  {'call':34}{'nnfs_gpu':>8}{'book':>8}   speedup")
    for call, cost in costs.items():
        print(f"  {call:34}{cost['nnfs_gpu']:8.1f}{cost['book']:8.1f}   {cost['book'] / cost['nnfs_gpu']:5.2f}x")
