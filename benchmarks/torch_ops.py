"""What each fast path of the torch backend (backends/torch_ops.py) saves over the generic array-API
code it replaces, on torch's CPU device, one thread, W1-like sizes (3000 x 64 activations; W2's
118,282 parameters in one flat buffer for the updates). Prints microseconds per call, generic and
fast; then milliseconds per training step of tests/launch_workloads.py's W1 and W2 (Model.train, no
output) with every fast path and with the generic code in their place.

    python benchmarks/torch_ops.py
"""

from __future__ import annotations

import sys
import time
import timeit
import types
from pathlib import Path
from typing import Any, Callable

import torch

from nnfs_gpu import Backend
from nnfs_gpu.backends import create_backend
from nnfs_gpu.backends.torch_ops import TorchOps

ROWS, WIDTH, CLASSES, FLAT = 3000, 64, 3, 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10


def cases(backend: Any) -> dict[str, tuple[str, tuple, dict]]:
    """Each op's name, its arguments and keyword arguments (fresh tensors, seeded)."""
    generator = torch.Generator().manual_seed(0)

    def normal(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator)

    z, out = normal(ROWS, WIDTH), torch.empty(ROWS, WIDTH)
    probabilities = torch.softmax(normal(ROWS, CLASSES), dim=1)
    labels = torch.randint(0, CLASSES, (ROWS,), generator=generator)
    flat = [normal(FLAT), normal(FLAT), normal(FLAT).abs(), normal(FLAT).abs()]
    return {
        "dot (into out)": ("dot", (normal(ROWS, 2), normal(2, WIDTH)), {"out": out}),
        "relu": ("relu", (z,), {"out": out}),
        "relu_backward": ("relu_backward", (normal(ROWS, WIDTH), normal(ROWS, WIDTH)), {"out": out}),
        "softmax_cce_backward": ("softmax_cce_backward", (probabilities, labels), {"out": torch.empty(ROWS, CLASSES)}),
        "sum_rows": ("sum_rows", (z,), {"out": torch.empty(1, WIDTH)}),
        "adam_update (flat)": ("adam_update", (*flat, 1e-3, 0.9, 0.999, 1e-7, 3), {}),
        "rmsprop_update (flat)": ("rmsprop_update", (*flat[:3], 1e-3, 0.9, 1e-7), {}),
        "adagrad_update (flat)": ("adagrad_update", (*flat[:3], 1e-3, 1e-7), {}),
    }


def microseconds(call: Callable[[], Any], number: int = 100) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def milliseconds_per_step(workload: str, generic: bool, epochs: int = 100) -> float:
    """One training step of ``workload`` on torch's CPU, the fast paths replaced by the generic
    code when ``generic`` (the best of three runs)."""
    import nnfs_gpu
    import numpy as np
    from launch_workloads import WORKLOADS

    backend = create_backend("torch")
    if generic:
        for op in {name for name in vars(TorchOps) if not name.startswith("_")} & set(vars(Backend)):
            setattr(backend, op, types.MethodType(getattr(Backend, op), backend))
    best = float("inf")
    with nnfs_gpu.use_backend(backend):
        for _ in range(3):
            np.random.seed(0)
            model, X, y, batch = WORKLOADS[workload]()
            model.train(X, y, epochs=2, batch_size=batch, verbose=False)
            began = time.perf_counter()
            model.train(X, y, epochs=epochs, batch_size=batch, verbose=False)
            best = min(best, (time.perf_counter() - began) / (epochs * (len(X) // batch)) * 1e3)
    return best


def main() -> None:
    torch.set_num_threads(1)
    backend = create_backend("torch")
    print(f"torch {torch.__version__}, one thread; microseconds per call")
    for label, (op, args, kwargs) in cases(backend).items():
        generic = microseconds(lambda: getattr(Backend, op)(backend, *args, **kwargs))
        fast = microseconds(lambda: getattr(backend, op)(*args, **kwargs))
        print(f"{label:24} generic {generic:8.1f}  fast {fast:8.1f}  ({generic / fast:.1f}x)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    print("milliseconds per training step")
    for workload in ("W1", "W2"):
        generic, fast = milliseconds_per_step(workload, True), milliseconds_per_step(workload, False)
        print(f"{workload:24} generic {generic:8.3f}  fast {fast:8.3f}  ({generic / fast:.2f}x)")


if __name__ == "__main__":
    main()
