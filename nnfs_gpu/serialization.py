"""Saving, loading and moving models, without pickle.

File format (version 1): one NumPy ``.npz`` archive (a zip of ``.npy`` arrays), whatever the file
is named. The member ``__nnfs_gpu__`` is a uint8 array holding UTF-8 JSON:
``{"format": "nnfs_gpu", "version": 1, "kind": "model" | "parameters", "dtype": ..., "layers": [...],
"loss": {...}, "optimizer": {...}, "accuracy": {...}}``. A layer is described as ``{"type": NAME,
**layer.config()}``; layer ``i``'s arrays are the members ``layers.{i}.NAME`` for each parameter it
declares (``layers.{i}.weights``, ``layers.{i}.biases`` for Dense) and, for a whole model, the
optimizer state the book keeps on the layer (``layers.{i}.weight_momentums``, ...).

Layer types are named by a registry: ``register_layer(cls)`` lets files name ``cls`` (by its class
name unless told otherwise), and the built-in layers and activations are registered here. Files are
read without pickle and objects are made only from registered classes and the known losses,
optimizers and accuracies below, so loading a file never runs code from it; ``nnfs_gpu.model_file`` reads a file without trusting it (bounded
by the file's size, every header checked before anything is allocated). Writes go through
``nnfs_gpu.files``: a temporary file replaces the target only when complete, so a failed save
leaves the previous file intact, and a model whose parameters are NaN or infinite (a diverged run)
is refused rather than written over a good file. Arrays are stored as host NumPy arrays, so a file
saved on one backend loads on any other.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import accuracy as accuracy_module
from . import activations, checks, layers, losses, optimizers
from .protocol import Layer, parameters_of
from .files import write_atomically
from .model_file import FORMAT, FORMAT_VERSION, META, ModelFile, ModelFileError

__all__ = ["ModelFileError", "ModelParts", "load_model", "load_parameters", "register_layer", "save_model", "save_parameters"]

#: the layer classes a file may name, by the names files use (``register_layer`` adds to it)
LAYER_TYPES: dict[str, type] = {}


def register_layer(cls: type, name: str | None = None) -> type:
    """Lets model files name the layer class ``cls`` (as ``name``, by default its class name), so that
    models holding it save and load; returns ``cls``, so it can decorate the class. Loading builds
    only registered classes: ``cls(**config)`` with the saved ``config()`` (for a layer without
    parameters) or ``cls.from_parameters(*arrays, **config)``. A class with parameters must say their
    shapes from its config (``Layer.parameter_shapes``): a file's arrays are checked against them
    before anything is built, which keeps loading a crafted file bounded. Registering a class again
    (a notebook cell run twice) replaces the earlier definition."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer takes a subclass of nnfs_gpu.Layer, got {checks.shown(cls)}")
    if cls.parameters and cls.parameter_shapes.__func__ is Layer.parameter_shapes.__func__:
        raise TypeError(f"register_layer: {cls.__name__} declares parameters, so it must define the classmethod "
                        f"parameter_shapes(**config) giving their shapes (see nnfs_gpu.Layer.parameter_shapes)")
    name = cls.__name__ if name is None else checks.instance(name, str, "name", "a name such as 'ScaleShift'", owner="register_layer")
    known = LAYER_TYPES.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"register_layer: the name {name!r} is taken by {known.__module__}.{known.__qualname__}; "
                         "register the class under another name")
    LAYER_TYPES[name] = cls
    return cls


for _builtin in (layers.Dense, layers.Dropout, activations.ReLU, activations.Softmax, activations.Sigmoid, activations.Linear):
    register_layer(_builtin)
LOSS_TYPES = {
    cls.__name__: cls
    for cls in (losses.CategoricalCrossentropy, losses.BinaryCrossentropy, losses.MeanSquaredError, losses.MeanAbsoluteError)
}
OPTIMIZER_TYPES = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adagrad, optimizers.RMSprop, optimizers.Adam)}
ACCURACY_TYPES = {"Categorical": accuracy_module.Categorical, "Regression": accuracy_module.Regression}


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
    fix = f"; let files name it with nnfs_gpu.register_layer({kind.__name__})" if table is LAYER_TYPES else ""
    raise ValueError(f"cannot save {what} of type {kind.__qualname__}; savable {what}s: {', '.join(table)}{fix}")


def _layer_spec(layer: Any) -> dict[str, Any]:
    """``{"type": name, **config()}``, after checking that the config rebuilds the layer (else the
    file could be written but never read)."""
    name, config = _known_type(layer, LAYER_TYPES, "layer"), layer.config()
    try:
        inspect.signature(LAYER_TYPES[name]).bind(**config)
    except TypeError as error:
        raise ValueError(f"cannot save {layer!r}: its config() {config!r} does not fit the arguments of {name} ({error}); "
                         "make config() return the constructor's arguments") from None
    return {"type": name, **config}


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


def _layer_class(spec: Any, file: ModelFile) -> tuple[type, dict[str, Any]]:
    """The registered class a layer's description names, and its config."""
    return _arguments(spec, LAYER_TYPES, "layer", file)


def _trainable_layers(file: ModelFile) -> list[tuple[int, type, dict[str, Any], tuple[tuple[int, ...], ...]]]:
    """``(index, class, config, parameter shapes)`` of each layer the description lists whose class
    declares parameters; the shapes are the class's for that config (``Layer.parameter_shapes``),
    checked before any array is read."""
    found = []
    for index, spec in enumerate(file.description["layers"]):
        cls, config = _layer_class(spec, file)
        if cls.parameters:
            found.append((index, cls, config, _built(lambda: _shapes(cls, config), spec, "layer", file)))
    return found


def _shapes(cls: type, config: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
    shapes = cls.parameter_shapes(**config)
    if not isinstance(shapes, tuple) or len(shapes) != len(cls.parameters):
        raise ValueError(f"{cls.__name__}.parameter_shapes gave {shapes!r}, not one shape per parameter")
    return shapes


def _parameter_members(trainable: list[tuple[int, type, dict[str, Any], Any]], state_kinds: tuple[str, ...] = ()
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The member names of the trainable layers' arrays (required) and of their optimizer state of
    ``state_kinds`` (where saved), each with the shape it must have."""
    required, optional = {}, {}
    for index, cls, _, shapes in trainable:
        for parameter, shape in zip(cls.parameters, shapes):
            required[f"layers.{index}.{parameter.name}"] = shape
            optional.update((f"layers.{index}.{parameter.state(kind)}", shape) for kind in state_kinds)
    return required, optional


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
        f"layers.{index}.{parameter.name}": _host_array(model, index, parameter.name, path)
        for index, layer in enumerate(model.layers)
        for parameter in parameters_of(layer)
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
    """Loads the parameters saved by ``save_parameters`` (or ``save``) into a model of the same layers."""
    with ModelFile(path, ("parameters", "model")) as file:
        trainable = _trainable_layers(file)
        theirs = [shapes for _, _, _, shapes in trainable]
        ours = [tuple(tuple(array.shape) for array in layer.get_parameters()) for layer in model.trainable_layers]
        if theirs != ours:
            raise file.error(f"holds trainable layers with parameters of shapes {theirs}, which do not fit this model's {ours}")
        arrays = file.read_arrays(_parameter_members(trainable)[0], {})
    model.set_parameters([tuple(arrays[f"layers.{index}.{parameter.name}"] for parameter in cls.parameters)
                          for index, cls, _, _ in trainable])


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
            for name in model.optimizer.state_names(layer):
                if hasattr(layer, name):
                    arrays[f"layers.{index}.{name}"] = _host_array(model, index, name, path)
    if getattr(model, "class_labels", None) is not None:
        meta["class_labels"] = list(model.class_labels)
    _write(path, meta, arrays)


@dataclass
class ModelParts:
    """What a model file holds, rebuilt on the current backend; ``Model.load`` assembles a Model."""

    path: str
    layers: list[Any] = field(default_factory=list)
    loss: Any = None
    optimizer: Any = None
    accuracy: Any = None
    class_labels: list[Any] | None = None

    def assembled(self, model: Any) -> Any:
        """``model`` (a new, empty Model) made of these parts, finalized when it has a loss."""
        model.layers = list(self.layers)  # each built here once: what add checks holds, in linear time
        model.set(loss=self.loss, optimizer=self.optimizer, accuracy=self.accuracy)
        model.class_labels = self.class_labels
        if model.loss is not None:
            try:
                model.finalize()
            except ValueError as error:
                raise ModelFileError(f"{self.path} describes a model that cannot be used ({error})") from error
        return model


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
    """The model's trainable state as host NumPy arrays: each trainable layer's parameters and
    optimizer state, and the optimizer's settings and step count."""
    return {
        "layers": [
            {name: layer.backend.to_numpy(getattr(layer, name)).copy()
             for name in _state_shapes(model, layer) if hasattr(layer, name)}
            for layer in model.trainable_layers
        ],
        "optimizer": model.optimizer.state_dict() if model.optimizer is not None else None,
    }


def _state_shapes(model: Any, layer: Any) -> dict[str, tuple[int, ...]]:
    """The arrays of ``layer`` a state dict may hold, with their shapes: its parameters, then the
    optimizer's state of each."""
    declared = parameters_of(layer)
    shapes = {parameter.name: tuple(getattr(layer, parameter.name).shape) for parameter in declared}
    kinds = model.optimizer.state_kinds if model.optimizer is not None else ()
    shapes.update((parameter.state(kind), shapes[parameter.name]) for parameter in declared for kind in kinds)
    return shapes


def load_state_dict(model: Any, state: dict[str, Any]) -> None:
    """Puts a ``state_dict`` back, checking and converting everything first (nothing changes when
    anything is wrong)."""
    if not isinstance(state, dict) or not isinstance(state.get("layers"), list):
        raise TypeError(f"load_state_dict needs what state_dict() returns (a dict with 'layers'), got {checks.shown(state)}")
    layers_ = model.trainable_layers
    if len(state["layers"]) != len(layers_):
        raise ValueError(f"load_state_dict: the state holds {len(state['layers'])} layers, the model has {len(layers_)} trainable layers")
    staged = [_staged_layer(layer, arrays, _state_shapes(model, layer)) for layer, arrays in zip(layers_, state["layers"])]
    if state.get("optimizer") is not None and model.optimizer is not None:
        model.optimizer.load_state_dict(state["optimizer"])
    for layer, arrays in staged:
        for name, array in arrays.items():
            setattr(layer, name, array)


def _staged_layer(layer: Any, arrays: Any, shapes: dict[str, tuple[int, ...]]) -> tuple[Any, dict[str, Any]]:
    """A layer's arrays of a state dict, checked against the layer and copied onto its backend."""
    needed = [parameter.name for parameter in parameters_of(layer)]
    if not isinstance(arrays, dict) or not set(needed) <= set(arrays) or not set(arrays) <= set(shapes):
        optional = [name for name in shapes if name not in needed]
        raise ValueError(f"load_state_dict: {layer!r} needs {' and '.join(needed)} (and optimizer state among "
                         f"{', '.join(optional) or 'none'}), got {checks.shown(arrays)}")
    staged = {}
    for name, array in arrays.items():
        if tuple(np.shape(array)) != shapes[name]:
            raise ValueError(f"load_state_dict: {name} of {layer!r} has shape {np.shape(array)}, expected {shapes[name]}")
        staged[name] = layer.backend.copy(layer.backend.asfloat(array))
    return layer, staged


def load_model(path: str | Path) -> ModelParts:
    """The parts of a saved model on the current backend, ready to predict or to resume training.

    The description is checked first, then the array headers, then the arrays are read; no layer
    draws initial weights (``Layer.from_parameters``)."""
    with ModelFile(path, ("model",)) as file:
        meta = file.description
        parts = ModelParts(
            path=str(path),
            loss=_build_part(meta.get("loss"), LOSS_TYPES, "loss", file),
            optimizer=_build_part(meta.get("optimizer"), OPTIMIZER_TYPES, "optimizer", file),
            accuracy=_build_part(meta.get("accuracy"), ACCURACY_TYPES, "accuracy", file),
            class_labels=_class_labels(file),
        )
        kinds = tuple(parts.optimizer.state_kinds) if parts.optimizer is not None else ()
        arrays = file.read_arrays(*_parameter_members(_trainable_layers(file), kinds))
        for index, spec in enumerate(meta["layers"]):
            cls, config = _layer_class(spec, file)
            parts.layers.append(_built(lambda: _layer(cls, index, config, arrays, kinds), spec, "layer", file))
    return parts


def _layer(cls: type, index: int, config: dict[str, Any], arrays: dict[str, np.ndarray], kinds: tuple[str, ...]) -> Any:
    """Layer ``index`` from its config and checked arrays (its optimizer state too, where saved)."""
    if not cls.parameters:
        return cls(**config)
    layer = cls.from_parameters(*(arrays[f"layers.{index}.{parameter.name}"] for parameter in cls.parameters), **config)
    for parameter in cls.parameters:
        for kind in kinds:
            saved = arrays.get(f"layers.{index}.{parameter.state(kind)}")  # its shape checked with its header
            if saved is not None:
                setattr(layer, parameter.state(kind), layer.backend.asfloat(saved))
    return layer
