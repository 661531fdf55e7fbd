"""nnfs_gpu: the framework of *Neural Networks from Scratch in Python* on NumPy, CuPy or any array-API backend."""

from .activations import ReLU, Softmax
from .backends import (
    Backend,
    BackendStatus,
    BackendUnavailableError,
    ForeignArrayError,
    available_backends,
    get_backend,
    register_backend,
    set_backend,
    to_numpy,
    use_backend,
)
from .layers import Dense
from .losses import CategoricalCrossentropy, Loss, SoftmaxCategoricalCrossentropy
from .optimizers import SGD, Optimizer

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "CategoricalCrossentropy",
    "Dense",
    "ForeignArrayError",
    "Loss",
    "Optimizer",
    "ReLU",
    "SGD",
    "Softmax",
    "SoftmaxCategoricalCrossentropy",
    "available_backends",
    "get_backend",
    "register_backend",
    "set_backend",
    "to_numpy",
    "use_backend",
]
