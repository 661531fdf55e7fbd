"""Putting a Model together: checking that its layers fit together and linking them as the book's
``finalize`` does (each layer's ``prev`` and ``next``), with the choices a training step reads."""

from __future__ import annotations

from typing import Any

from .activations import Softmax
from .backends import use_backend
from .layers import Dense, Input
from .losses import CategoricalCrossentropy, SoftmaxCategoricalCrossentropy
from .training import forward_stages


def finalize(model: Any) -> None:
    """Links the layers, checks that their shapes chain, and picks the softmax + CCE fast path."""
    if not model.layers:
        raise ValueError("the model has no layers; add some with model.add(...) before finalize()")
    if model.loss is None:
        raise ValueError("the model has no loss; call model.set(loss=...) before finalize()")
    _check_one_backend(model.layers)
    model.n_inputs, model.n_outputs = _check_shapes(model.layers)
    backend = model.backend
    for part in (model.loss, model.accuracy):
        if part is not None:
            part.backend = backend
    with use_backend(backend):
        model.input_layer = Input()
        model.softmax_classifier_output = None
        if isinstance(model.layers[-1], Softmax) and isinstance(model.loss, CategoricalCrossentropy):
            model.softmax_classifier_output = SoftmaxCategoricalCrossentropy()
    chain = [model.input_layer, *model.layers, model.loss]
    for previous, layer, following in zip(chain, chain[1:], chain[2:]):
        layer.prev, layer.next = previous, following
    trainable = model.trainable_layers
    for index, layer in enumerate(trainable):
        layer.needs_input_gradient = index > 0
    model._backward_layers = model.layers[model.layers.index(trainable[0]):]  # nothing before the first Dense has parameters
    model._forward_stages = forward_stages(model.layers)
    model.output_layer_activation = model.layers[-1]
    model.loss.remember_trainable_layers(trainable)
    model.finalized = True


def _check_one_backend(layers: list[Any]) -> None:
    kinds = {(b.name, b.dtype_name, b.precision, str(b.device)) for b in (layer.backend for layer in layers)}
    if len(kinds) > 1:
        found = ", ".join(f"{layer!r} on {layer.backend.name}/{layer.backend.dtype_name}" for layer in layers)
        raise ValueError(f"all layers must share one backend, got {found}; create them under one backend or use model.to(name)")


def _check_shapes(layers: list[Any]) -> tuple[int, int]:
    """The model's input and output widths, after checking that the Dense layers chain."""
    dense = [(index, layer) for index, layer in enumerate(layers) if isinstance(layer, Dense)]
    if not dense:
        raise ValueError("the model needs at least one Dense layer")
    for (_, previous), (index, layer) in zip(dense, dense[1:]):
        if layer.n_inputs != previous.n_neurons:
            raise ValueError(
                f"layer {index} {layer!r} takes {layer.n_inputs} inputs, but the Dense layer before it, "
                f"{previous!r}, gives {previous.n_neurons}; make them match"
            )
    if not hasattr(layers[-1], "predictions"):
        raise ValueError(
            f"the last layer, {layers[-1]!r}, is not an activation; end the model with Softmax, "
            f"Sigmoid or Linear (the activation that turns outputs into predictions)"
        )
    return dense[0][1].n_inputs, dense[-1][1].n_neurons


def require_finalized(model: Any, action: str) -> None:
    if not model.finalized:
        raise RuntimeError(f"call model.finalize() before {action} (after add and set)")
    if action == "train" and (model.optimizer is None or model.accuracy is None):
        raise RuntimeError("training needs model.set(loss=..., optimizer=..., accuracy=...)")
    if action == "evaluate" and model.accuracy is None:
        raise RuntimeError("evaluate needs an accuracy; call model.set(accuracy=...)")
