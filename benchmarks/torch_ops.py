"""What each fast path of the torch backend (backends/torch_ops.py) saves over the generic array-API
code it replaces, on torch's CPU device, one thread, W1-like sizes (3000 x 64 activations; W2's
118,282 parameters in one flat buffer for the updates). Prints microseconds per call, generic and fast.

    python benchmarks/torch_ops.py
"""

from __future__ import annotations

import timeit
from typing import Any, Callable

import torch

from nnfs_gpu import Backend
from nnfs_gpu.backends import create_backend

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


def main() -> None:
    torch.set_num_threads(1)
    backend = create_backend("torch")
    print(f"torch {torch.__version__}, one thread; microseconds per call")
    for label, (op, args, kwargs) in cases(backend).items():
        generic = microseconds(lambda: getattr(Backend, op)(backend, *args, **kwargs))
        fast = microseconds(lambda: getattr(backend, op)(*args, **kwargs))
        print(f"{label:24} generic {generic:8.1f}  fast {fast:8.1f}  ({generic / fast:.1f}x)")


if __name__ == "__main__":
    main()
