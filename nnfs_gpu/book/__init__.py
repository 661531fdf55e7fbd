"""The book's names, so its chapter code runs with only its imports changed.

    from nnfs_gpu.book import *        # Layer_Dense, Activation_ReLU, ..., Model, and np
    from nnfs_gpu.book.ch17 import *   # the same, with the classes as chapter 17 defines them

This module holds the final chapters' framework (chapters 19 to 22), which also runs the scripts of
chapters 9 to 16 as they are: the classes of those chapters are earlier versions of the same
classes, and everything a chapter script can see of them, these do too. Where a chapter's classes
behave differently, ``nnfs_gpu.book.chNN`` holds that chapter's, sharing everything else with this
module: ``ch17`` (Dense starts its weights at ``0.1 * randn``) and ``ch18`` (the first ``Model``:
no batches, a line every ``print_every`` epochs, one validation at the end).

The book's ``Model`` prints the book's lines wherever it runs (``nnfs_gpu.Model``'s own reporting
may differ); ``train(progress=True)`` asks for a progress bar instead.

``np`` here is NumPy for the book's own host-side lines (``np.argmax(output, axis=1)``,
``np.mean(predictions == y)``): it brings arrays of any backend to the host before calling NumPy,
so those lines also run when the network lives on a GPU. It is an explicit, user-facing transfer;
nothing inside the library converts device arrays implicitly.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy

from ..accuracy import Accuracy
from ..accuracy import Categorical as Accuracy_Categorical
from ..accuracy import Regression as Accuracy_Regression
from ..activations import Linear as Activation_Linear
from ..activations import ReLU as Activation_ReLU
from ..activations import Sigmoid as Activation_Sigmoid
from ..activations import Softmax as Activation_Softmax
from ..backends import to_numpy
from ..backends.base import array_origin
from ..backends.dlpack import HOST_LIBRARIES
from ..layers import Dense as Layer_Dense
from ..layers import Dropout as Layer_Dropout
from ..layers import Input as Layer_Input
from ..losses import BinaryCrossentropy as Loss_BinaryCrossentropy
from ..losses import CategoricalCrossentropy as Loss_CategoricalCrossentropy
from ..losses import Loss
from ..losses import MeanAbsoluteError as Loss_MeanAbsoluteError
from ..losses import MeanSquaredError as Loss_MeanSquaredError
from ..losses import SoftmaxCategoricalCrossentropy as Activation_Softmax_Loss_CategoricalCrossentropy
from ..model import Model as _Model
from ..optimizers import SGD as Optimizer_SGD
from ..optimizers import Adagrad as Optimizer_Adagrad
from ..optimizers import Adam as Optimizer_Adam
from ..optimizers import RMSprop as Optimizer_RMSprop
from ..progress import BookLines, Reporter

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


class Model(_Model):
    """The final chapters' ``Model``, printing the book's lines (``epoch:``, ``step:``, ``training,``,
    ``validation,``) wherever it runs, as the book's does."""

    default_print_every = 1  # the book's Model prints every step's line unless told otherwise

    def _make_reporter(self, verbose: bool, progress: bool | None, total_steps: int = 0, shows: bool = True,
                       throttled: bool = True, print_every: int | None = 1) -> Reporter:
        if progress or not verbose or not shows:
            return super()._make_reporter(verbose, progress, total_steps, shows, throttled, print_every)
        return self._book_lines(print_every)

    def _book_lines(self, print_every: int) -> Reporter:
        """The printing of the chapter this Model is from."""
        return BookLines()


def _to_host(value: Any) -> Any:
    """``value`` as NumPy takes it: NumPy and Python values as they are, any library's array (a torch
    CPU tensor too: its methods are not NumPy's) through ``to_numpy``."""
    return value if array_origin(value) in HOST_LIBRARIES else to_numpy(value)


#: values that are on the host already, recognised without a closer look
_PLAIN = frozenset({numpy.ndarray, int, float, bool, str, type(None)})


class _HostNumpy:
    """NumPy whose functions first bring device arrays among their arguments to the host."""

    def __getattr__(self, name: str) -> Any:
        """NumPy's ``name``, wrapped once and kept (the book's loops call ``np.argmax`` and
        ``np.mean`` every epoch; a new wrapper each time cost more than the call)."""
        attribute = getattr(numpy, name)
        if not callable(attribute) or isinstance(attribute, type):
            return attribute

        @functools.wraps(attribute)
        def on_host(*args: Any, **kwargs: Any) -> Any:
            if not all(type(value) in _PLAIN for value in (*args, *kwargs.values())):
                args = tuple(_to_host(arg) for arg in args)
                kwargs = {key: _to_host(value) for key, value in kwargs.items()}
            return attribute(*args, **kwargs)

        setattr(self, name, on_host)
        return on_host

    def __repr__(self) -> str:
        return "<numpy, bringing device arrays to the host (nnfs_gpu.book.np)>"


np = _HostNumpy()
