"""What a Model is made of, for people: ``Model.summary()`` and the Model's repr."""

from __future__ import annotations

import math
from typing import Any

from .layers import REGULARIZERS, Dense, Dropout


class ModelSummary(str):
    """The summary's text; it shows as the table itself in a REPL or a notebook, not as a quoted string."""

    def __repr__(self) -> str:
        return str(self)


def model_repr(model: Any) -> str:
    layers = ", ".join(repr(layer) for layer in model.layers)
    return f"Model([{layers}], loss={model.loss!r}, optimizer={model.optimizer!r}, accuracy={model.accuracy!r})"


def _notes(layer: Any) -> str:
    if isinstance(layer, Dense):
        penalties = [f"{name.split('_')[0]} {name[-2:].upper()} {getattr(layer, name):g}" for name in
                     REGULARIZERS
                     if getattr(layer, name)]
        return ", ".join(penalties)
    if isinstance(layer, Dropout):
        return f"drops {layer.drop_rate:.0%} while training" + (", host RNG" if layer.host_rng else "")
    return ""


def summary(model: Any) -> ModelSummary:
    """A table of the layers (output shapes, parameter counts, regularizers, dropout), the totals,
    the backend, device and dtype, and the loss, optimizer and accuracy."""
    rows, width, total = [], getattr(model.layers[0], "n_inputs", None) if model.layers else None, 0
    for index, layer in enumerate(model.layers):
        count = sum(math.prod(array.shape) for array in layer.get_parameters()) if hasattr(layer, "get_parameters") else 0
        width = layer.n_neurons if isinstance(layer, Dense) else width
        total += count
        name = f"Dense({layer.n_inputs}, {layer.n_neurons})" if isinstance(layer, Dense) else repr(layer)
        rows.append((str(index), name, f"(samples, {width})", f"{count:,}", _notes(layer)))
    header = ("#", "layer", "output", "parameters", "notes")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    aligned = ["  ".join(cell.rjust(w) if column == 3 else cell.ljust(w) for column, (cell, w) in enumerate(zip(row, widths))).rstrip()
               for row in [header, *rows]]
    backend = model.backend
    lines = [f"Model: {len(model.layers)} layers, {total:,} parameters; {backend.describe()}"
             + (", book precision" if backend.precision == "book" else ""), *aligned]
    fused = " (fused with the softmax's gradient)" if getattr(model, "softmax_classifier_output", None) else ""
    lines.append(f"loss: {model.loss!r}{fused}; optimizer: {model.optimizer!r}; accuracy: {model.accuracy!r}")
    if not model.finalized:
        lines.append("not finalized yet: call model.finalize() before training")
    return ModelSummary("\n".join(lines))
