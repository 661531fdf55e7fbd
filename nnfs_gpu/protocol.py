"""The layer protocol: what a layer declares, so that everything that handles parameters finds them.

A layer is an object with ``forward(inputs, training)`` and ``backward(dvalues)``. A trainable layer
declares its arrays once, in ``parameters``: each ``Parameter`` names the attribute that holds the
array (``weights``), and from it the gradient's (``dweights``) and the optimizer state's
(``weight_momentums``, ``weight_cache``, ...), the book's names. Everything that handles parameters
(optimizers, flat buffers, data-parallel averaging, files, ``state_dict``, ``summary``, moving
between backends) reads that declaration, so a new trainable layer is one class in one file:

    class ScaleShift(Layer):
        parameters = (Parameter("scale"), Parameter("shift"))
        ...  # __init__ creates self.scale and self.shift; backward sets self.dscale and self.dshift

``nnfs_gpu.register_layer(ScaleShift)`` lets model files name it (see ``nnfs_gpu.serialization``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import checks
from ._bound import BackendBound


@dataclass(frozen=True)
class Parameter:
    """A trainable array of a layer: ``name`` is the attribute holding it, ``"d" + name`` its gradient,
    and ``prefix + "_" + kind`` each kind of optimizer state (``prefix`` is ``name`` unless given: the
    book's Dense keeps ``weight_cache`` for ``weights``)."""

    name: str
    prefix: str = ""

    def __post_init__(self) -> None:
        if not self.prefix:
            object.__setattr__(self, "prefix", self.name)

    @property
    def gradient(self) -> str:
        return "d" + self.name

    def state(self, kind: str) -> str:
        """The attribute holding this parameter's optimizer state of ``kind`` (``"cache"``, ...)."""
        return f"{self.prefix}_{kind}"


#: the book's Dense arrays: ``weights`` and ``biases``
BOOK_PARAMETERS = (Parameter("weights", "weight"), Parameter("biases", "bias"))


def parameters_of(layer: Any) -> tuple[Parameter, ...]:
    """What ``layer`` declares; a layer without a declaration that holds the book's ``weights`` and
    ``biases`` (a book-style class of the reader's own) is read as the book's Dense."""
    declared = getattr(layer, "parameters", None)
    if isinstance(declared, tuple):
        return declared
    return BOOK_PARAMETERS if hasattr(layer, "weights") and hasattr(layer, "biases") else ()


def set_each_layers_parameters(layers: list[Any], parameters: Any) -> None:
    """``Model.set_parameters``: each layer's ``set_parameters`` with its tuple of ``parameters``,
    after checking there is one tuple per layer, each of the layer's number of arrays."""
    if not isinstance(parameters, (list, tuple)) or len(parameters) != len(layers):
        got = f"{len(parameters)} items" if isinstance(parameters, (list, tuple)) else checks.shown(parameters)
        raise ValueError(f"set_parameters needs a list of {len(layers)} tuples of arrays, one per trainable layer, got {got}")
    for index, (arrays, layer) in enumerate(zip(parameters, layers)):
        declared = parameters_of(layer)
        if not (isinstance(arrays, (list, tuple)) and len(arrays) == len(declared)):
            names = ", ".join(parameter.name for parameter in declared)
            raise ValueError(f"set_parameters: item {index} must be a tuple ({names}) for {layer!r}, got {checks.shown(arrays)}")
    for arrays, layer in zip(parameters, layers):
        layer.set_parameters(*arrays)


class Layer(BackendBound):
    """The base of layers and activations: the protocol a Model and its files rely on.

    A subclass implements ``forward`` and ``backward``; a trainable one declares ``parameters`` and
    has its ``backward`` set each parameter's gradient. ``config`` gives the constructor arguments a
    file rebuilds the layer from; ``output_width`` lets a Model check that layers chain; a layer
    whose construction is costly (or draws random numbers) overrides ``from_parameters``.
    """

    #: the trainable arrays (none for activations, dropout, ...)
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    #: whether ``backward`` computes ``dinputs``; a Model turns it off for its first trainable layer
    needs_input_gradient = True
    #: the input width this layer takes (None: any)
    input_width: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Checks a subclass's declaration once, when it is defined (a list is taken as a tuple)."""
        super().__init_subclass__(**kwargs)
        declared = tuple(cls.parameters) if isinstance(cls.parameters, (tuple, list)) else None
        if declared is None or not all(isinstance(parameter, Parameter) for parameter in declared):
            raise TypeError(f"{cls.__name__}.parameters must be a tuple of nnfs_gpu.Parameter, got {cls.parameters!r}")
        cls.parameters = declared

    def forward(self, inputs: Any, training: bool = False) -> None:
        raise NotImplementedError

    def backward(self, dvalues: Any) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this layer, as plain data (saved in model files)."""
        return {}

    def output_width(self, input_width: int | None) -> int | None:
        """The width of the outputs for inputs of ``input_width`` (None: not known); the same by default."""
        return input_width

    def summary_row(self) -> tuple[str, str]:
        """What ``Model.summary`` says of this layer: its name, and notes beside its parameter count."""
        return repr(self), ""

    def get_parameters(self) -> tuple[Any, ...]:
        """The declared arrays, in their declared order."""
        return tuple(getattr(self, parameter.name) for parameter in self.parameters)

    def set_parameters(self, *arrays: Any) -> None:
        """Sets the declared arrays, in order (copies, so training never changes the caller's), from
        host or same-backend arrays of the shapes the layer holds now; nothing changes on an error."""
        names = [parameter.name for parameter in self.parameters]
        if len(arrays) != len(names):
            raise ValueError(f"{self!r}.set_parameters takes {len(names)} arrays ({', '.join(names)}), got {len(arrays)}")
        copies = [self.backend.copy(self.backend.asfloat(array)) for array in arrays]
        expected = self._parameter_shapes()
        got = tuple(tuple(array.shape) for array in copies)
        if got != expected:
            shapes = " and ".join(f"{name} {shape}" for name, shape in zip(names, expected))
            raise ValueError(f"{self!r} needs {shapes}, got {' and '.join(map(str, got))}")
        for name, array in zip(names, copies):
            setattr(self, name, array)

    @classmethod
    def parameter_shapes(cls, **config: Any) -> tuple[tuple[int, ...], ...] | None:
        """The shapes of the arrays a layer of ``config`` holds, in declared order, checked against a
        file's arrays before they are read (so a crafted file cannot make loading build a huge
        layer); a trainable class registered for files must define it. None: not said."""
        return None

    def _parameter_shapes(self) -> tuple[tuple[int, ...], ...]:
        shapes = type(self).parameter_shapes(**self.config())
        return shapes if shapes is not None else tuple(tuple(array.shape) for array in self.get_parameters())

    @classmethod
    def from_parameters(cls, *arrays: Any, **config: Any) -> Layer:
        """A layer of ``config`` holding copies of ``arrays`` (as ``set_parameters`` takes them), as a
        file is loaded. Built by the constructor with NumPy's global RNG put back afterwards, so that
        loading never moves it; a layer whose construction is costly overrides this."""
        state = np.random.get_state()
        try:
            layer = cls(**config)
        finally:
            np.random.set_state(state)
        layer.set_parameters(*arrays)
        return layer

    @property
    def has_penalty(self) -> bool:
        """Whether the layer adds a regularization penalty to the loss."""
        return False

    def regularization_loss(self) -> Any:
        """The layer's penalty, as a 0-d backend array (zero without one)."""
        return self.backend.xp.zeros((), dtype=self.backend.dtype, device=self.backend.device)


class BiasedProduct(Layer):
    """A capability: ``forward`` is a product (``forward_product``, into ``output``) plus the row
    ``biases``. ``training.forward`` then adds the biases together with the activation after the
    layer, in one fused op where the backend has one (``Activation.forward_biased``)."""

    def forward(self, inputs: Any, training: bool = False) -> None:
        self.forward_product(inputs)
        self.backend.add_bias(self.output, self.biases)

    def forward_product(self, inputs: Any) -> None:
        """``output = inputs · weights``, without the biases."""
        raise NotImplementedError


def fuses_bias(layer: Any) -> bool:
    """Whether ``layer`` keeps ``BiasedProduct``'s ``forward`` (in its class and on itself), so that its
    biases may be added by the activation after it."""
    return (isinstance(layer, BiasedProduct) and type(layer).forward is BiasedProduct.forward
            and "forward" not in vars(layer))
