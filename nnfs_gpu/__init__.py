"""nnfs_gpu: the framework of *Neural Networks from Scratch in Python* on NumPy, CuPy or any array-API backend."""

from .accuracy import Accuracy, Categorical, Regression
from .activations import Linear, ReLU, Sigmoid, Softmax
from .backends import (
    ArrayAPIBackend,
    Backend,
    BackendStatus,
    BackendUnavailableError,
    ForeignArrayError,
    available_backends,
    get_backend,
    register_backend,
    register_namespace,
    set_backend,
    to_numpy,
    use_backend,
)
from .launch import stop_all_ranks_on_uncaught_errors
from .layers import Dense, Dropout, Input
from .protocol import Layer, Parameter
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
)
from .model import Model
from .optimizers import SGD, Adagrad, Adam, Optimizer, RMSprop
from .serialization import ModelFileError, register_layer

__version__ = "0.1.0"

stop_all_ranks_on_uncaught_errors()  # only under an MPI launcher: a rank that fails must not leave the others waiting

__all__ = [
    "Accuracy",
    "Adagrad",
    "Adam",
    "ArrayAPIBackend",
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "BinaryCrossentropy",
    "Categorical",
    "CategoricalCrossentropy",
    "Dense",
    "Dropout",
    "ForeignArrayError",
    "Input",
    "Layer",
    "Linear",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Model",
    "ModelFileError",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Regression",
    "SGD",
    "Sigmoid",
    "Softmax",
    "SoftmaxCategoricalCrossentropy",
    "available_backends",
    "get_backend",
    "register_backend",
    "register_layer",
    "register_namespace",
    "set_backend",
    "to_numpy",
    "use_backend",
]
