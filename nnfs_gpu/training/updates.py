"""How a training step applies its optimizer: once over flat buffers, or layer by layer as the book does.

``Optimizer.flat`` chooses (see ``nnfs_gpu.optimizers``). Both kinds of update offer the same calls
to the training loop: the parameter arrays (which a data-parallel run makes equal on every rank),
the gradient arrays (which a data-parallel step averages over the ranks), putting averaged gradients
back, and applying the optimizer's step; ``flat`` says whether those are one buffer or the layers' own.
"""

from __future__ import annotations

from typing import Any

from ..backends import Backend
from ..protocol import parameters_of
from .flat import FlatParameters


class LayerwiseUpdate:
    """The book's update: ``pre_update_params``, ``update_params`` per trainable layer, ``post_update_params``."""

    flat = False

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers
        self._slots = [(layer, parameter) for layer in layers for parameter in parameters_of(layer)]

    def parameters(self) -> list[Any]:
        return [getattr(layer, parameter.name) for layer, parameter in self._slots]

    def gradients(self) -> list[Any]:
        return [getattr(layer, parameter.gradient) for layer, parameter in self._slots]

    def set_gradients(self, gradients: list[Any]) -> None:
        for (layer, parameter), gradient in zip(self._slots, gradients):
            setattr(layer, parameter.gradient, gradient)

    def apply(self, optimizer: Any) -> None:
        optimizer.pre_update_params()
        for layer in self.layers:
            optimizer.update_params(layer)
        optimizer.post_update_params()


class FlatUpdate:
    """The same update over every parameter at once: one optimizer call on one flat buffer."""

    flat = True

    def __init__(self, buffers: FlatParameters) -> None:
        self.buffers = buffers

    def parameters(self) -> list[Any]:
        return [self.buffers.params]

    def gradients(self) -> list[Any]:
        self.buffers.gather_gradients()
        return [self.buffers.grads]

    def set_gradients(self, gradients: list[Any]) -> None:
        (summed,) = gradients
        if summed is not self.buffers.grads:
            self.buffers.grads[...] = summed

    def apply(self, optimizer: Any) -> None:
        self.buffers.gather_gradients()
        optimizer.pre_update_params()
        optimizer.update_flat(self.buffers)
        optimizer.post_update_params()


def why_not_flat(layers: list[Any], optimizer: Any, backend: Backend) -> str | None:
    """Why a flat update cannot apply here, or None when it can."""
    if not callable(getattr(optimizer, "update_flat", None)):
        return f"{type(optimizer).__name__} has no update_flat (only nnfs_gpu's optimizers do)"
    if backend.mixes_float64:
        return "book precision keeps float64 gradients where the book has them, which one float32 buffer cannot hold"
    if not backend.supports_views:
        return f"the {backend.name!r} backend's arrays are not views into a shared buffer"
    return None


class UpdateCache:
    """A Model's flat buffers, kept across ``train`` calls while they still serve its layers."""

    def __init__(self) -> None:
        self.buffers: FlatParameters | None = None

    def forget(self) -> None:
        """Drops the buffers (after a move to another backend, which they do not belong to)."""
        self.buffers = None

    def for_training(self, layers: list[Any], optimizer: Any, backend: Backend) -> LayerwiseUpdate | FlatUpdate:
        """The update that ``optimizer.flat`` asks for; ``flat=True`` where it cannot apply is an error."""
        setting = getattr(optimizer, "flat", False)  # a book-style optimizer: the book's loop
        reason = None if setting is False else why_not_flat(layers, optimizer, backend)
        if setting is True and reason is not None:
            raise ValueError(f"the optimizer asks for flat=True, but a flat update cannot apply: {reason}; use flat=None")
        if setting is False or reason is not None:
            return LayerwiseUpdate(layers)
        kinds = optimizer.state_kinds
        if self.buffers is None or not self.buffers.serves(layers, backend, kinds):
            self.buffers = FlatParameters(layers, backend, kinds)
        return FlatUpdate(self.buffers)
