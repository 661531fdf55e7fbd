"""Putting a Model together: checking that its layers fit together, linking them as the book's
``finalize`` does (each layer's ``prev`` and ``next``), and the one object that holds what a Model's
passes read, worked out once (``Assembly``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .activations import Sigmoid, Softmax
from .backends import use_backend
from .checks import shown
from .layers import Input
from .protocol import parameters_of
from .losses import CategoricalCrossentropy, SoftmaxCategoricalCrossentropy
from .training import forward_stages

if TYPE_CHECKING:
    from .model import Model


@dataclass
class Assembly:
    """What ``finalize`` works out from a Model's layers and loss; the passes read it from here."""

    #: hands each batch to the first layer
    input_layer: Input
    #: the width of the inputs the first layer takes, and of the last layer's outputs
    n_inputs: int
    n_outputs: int
    #: the layers a backward pass runs through: from the first trainable one (nothing before it has parameters)
    backward_layers: list[Any]
    #: the last layer, whose ``predictions`` turn outputs into answers
    output_layer_activation: Any
    #: the fused softmax + cross-entropy backward, when the model ends in Softmax with that loss
    softmax_classifier_output: SoftmaxCategoricalCrossentropy | None
    #: the forward pass as stages, fused where they can be (``training.forward_stages``)
    forward_stages: list[tuple[Any, Any]] = field(default_factory=list)

    def restage(self, layers: list[Any]) -> None:
        """Works the forward stages out again: ``fit``, ``evaluate`` and ``predict`` do, so that a
        layer whose ``forward`` was replaced after ``finalize`` runs its own code."""
        self.forward_stages = forward_stages(layers)


def assembled(name: str, doc: str) -> property:
    """A Model attribute read from its assembly (None before ``finalize``): the book's Model sets
    ``input_layer``, ``output_layer_activation``, ... in its ``finalize``; here they live in one place."""
    return property(lambda model: getattr(model.assembly, name, None), doc=doc)


def finalize(model: Model) -> Assembly:
    """Links the layers, checks that their shapes chain, and picks the softmax + CCE fast path."""
    if not model.layers:
        raise ValueError("the model has no layers; add some with model.add(...) before finalize()")
    if model.loss is None:
        raise ValueError("the model has no loss; call model.set(loss=...) before finalize()")
    _check_one_backend(model.layers)
    n_inputs, n_outputs = _check_widths(model.layers)
    _check_class_labels(model.class_labels, model.layers[-1], n_outputs)
    backend = model.backend
    for part in (model.loss, model.accuracy):
        if part is not None:
            part.backend = backend
    last = model.layers[-1]
    with use_backend(backend):
        input_layer = Input()
        fused = SoftmaxCategoricalCrossentropy() if isinstance(last, Softmax) and isinstance(model.loss, CategoricalCrossentropy) else None
    chain = [input_layer, *model.layers, model.loss]
    for previous, layer, following in zip(chain, chain[1:], chain[2:]):
        layer.prev, layer.next = previous, following
    trainable = [layer for layer in model.layers if parameters_of(layer)]
    for index, layer in enumerate(trainable):
        layer.needs_input_gradient = index > 0
    model.loss.remember_trainable_layers(trainable)
    assembly = Assembly(input_layer, n_inputs, n_outputs, model.layers[model.layers.index(trainable[0]):], last, fused)
    assembly.restage(model.layers)
    return assembly


def _check_one_backend(layers: list[Any]) -> None:
    kinds = {(b.name, b.dtype_name, b.precision, str(b.device)) for b in (layer.backend for layer in layers)}
    if len(kinds) > 1:
        found = ", ".join(f"{layer!r} on {layer.backend.name}/{layer.backend.dtype_name}" for layer in layers)
        raise ValueError(f"all layers must share one backend, got {found}; create them under one backend or use model.to(name)")


def _check_widths(layers: list[Any]) -> tuple[int, int]:
    """The model's input and output widths, after checking that each layer takes the width of the
    outputs before it (``Layer.input_width``, ``Layer.output_width``)."""
    if not any(parameters_of(layer) for layer in layers):
        raise ValueError("the model needs at least one layer with parameters (such as Dense)")
    n_inputs = width = giver = None
    for index, layer in enumerate(layers):
        takes = getattr(layer, "input_width", None)
        if takes is not None and width is not None and takes != width:
            raise ValueError(f"layer {index} {layer!r} takes {takes} inputs, but the layer before it that sets the "
                             f"width, {giver!r}, gives {width}; make them match")
        if width is None and n_inputs is None:
            n_inputs = takes
        output_width = getattr(layer, "output_width", None)
        given = output_width(width if width is not None else takes) if output_width is not None else None
        if takes is not None or given != width:
            giver = layer
        width = given
    if not hasattr(layers[-1], "predictions"):
        raise ValueError(
            f"the last layer, {layers[-1]!r}, is not an activation; end the model with Softmax, "
            f"Sigmoid or Linear (the activation that turns outputs into predictions)"
        )
    if n_inputs is None or width is None:
        raise ValueError("the model's input and output widths are unknown: no layer says the width it takes "
                         "(Layer.input_width) or gives (Layer.output_width)")
    return n_inputs, width


def _check_class_labels(labels: list[Any] | None, last: Any, n_outputs: int) -> None:
    """``labels`` (when set) name each class the model predicts: one per output of a Softmax, the
    two (0 and 1) of a Sigmoid; a model ending in another activation predicts values."""
    if labels is None:
        return
    classes = n_outputs if isinstance(last, Softmax) else 2 if isinstance(last, Sigmoid) else None
    if classes is None or len(labels) != classes:
        predicts = f"{classes} classes" if classes else "values, not classes"
        raise ValueError(f"class_labels {shown(labels)} name {len(labels)} classes, but {last!r} predicts {predicts}")


def require_finalized(model: Model, action: str) -> Assembly:
    """The model's assembly, after checking that ``action`` can run."""
    if model.assembly is None:
        raise RuntimeError(f"call model.finalize() before {action} (after add and set)")
    if action == "train" and (model.optimizer is None or model.accuracy is None):
        raise RuntimeError("training needs model.set(loss=..., optimizer=..., accuracy=...)")
    if action == "evaluate" and model.accuracy is None:
        raise RuntimeError("evaluate needs an accuracy; call model.set(accuracy=...)")
    return model.assembly
