"""Saving, loading and moving models, without pickle.

File format (version 1): one NumPy ``.npz`` archive (a zip of ``.npy`` arrays), whatever the file
is named. The member ``__nnfs_gpu__`` is a uint8 array holding UTF-8 JSON:
``{"format": "nnfs_gpu", "version": 1, "kind": "model" | "parameters", "dtype": ..., "layers": [...],
"loss": {...}, "optimizer": {...}, "accuracy": {...}}``; layer ``i``'s arrays are the members
``layers.{i}.weights``, ``layers.{i}.biases`` and, for a whole model, the optimizer state the book
keeps on the layer (``layers.{i}.weight_momentums``, ``layers.{i}.weight_cache``, ...).
Files are read without pickle and objects are made only from the known classes below, so loading
a file never runs code from it; ``nnfs_gpu.model_file`` reads a file without trusting it (bounded
by the file's size, every header checked before anything is allocated). Writes go through
``nnfs_gpu.files``: a temporary file replaces the target only when complete, so a failed save
leaves the previous file intact, and a model whose parameters are NaN or infinite (a diverged run)
is refused rather than written over a good file. Arrays are stored as host NumPy arrays, so a file
saved on one backend loads on any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import accuracy as accuracy_module
from . import activations, checks, layers, losses, optimizers
from .files import write_atomically
from .model_file import FORMAT, FORMAT_VERSION, META, ModelFile, ModelFileError

__all__ = ["ModelFileError", "ModelParts", "load_model", "load_parameters", "save_model", "save_parameters"]

LAYER_TYPES = {
    "Dense": layers.Dense,
    "Dropout": layers.Dropout,
    "ReLU": activations.ReLU,
    "Softmax": activations.Softmax,
    "Sigmoid": activations.Sigmoid,
    "Linear": activations.Linear,
}
LOSS_TYPES = {
    cls.__name__: cls
    for cls in (losses.CategoricalCrossentropy, losses.BinaryCrossentropy, losses.MeanSquaredError, losses.MeanAbsoluteError)
}
OPTIMIZER_TYPES = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adagrad, optimizers.RMSprop, optimizers.Adam)}
ACCURACY_TYPES = {"Categorical": accuracy_module.Categorical, "Regression": accuracy_module.Regression}
SHAPE_ARGUMENTS = ("n_inputs", "n_neurons")


# -- specs: objects as plain data and back ------------------------------------------------------------


def _known_type(obj: Any, table: dict[str, type], what: str) -> str:
    """The name ``obj`` is saved under: its class's, or for nnfs_gpu's own variants of a known class
    (a chapter's ``Layer_Dense``, which differs only in how it starts) the known class's."""
    kind = type(obj)
    if table.get(kind.__name__) is kind:
        return kind.__name__
    if kind.__module__.startswith("nnfs_gpu."):
        for name, known in table.items():
            if isinstance(obj, known):
                return name
    raise ValueError(f"cannot save {what} of type {kind.__qualname__}; savable {what}s: {', '.join(table)}")


def _layer_spec(layer: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": _known_type(layer, LAYER_TYPES, "layer")}
    if isinstance(layer, layers.Dense):
        spec.update({name: getattr(layer, name) for name in (*SHAPE_ARGUMENTS, *layers.REGULARIZERS)})
    elif isinstance(layer, layers.Dropout):
        spec.update(rate=layer.drop_rate, host_rng=layer.host_rng)
    return spec


def _accuracy_spec(accuracy: Any) -> dict[str, Any] | None:
    if accuracy is None:
        return None
    spec: dict[str, Any] = {"type": _known_type(accuracy, ACCURACY_TYPES, "accuracy")}
    if isinstance(accuracy, accuracy_module.Categorical):
        spec["binary"] = accuracy.binary
    else:
        spec["precision"] = accuracy.precision
    return spec


def _arguments(spec: Any, table: dict[str, type], what: str, file: ModelFile) -> tuple[type, dict[str, Any]]:
    """The class a spec names and its other entries (the constructor's arguments)."""
    if not isinstance(spec, dict) or spec.get("type") not in table:
        raise file.error(f"describes an unknown {what} {spec!r}; known: {', '.join(table)}")
    return table[spec["type"]], {key: value for key, value in spec.items() if key != "type"}


def _built(make: Any, spec: Any, what: str, file: ModelFile) -> Any:
    """``make()``, its argument errors (from the constructors' checks) turned into ModelFileError."""
    try:
        return make()
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise file.error(f"has a bad {what} description {spec!r} ({error})") from None


def _build_part(spec: Any, table: dict[str, type], what: str, file: ModelFile) -> Any:
    """The loss, optimizer or accuracy a spec describes (None for none)."""
    if spec is None:
        return None
    cls, arguments = _arguments(spec, table, what, file)
    if cls is accuracy_module.Regression:
        return _built(lambda: _regression(**arguments), spec, what, file)
    if cls in OPTIMIZER_TYPES.values():
        return _built(lambda: _optimizer(cls, spec), spec, what, file)
    return _built(lambda: cls(**arguments), spec, what, file)


def _regression(precision: Any) -> accuracy_module.Regression:
    """A Regression accuracy with the saved precision; 0 (the spread of constant targets, saved before
    they were handled) or None is measured again from the next data."""
    built = accuracy_module.Regression()
    if precision is not None:
        built.precision = checks.real_number(precision, "precision", at_least=0, owner="Regression") or None
    return built


def _optimizer(cls: type, spec: dict[str, Any]) -> Any:
    built = cls(**spec["hyperparameters"])
    built.load_state_dict(spec)
    return built


def _dense_shapes(file: ModelFile) -> dict[int, tuple[int, int]]:
    """Layer index -> (n_inputs, n_neurons) of every Dense layer the description lists, checked."""
    shapes = {}
    for index, spec in enumerate(file.description["layers"]):
        if spec.get("type") == "Dense":
            shapes[index] = _built(lambda: _sizes(spec, f"layer {index} (Dense)"), spec, "layer", file)
    return shapes


def _sizes(spec: dict[str, Any], owner: str) -> tuple[int, int]:
    n_inputs, n_neurons = (checks.whole_number(spec.get(name), name, minimum=1, owner=owner) for name in SHAPE_ARGUMENTS)
    return n_inputs, n_neurons


def _parameter_shapes(dense: dict[int, tuple[int, int]]) -> dict[str, tuple[int, ...]]:
    return {
        key: shape
        for index, (n_inputs, n_neurons) in dense.items()
        for key, shape in ((f"layers.{index}.weights", (n_inputs, n_neurons)), (f"layers.{index}.biases", (1, n_neurons)))
    }


# -- public operations --------------------------------------------------------------------------------


def _host_array(model: Any, index: int, name: str, path: Any) -> np.ndarray:
    """Layer ``index``'s array ``name`` on the host, refused when it is NaN or infinite."""
    layer = model.layers[index]
    array = layer.backend.to_numpy(getattr(layer, name))
    if not np.isfinite(array).all():
        raise ValueError(
            f"cannot save to {path}: layer {index} {layer!r} has NaN or infinite {name} (the run diverged); "
            "nothing was written, so a file already there keeps its good model"
        )
    return array


def _parameter_arrays(model: Any, path: Any) -> dict[str, np.ndarray]:
    return {
        f"layers.{index}.{name}": _host_array(model, index, name, path)
        for index, layer in enumerate(model.layers)
        if hasattr(layer, "weights")
        for name in ("weights", "biases")
    }


def _base_meta(model: Any, kind: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "dtype": model.backend.dtype_name,
        "saved_from": model.backend.name,
        "layers": [_layer_spec(layer) for layer in model.layers],
    }


def _write(path: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    members = {META: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays}
    write_atomically(path, lambda file: np.savez(file, **members), "save to")


def save_parameters(model: Any, path: str | Path) -> None:
    """Saves the trainable layers' weights and biases."""
    _write(path, _base_meta(model, "parameters"), _parameter_arrays(model, path))


def load_parameters(model: Any, path: str | Path) -> None:
    """Loads weights and biases saved by ``save_parameters`` (or ``save``) into a model of the same shape."""
    with ModelFile(path, ("parameters", "model")) as file:
        dense = _dense_shapes(file)
        model_shapes = [(layer.n_inputs, layer.n_neurons) for layer in model.layers if isinstance(layer, layers.Dense)]
        if list(dense.values()) != model_shapes:
            raise file.error(f"holds Dense layers {list(dense.values())}, which do not fit this model's {model_shapes}")
        arrays = file.read_arrays(_parameter_shapes(dense), {})
    model.set_parameters([(arrays[f"layers.{i}.weights"], arrays[f"layers.{i}.biases"]) for i in dense])


def save_model(model: Any, path: str | Path) -> None:
    """Saves architecture, parameters, loss, accuracy, optimizer settings, state and step count."""
    meta = _base_meta(model, "model")
    meta["loss"] = {"type": _known_type(model.loss, LOSS_TYPES, "loss")} if model.loss is not None else None
    meta["accuracy"] = _accuracy_spec(model.accuracy)
    arrays = _parameter_arrays(model, path)
    meta["optimizer"] = None
    if model.optimizer is not None:
        _known_type(model.optimizer, OPTIMIZER_TYPES, "optimizer")
        meta["optimizer"] = model.optimizer.state_dict()
        for index, layer in enumerate(model.layers):
            for name in model.optimizer.state_attributes:
                if hasattr(layer, name):
                    arrays[f"layers.{index}.{name}"] = _host_array(model, index, name, path)
    if getattr(model, "class_labels", None) is not None:
        meta["class_labels"] = list(model.class_labels)
    _write(path, meta, arrays)


@dataclass
class ModelParts:
    """What a model file holds, rebuilt on the current backend; ``Model.load`` assembles a Model."""

    layers: list[Any] = field(default_factory=list)
    loss: Any = None
    optimizer: Any = None
    accuracy: Any = None
    class_labels: list[Any] | None = None


def _class_labels(file: ModelFile) -> list[Any] | None:
    """The original class labels a model predicts (strings or numbers), when it was saved with them."""
    labels = file.description.get("class_labels")
    if labels is None:
        return None
    if not isinstance(labels, list) or not labels or not all(
        isinstance(label, (str, int, float)) and not isinstance(label, bool) for label in labels
    ):
        raise file.error(f"has bad class_labels {checks.shown(labels)}; they must be a list of strings or numbers")
    return labels


def state_dict(model: Any) -> dict[str, Any]:
    """The model's trainable state as host NumPy arrays: each trainable layer's weights, biases and
    optimizer state, and the optimizer's settings and step count."""
    names = model.optimizer.state_attributes if model.optimizer is not None else ()
    return {
        "layers": [
            {name: layer.backend.to_numpy(getattr(layer, name)).copy()
             for name in ("weights", "biases", *names) if hasattr(layer, name)}
            for layer in model.trainable_layers
        ],
        "optimizer": model.optimizer.state_dict() if model.optimizer is not None else None,
    }


def load_state_dict(model: Any, state: dict[str, Any]) -> None:
    """Puts a ``state_dict`` back, checking and converting everything first (nothing changes when
    anything is wrong)."""
    if not isinstance(state, dict) or not isinstance(state.get("layers"), list):
        raise TypeError(f"load_state_dict needs what state_dict() returns (a dict with 'layers'), got {checks.shown(state)}")
    layers_ = model.trainable_layers
    if len(state["layers"]) != len(layers_):
        raise ValueError(f"load_state_dict: the state holds {len(state['layers'])} layers, the model has {len(layers_)} trainable layers")
    known = ("weights", "biases", *(model.optimizer.state_attributes if model.optimizer is not None else ()))
    staged = [_staged_layer(layer, arrays, known) for layer, arrays in zip(layers_, state["layers"])]
    if state.get("optimizer") is not None and model.optimizer is not None:
        model.optimizer.load_state_dict(state["optimizer"])
    for layer, arrays in staged:
        for name, array in arrays.items():
            setattr(layer, name, array)


def _staged_layer(layer: Any, arrays: Any, known: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """A layer's arrays of a state dict, checked against the layer and copied onto its backend."""
    if not isinstance(arrays, dict) or not {"weights", "biases"} <= set(arrays) or not set(arrays) <= set(known):
        raise ValueError(f"load_state_dict: {layer!r} needs weights and biases (and optimizer state among "
                         f"{', '.join(known[2:]) or 'none'}), got {checks.shown(arrays)}")
    staged = {}
    for name, array in arrays.items():
        reference = layer.weights if name.startswith("weight") else layer.biases
        if tuple(np.shape(array)) != tuple(reference.shape):
            raise ValueError(f"load_state_dict: {name} of {layer!r} has shape {np.shape(array)}, expected {tuple(reference.shape)}")
        staged[name] = layer.backend.copy(layer.backend.asfloat(array))
    return layer, staged


def load_model(path: str | Path) -> ModelParts:
    """The parts of a saved model on the current backend, ready to predict or to resume training.

    The description is checked first, then the array headers, then the arrays are read; no layer
    draws initial weights (``Dense.from_parameters``)."""
    with ModelFile(path, ("model",)) as file:
        meta = file.description
        parts = ModelParts(
            loss=_build_part(meta.get("loss"), LOSS_TYPES, "loss", file),
            optimizer=_build_part(meta.get("optimizer"), OPTIMIZER_TYPES, "optimizer", file),
            accuracy=_build_part(meta.get("accuracy"), ACCURACY_TYPES, "accuracy", file),
            class_labels=_class_labels(file),
        )
        unknown = next((spec for spec in meta["layers"] if spec.get("type") not in LAYER_TYPES), None)
        if unknown is not None:
            _arguments(unknown, LAYER_TYPES, "layer", file)
        dense = _dense_shapes(file)
        state = parts.optimizer.state_attributes if parts.optimizer is not None else ()
        optional = {
            f"layers.{index}.{name}": (n_inputs, n_neurons) if name.startswith("weight") else (1, n_neurons)
            for index, (n_inputs, n_neurons) in dense.items()
            for name in state
        }
        arrays = file.read_arrays(_parameter_shapes(dense), optional)
        for index, spec in enumerate(meta["layers"]):
            cls, arguments = _arguments(spec, LAYER_TYPES, "layer", file)
            if cls is layers.Dense:
                parts.layers.append(_built(lambda: _dense(index, arguments, arrays, state), spec, "layer", file))
            else:
                parts.layers.append(_built(lambda: cls(**arguments), spec, "layer", file))
    return parts


def _dense(index: int, arguments: dict[str, Any], arrays: dict[str, np.ndarray], state: tuple[str, ...]) -> layers.Dense:
    """Layer ``index``, a Dense layer, from its checked arrays (its optimizer state too, where saved)."""
    regularizers = {key: value for key, value in arguments.items() if key not in SHAPE_ARGUMENTS}
    layer = layers.Dense.from_parameters(arrays[f"layers.{index}.weights"], arrays[f"layers.{index}.biases"], **regularizers)
    for name in state:
        if f"layers.{index}.{name}" in arrays:
            setattr(layer, name, layer.backend.asfloat(arrays[f"layers.{index}.{name}"]))
    return layer
