"""The networks of the command line: built from the options (``train``), or loaded from a file
(``evaluate``, ``predict``, ``train --resume``), with the problem kind each one solves.

A new network is Dense layers of the ``--hidden`` sizes with ReLU (and dropout) between them and the
output layer, loss and accuracy of the problem kind; each optimizer starts from the settings the
book ends chapter 10 with, and datasets the book trains differently bring their own (PRESETS). A
resumed network is the file's: options that would build another one are refused.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from nnfs_gpu import (
    SGD,
    Adagrad,
    Adam,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dropout,
    MeanAbsoluteError,
    MeanSquaredError,
    Model,
    RMSprop,
)
from nnfs_gpu.networks import perceptron
from nnfs_gpu.cli.data import UsageError, existing_file

#: the problem kind of a loaded model, from its loss
LOSS_TASKS = {
    CategoricalCrossentropy: "classification",
    BinaryCrossentropy: "binary",
    MeanSquaredError: "regression",
    MeanAbsoluteError: "regression",
}
#: each optimizer with the settings chapter 10 ends with on the spiral data
OPTIMIZERS: dict[str, tuple[type, dict[str, float]]] = {
    "sgd": (SGD, {"learning_rate": 1.0, "decay": 1e-3, "momentum": 0.9}),
    "adagrad": (Adagrad, {"learning_rate": 1.0, "decay": 1e-4}),
    "rmsprop": (RMSprop, {"learning_rate": 0.02, "decay": 1e-5, "rho": 0.999}),
    "adam": (Adam, {"learning_rate": 0.05, "decay": 5e-7}),
}
#: the book's settings for the datasets it trains otherwise than chapter 10's spiral
PRESETS: dict[str, dict[str, Any]] = {
    "sine": {"hidden": (64, 64), "epochs": 2000, "adam": {"learning_rate": 0.005, "decay": 1e-3}},  # chapter 17
    "fashion-mnist": {"hidden": (128, 128), "epochs": 10, "batch_size": 128, "adam": {"learning_rate": 0.001, "decay": 1e-4}},
}
#: the optimizer settings that ``--resume`` may change (the state and step count stay)
TUNABLE = ("learning_rate", "decay", "momentum")


def build_model(n_inputs: int, n_outputs: int, task: str, args: argparse.Namespace) -> Model:
    """Dense layers of the --hidden sizes with ReLU (and dropout) after each, then the task's output layer."""
    return perceptron(n_inputs, args.hidden, n_outputs, task, make_optimizer(args), l2=args.l2 or 0.0,
                      dropout=args.dropout or 0.0)


def make_optimizer(args: argparse.Namespace) -> Any:
    """The chosen optimizer with the book's settings, the dataset's preset, then the options given."""
    cls, settings = OPTIMIZERS[args.optimizer]
    settings = {**settings, **PRESETS.get(args.dataset, {}).get(args.optimizer, {})}
    settings.update({name: getattr(args, name) for name in TUNABLE if getattr(args, name) is not None})
    return cls(**settings)


def load_model(path: str) -> Model:
    """A saved model, ready to predict (ModelFileError says what is wrong with a bad file)."""
    existing_file(path, "model file")
    model = Model.load(path)
    if not model.finalized:
        raise UsageError(f"{path}: the model was saved without a loss, so it cannot be used; save it after model.set(loss=...)")
    return model


def model_task(model: Model) -> str:
    """The problem kind of a loaded model, from its loss."""
    task = LOSS_TASKS.get(type(model.loss))
    if task is None or model.accuracy is None:
        raise UsageError(
            f"the model has loss {model.loss!r} and accuracy {model.accuracy!r}; evaluating it needs "
            f"one of {', '.join(cls.__name__ for cls in LOSS_TASKS)} and an accuracy"
        )
    return task


def resumed_model(args: argparse.Namespace) -> tuple[Model, str, list[str]]:
    """``--resume``'s model (layers, optimizer state, step count), its task, and lines that say what
    was loaded and changed; options that would build another network are refused, all named at once."""
    model = load_model(args.resume)
    task = model_task(model)
    conflicts = _conflicts(model, task, args)
    if conflicts:
        raise UsageError(f"--resume {args.resume}: {'; '.join(conflicts)}; leave these options out to train the "
                         "saved network further (or leave out --resume to train a new one)")
    notes = [f"resuming {args.resume} after {model.optimizer.iterations} steps"]
    changed = _tune(model.optimizer, args)
    if changed:
        notes.append(f"changed the optimizer's {changed} (its state and step count stay)")
    return model, task, notes


def _conflicts(model: Model, task: str, args: argparse.Namespace) -> list[str]:
    """What the options say against the saved network."""
    hidden_layers = model.trainable_layers[:-1]
    hidden = tuple(layer.output_width(None) for layer in hidden_layers)
    rates = [layer.drop_rate for layer in model.layers if isinstance(layer, Dropout)]
    penalties = [layer.config().get(name, 0.0) for layer in hidden_layers for name in ("weight_regularizer_l2", "bias_regularizer_l2")]
    optimizer = type(model.optimizer)
    conflicts = []
    if args.task is not None and args.task != task:
        conflicts.append(f"--task {args.task}, but the file holds a {task} model")
    if args.hidden is not None and tuple(args.hidden) != hidden:
        conflicts.append(f"--hidden {_sizes(args.hidden)}, but its hidden layers are {_sizes(hidden) or 'none'}")
    if args.dropout is not None and not _all_close(rates or [0.0], args.dropout):
        conflicts.append(f"--dropout {args.dropout:g}, but its dropout rates are {_numbers(rates) or 'none'}")
    if args.l2 is not None and not _all_close(penalties or [0.0], args.l2):
        conflicts.append(f"--l2 {args.l2:g}, but its hidden layers' L2 penalties are {_numbers(penalties) or 'none'}")
    if args.optimizer is not None and OPTIMIZERS[args.optimizer][0] is not optimizer:
        conflicts.append(f"--optimizer {args.optimizer}, but its optimizer state is {optimizer.__name__}'s")
    if args.momentum is not None and "momentum" not in optimizer.hyperparameters:
        conflicts.append(f"--momentum, but its optimizer, {optimizer.__name__}, has none")
    return conflicts


def _tune(optimizer: Any, args: argparse.Namespace) -> str:
    """Puts the given TUNABLE settings into the optimizer, keeping its state and step count; says which."""
    changes = {name: getattr(args, name) for name in TUNABLE if getattr(args, name) is not None}
    if not changes:
        return ""
    state = optimizer.state_dict()
    said = ", ".join(f"{name} {state['hyperparameters'][name]:g} -> {value:g}" for name, value in changes.items())
    state["hyperparameters"].update(changes)
    state["current_learning_rate"] = state["hyperparameters"]["learning_rate"]
    optimizer.load_state_dict(state)
    optimizer.pre_update_params()  # the rate at this step count, decayed as the optimizer decays it
    return said


def _all_close(values: list[float], expected: float) -> bool:
    return all(math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12) for value in values)


def _sizes(sizes: tuple[int, ...]) -> str:
    return ",".join(str(size) for size in sizes)


def _numbers(values: list[float]) -> str:
    return ", ".join(sorted({f"{value:g}" for value in values}))


def describe_layers(model: Model) -> str:
    """The layers, each with its settings where it has any (``Dense(2, 64)``, ``Dropout(0.1)``, ``ReLU``)."""
    return ", ".join(repr(layer) if layer.config() else type(layer).__name__ for layer in model.layers)
