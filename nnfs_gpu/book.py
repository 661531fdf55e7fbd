"""The book's names, so its chapter code runs with only its imports changed.

    from nnfs_gpu.book import *      # Layer_Dense, Activation_ReLU, ..., and np

``np`` here is NumPy for the book's own host-side lines (``np.argmax(output, axis=1)``,
``np.mean(predictions == y)``): it brings arrays of any backend to the host before calling NumPy,
so those lines also run when the network lives on a GPU. It is an explicit, user-facing transfer;
nothing inside the library converts device arrays implicitly.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy

from .accuracy import Accuracy
from .accuracy import Categorical as Accuracy_Categorical
from .accuracy import Regression as Accuracy_Regression
from .activations import Linear as Activation_Linear
from .activations import ReLU as Activation_ReLU
from .activations import Sigmoid as Activation_Sigmoid
from .activations import Softmax as Activation_Softmax
from .backends import is_host, to_numpy
from .layers import Dense as Layer_Dense
from .layers import Dropout as Layer_Dropout
from .layers import Input as Layer_Input
from .losses import BinaryCrossentropy as Loss_BinaryCrossentropy
from .losses import CategoricalCrossentropy as Loss_CategoricalCrossentropy
from .losses import Loss
from .losses import MeanAbsoluteError as Loss_MeanAbsoluteError
from .losses import MeanSquaredError as Loss_MeanSquaredError
from .losses import SoftmaxCategoricalCrossentropy as Activation_Softmax_Loss_CategoricalCrossentropy
from .model import Model
from .optimizers import SGD as Optimizer_SGD
from .optimizers import Adagrad as Optimizer_Adagrad
from .optimizers import Adam as Optimizer_Adam
from .optimizers import RMSprop as Optimizer_RMSprop

__all__ = [
    "np",
    "Accuracy",
    "Accuracy_Categorical",
    "Accuracy_Regression",
    "Activation_Linear",
    "Activation_ReLU",
    "Activation_Sigmoid",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Layer_Dropout",
    "Layer_Input",
    "Loss",
    "Loss_BinaryCrossentropy",
    "Loss_CategoricalCrossentropy",
    "Loss_MeanAbsoluteError",
    "Loss_MeanSquaredError",
    "Model",
    "Optimizer_Adagrad",
    "Optimizer_Adam",
    "Optimizer_RMSprop",
    "Optimizer_SGD",
]


def _to_host(value: Any) -> Any:
    return value if is_host(value) else to_numpy(value)


class _HostNumpy:
    """NumPy whose functions first bring device arrays among their arguments to the host."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(numpy, name)
        if not callable(attribute) or isinstance(attribute, type):
            return attribute

        @functools.wraps(attribute)
        def on_host(*args: Any, **kwargs: Any) -> Any:
            args = tuple(_to_host(arg) for arg in args)
            kwargs = {key: _to_host(value) for key, value in kwargs.items()}
            return attribute(*args, **kwargs)

        return on_host

    def __repr__(self) -> str:
        return "<numpy, bringing device arrays to the host (nnfs_gpu.book.np)>"


np = _HostNumpy()
