"""All trainable arrays of a model in one buffer each, so that a training step updates them at once.

``FlatParameters`` copies every parameter the trainable layers declare (``Layer.parameters``: a
Dense layer's ``weights`` and ``biases``) into one parameter buffer, and makes the layers' attributes
views into it; likewise one buffer for the gradients (``dweights``, ``dbiases``) and one per kind of
optimizer state (``weight_cache``, ``bias_cache``, ...). The book's per-layer attributes stay valid, but an optimizer step becomes one update over one
array: a handful of NumPy calls instead of a handful per parameter, one kernel launch on a GPU, and one
buffer for a distributed all-reduce. The arithmetic per element is unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import Backend
from ..protocol import Parameter, parameters_of


class FlatParameters:
    """Flat parameter, gradient and optimizer-state buffers with every layer's arrays as views.

    Only for backends whose arrays are views that share memory (``Backend.supports_views``).
    ``Model.train`` keeps one across calls while ``serves`` says every layer still holds its views,
    and makes a new one (copying the current arrays) when anything was replaced in between. A layer
    whose ``backward`` assigns new gradient arrays (instead of writing into the views, as ``Dense``
    does) still works: ``gather_gradients`` copies them in. A layer must not assign new parameter
    arrays itself while it trains (its optimizer updates them).
    """

    def __init__(self, layers: list[Any], backend: Backend, state_kinds: tuple[str, ...]) -> None:
        self.backend = backend
        self.layers = list(layers)
        self.state_kinds = tuple(state_kinds)
        self._assigned: list[tuple[Any, str, Any]] = []
        self._gradient_views: list[tuple[Any, str, Any]] = []
        self._slots: list[tuple[Any, Parameter, tuple[int, ...], slice]] = []
        start = 0
        for layer in layers:
            for parameter in parameters_of(layer):
                shape = tuple(getattr(layer, parameter.name).shape)
                size = math.prod(shape)
                self._slots.append((layer, parameter, shape, slice(start, start + size)))
                start += size
        self.params = self._gather(lambda layer, parameter: getattr(layer, parameter.name))
        self.grads = self._gather(lambda layer, parameter: None)
        self.states = {kind: self._gather(lambda layer, parameter, kind=kind: getattr(layer, parameter.state(kind), None))
                       for kind in state_kinds}
        self._point_layers_at_views()

    def _gather(self, current: Any) -> Any:
        """A flat buffer holding each slot's current array (zeros where there is none yet)."""
        total = self._slots[-1][3].stop if self._slots else 0
        flat = self.backend.zeros((total,))
        for layer, parameter, shape, rows in self._slots:
            value = current(layer, parameter)
            if value is not None:
                flat[rows] = self.backend.xp.reshape(self.backend.asfloat(value), (-1,))
        return flat

    def _view(self, flat: Any, shape: tuple[int, ...], rows: slice) -> Any:
        return self.backend.xp.reshape(flat[rows], shape)

    def _point_layers_at_views(self) -> None:
        for layer, parameter, shape, rows in self._slots:
            buffers = [(parameter.name, self.params), (parameter.gradient, self.grads)]
            buffers += [(parameter.state(kind), flat) for kind, flat in self.states.items()]
            for attribute, flat in buffers:
                view = self._view(flat, shape, rows)
                setattr(layer, attribute, view)
                self._assigned.append((layer, attribute, view))
                if flat is self.grads:
                    self._gradient_views.append((layer, attribute, view))

    def gather_gradients(self) -> None:
        """Makes ``grads`` hold every layer's current gradients (copying in any that a layer put in
        a new array) and points the layers at their views again."""
        for layer, attribute, view in self._gradient_views:
            current = getattr(layer, attribute)
            if current is not view:
                view[...] = self.backend.asfloat(current)
                setattr(layer, attribute, view)

    def serves(self, layers: list[Any], backend: Backend, state_kinds: tuple[str, ...]) -> bool:
        """Whether these are still the buffers of ``layers``: same layers, backend and state, and
        every array still the view this object put there."""
        return (
            backend is self.backend
            and tuple(state_kinds) == self.state_kinds
            and len(layers) == len(self.layers)
            and all(a is b for a, b in zip(layers, self.layers))
            and all(getattr(layer, attribute, None) is view for layer, attribute, view in self._assigned)
        )
