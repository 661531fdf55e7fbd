"""What a Model is made of, for people: ``Model.summary()`` and the Model's repr."""

from __future__ import annotations

import math
from typing import Any

from .protocol import parameters_of


class ModelSummary(str):
    """The summary's text; it shows as the table itself in a REPL or a notebook, not as a quoted string."""

    def __repr__(self) -> str:
        return str(self)


def model_repr(model: Any) -> str:
    layers = ", ".join(repr(layer) for layer in model.layers)
    return f"Model([{layers}], loss={model.loss!r}, optimizer={model.optimizer!r}, accuracy={model.accuracy!r})"


def summary(model: Any) -> ModelSummary:
    """A table of the layers (output shapes, parameter counts, regularizers, dropout), the totals,
    the backend, device and dtype, and the loss, optimizer and accuracy."""
    rows, width, total = [], None, 0
    for index, layer in enumerate(model.layers):
        count = sum(math.prod(getattr(layer, parameter.name).shape) for parameter in parameters_of(layer))
        takes = getattr(layer, "input_width", None)
        width = layer.output_width(width if width is not None else takes) if hasattr(layer, "output_width") else None
        total += count
        name, notes = layer.summary_row() if hasattr(layer, "summary_row") else (repr(layer), "")
        rows.append((str(index), name, f"(samples, {width})", f"{count:,}", notes))
    header = ("#", "layer", "output", "parameters", "notes")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    aligned = ["  ".join(cell.rjust(w) if column == 3 else cell.ljust(w) for column, (cell, w) in enumerate(zip(row, widths))).rstrip()
               for row in [header, *rows]]
    backend = model.backend
    lines = [f"Model: {len(model.layers)} layers, {total:,} parameters; {backend.describe()}"
             + (", book precision" if backend.precision == "book" else ""), *aligned]
    fused = " (fused with the softmax's gradient)" if model.softmax_classifier_output is not None else ""
    lines.append(f"loss: {model.loss!r}{fused}; optimizer: {model.optimizer!r}; accuracy: {model.accuracy!r}")
    if not model.finalized:
        lines.append("not finalized yet: call model.finalize() before training")
    return ModelSummary("\n".join(lines))
