"""Saving, loading and moving models, without pickle.

File format (version 1): one NumPy ``.npz`` archive (a zip of ``.npy`` arrays), whatever the file
is named. The member ``__nnfs_gpu__`` is a uint8 array holding UTF-8 JSON:
``{"format": "nnfs_gpu", "version": 1, "kind": "model" | "parameters", "dtype": ..., "layers": [...],
"loss": {...}, "optimizer": {...}, "accuracy": {...}}``; layer ``i``'s arrays are the members
``layers.{i}.weights``, ``layers.{i}.biases`` and, for a whole model, the optimizer state the book
keeps on the layer (``layers.{i}.weight_momentums``, ``layers.{i}.weight_cache``, ...).
Files are read with ``allow_pickle=False`` and objects are made only from the known classes below,
so loading a file never runs code from it. Writes go to a temporary file that replaces the target
only when complete, so a failed save leaves the previous file intact. Arrays are stored as host
NumPy arrays, so a file saved on one backend loads on any other.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import accuracy as accuracy_module
from . import activations, layers, losses, optimizers
from .backends import get_backend

FORMAT = "nnfs_gpu"
FORMAT_VERSION = 1
META = "__nnfs_gpu__"

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
DENSE_ARGUMENTS = ("n_inputs", "n_neurons", "weight_regularizer_l1", "weight_regularizer_l2", "bias_regularizer_l1", "bias_regularizer_l2")


class ModelFileError(ValueError):
    """A file that is not a readable nnfs_gpu model or parameter file; the message says why."""


# -- specs: objects as plain data and back ------------------------------------------------------------


def _known_type(obj: Any, table: dict[str, type], what: str) -> str:
    name = type(obj).__name__
    if table.get(name) is not type(obj):
        raise ValueError(f"cannot save {what} of type {type(obj).__qualname__}; savable {what}s: {', '.join(table)}")
    return name


def _layer_spec(layer: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": _known_type(layer, LAYER_TYPES, "layer")}
    if isinstance(layer, layers.Dense):
        spec.update({name: getattr(layer, name) for name in DENSE_ARGUMENTS})
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


@contextlib.contextmanager
def _rng_untouched() -> Iterator[None]:
    """Keeps NumPy's global RNG as it was while layers are rebuilt (Dense draws initial weights)."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def _build(spec: Any, table: dict[str, type], what: str, path: Path) -> Any:
    if not isinstance(spec, dict) or spec.get("type") not in table:
        raise ModelFileError(f"{path}: unknown {what} {spec!r}; known: {', '.join(table)}")
    cls = table[spec["type"]]
    arguments = {key: value for key, value in spec.items() if key != "type"}
    try:
        if cls is accuracy_module.Regression:
            built = cls()
            built.precision = arguments.get("precision")
            return built
        if cls in OPTIMIZER_TYPES.values():
            built = cls(**arguments["hyperparameters"])
            built.load_state_dict(spec)
            return built
        return cls(**arguments)
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"{path}: bad {what} description {spec!r} ({error})") from error


# -- reading and writing ----------------------------------------------------------------------------


def _umask() -> int:
    """The process's umask, read without changing it (os.umask can only be read by setting it,
    which would race with other threads creating files); 0o022, the usual one, where unreadable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _file_mode(path: Path) -> int:
    """The permissions a plain write would give: an existing file's own, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _write_atomically(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    members = {META: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays}
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".partial", delete=False)
    try:
        with handle:
            np.savez(handle, **members)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _file_mode(path))  # temporary files are private (0o600); saved models are not
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def _read(path: str | Path, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head[:1] == b"\x80":
        raise ModelFileError(
            f"{path} is a pickle file (the book's save format); nnfs_gpu never unpickles files, because "
            "unpickling can run code. Load it with the book's code, then save with nnfs_gpu"
        )
    if head != b"PK":
        raise ModelFileError(f"{path} is not an nnfs_gpu file (not a zip/npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if META not in archive.files:
                raise ModelFileError(f"{path} is an npz archive but not an nnfs_gpu file (no {META} member)")
            meta = json.loads(archive[META].tobytes().decode("utf-8"))
            arrays = {name: archive[name] for name in archive.files if name != META}
    except ModelFileError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path} is damaged or truncated ({type(error).__name__}: {error})") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an nnfs_gpu file (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
    if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {meta.get('version')!r}; this nnfs_gpu reads up to {FORMAT_VERSION}: upgrade nnfs_gpu"
        )
    if meta.get("kind") not in kinds:
        other = {"model": "Model.load(path)", "parameters": "model.load_parameters(path)"}.get(meta.get("kind"), "?")
        raise ModelFileError(f"{path} holds {meta.get('kind')!r}, not {kinds[0]!r}; load it with {other}")
    if not isinstance(meta.get("layers"), list) or not all(isinstance(spec, dict) for spec in meta["layers"]):
        raise ModelFileError(f"{path}: the layer list is missing or malformed")
    return meta, arrays


def _array(arrays: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in arrays:
        raise ModelFileError(f"{path}: the array {name!r} is missing")
    return arrays[name]


# -- public operations --------------------------------------------------------------------------------


def _parameter_arrays(model: Any) -> dict[str, np.ndarray]:
    arrays = {}
    for index, layer in enumerate(model.layers):
        if hasattr(layer, "weights"):
            arrays[f"layers.{index}.weights"] = layer.backend.to_numpy(layer.weights)
            arrays[f"layers.{index}.biases"] = layer.backend.to_numpy(layer.biases)
    return arrays


def _base_meta(model: Any, kind: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "dtype": model.backend.dtype_name,
        "saved_from": model.backend.name,
        "layers": [_layer_spec(layer) for layer in model.layers],
    }


def save_parameters(model: Any, path: str | Path) -> None:
    """Saves the trainable layers' weights and biases."""
    _write_atomically(path, _base_meta(model, "parameters"), _parameter_arrays(model))


def load_parameters(model: Any, path: str | Path) -> None:
    """Loads weights and biases saved by ``save_parameters`` (or ``save``) into a model of the same shape."""
    path = Path(path)
    meta, arrays = _read(path, ("parameters", "model"))
    saved = [(index, spec) for index, spec in enumerate(meta["layers"]) if spec.get("type") == "Dense"]
    saved_shapes = [(spec.get("n_inputs"), spec.get("n_neurons")) for _, spec in saved]
    model_shapes = [(layer.n_inputs, layer.n_neurons) for layer in model.layers if isinstance(layer, layers.Dense)]
    if saved_shapes != model_shapes:
        raise ModelFileError(f"{path} holds Dense layers {saved_shapes}, which do not fit this model's {model_shapes}")
    model.set_parameters(
        [(_array(arrays, f"layers.{i}.weights", path), _array(arrays, f"layers.{i}.biases", path)) for i, _ in saved]
    )


def save_model(model: Any, path: str | Path) -> None:
    """Saves architecture, parameters, loss, accuracy, optimizer settings, state and step count."""
    meta = _base_meta(model, "model")
    meta["loss"] = {"type": _known_type(model.loss, LOSS_TYPES, "loss")} if model.loss is not None else None
    meta["accuracy"] = _accuracy_spec(model.accuracy)
    arrays = _parameter_arrays(model)
    meta["optimizer"] = None
    if model.optimizer is not None:
        _known_type(model.optimizer, OPTIMIZER_TYPES, "optimizer")
        meta["optimizer"] = model.optimizer.state_dict()
        for index, layer in enumerate(model.layers):
            for name in model.optimizer.state_attributes:
                if hasattr(layer, name):
                    arrays[f"layers.{index}.{name}"] = layer.backend.to_numpy(getattr(layer, name))
    _write_atomically(path, meta, arrays)


@dataclass
class ModelParts:
    """What a model file holds, rebuilt on the current backend; ``Model.load`` assembles a Model."""

    layers: list[Any] = field(default_factory=list)
    loss: Any = None
    optimizer: Any = None
    accuracy: Any = None


def load_model(path: str | Path) -> ModelParts:
    """The parts of a saved model on the current backend, ready to predict or to resume training."""
    path = Path(path)
    meta, arrays = _read(path, ("model",))
    parts = ModelParts(
        loss=_build(meta["loss"], LOSS_TYPES, "loss", path) if meta.get("loss") else None,
        optimizer=_build(meta["optimizer"], OPTIMIZER_TYPES, "optimizer", path) if meta.get("optimizer") else None,
        accuracy=_build(meta["accuracy"], ACCURACY_TYPES, "accuracy", path) if meta.get("accuracy") else None,
    )
    state_attributes = parts.optimizer.state_attributes if parts.optimizer is not None else ()
    backend = get_backend()
    with _rng_untouched():
        for index, spec in enumerate(meta["layers"]):
            layer = _build(spec, LAYER_TYPES, "layer", path)
            if isinstance(layer, layers.Dense):
                layer.set_parameters(_array(arrays, f"layers.{index}.weights", path), _array(arrays, f"layers.{index}.biases", path))
                for name in state_attributes:
                    key = f"layers.{index}.{name}"
                    if key in arrays:
                        state = backend.asfloat(arrays[key])
                        reference = layer.weights if name.startswith("weight") else layer.biases
                        if tuple(state.shape) != tuple(reference.shape):
                            raise ModelFileError(f"{path}: {key} has shape {tuple(state.shape)}, expected {tuple(reference.shape)}")
                        setattr(layer, name, state)
            parts.layers.append(layer)
    return parts
