"""``nnfs-gpu train``: a network for a built-in dataset or the user's file, with the book's settings,
or a saved network trained further (``--resume``); ``network`` builds and loads the networks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nnfs_gpu
from nnfs_gpu import Model, datasets, plot
from nnfs_gpu.backends import Backend, chosen_name
from nnfs_gpu.callbacks import EarlyStopping, ModelCheckpoint
from nnfs_gpu.networks import TASKS
from nnfs_gpu.training.data import split_validation
from nnfs_gpu.cli.data import DATA_SUFFIXES, FORMS, Data, UsageError, existing_file, read_data_file
from nnfs_gpu.cli.labels import infer_task, targets_for_model, targets_for_new_model
from nnfs_gpu.cli.network import OPTIMIZERS, PRESETS, build_model, describe_layers, resumed_model
from nnfs_gpu.cli.options import (
    add_backend_arguments,
    check_output_files,
    fraction,
    layer_sizes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed,
    select_backend,
)
from nnfs_gpu.distributed import (
    DEFAULT_TIMEOUT_S,
    TIMEOUT_VAR,
    Communicator,
    communicator,
    use_local_gpu,
)
from nnfs_gpu.launch import stopping_launch_on_error

BUILTIN_DATASETS = ("spiral", "vertical", "sine", "fashion-mnist")
DEFAULT_FASHION_FOLDER = "fashion_mnist_images"
#: what an option left out means; datasets the book trains differently override it (PRESETS)
DEFAULTS: dict[str, Any] = {"epochs": 1000, "batch_size": None}
#: what a new network takes when an option is left out (a resumed one keeps the file's)
NETWORK_DEFAULTS: dict[str, Any] = {"hidden": (64,), "optimizer": "adam"}


def _preset_defaults(setting: str) -> str:
    """What the datasets that the book trains otherwise (PRESETS) use for ``setting``, for a help text."""
    given = [f"{name} {','.join(map(str, value)) if isinstance(value, tuple) else value}"
             for name, preset in PRESETS.items() for key, value in preset.items() if key == setting]
    return f"; {', '.join(given)}, as the book" if given else ""


def add_parser(commands: Any) -> None:
    train = commands.add_parser("train", help="train a network (default: the book's spiral classifier)")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", default="spiral", metavar="NAME|PATH",
                      help=f"{', '.join(BUILTIN_DATASETS)}, or a {FORMS} file; y may hold text labels (default: spiral)")
    data.add_argument("--data", metavar="FOLDER", help=f"the Fashion-MNIST folder (default: {DEFAULT_FASHION_FOLDER})")
    data.add_argument("--samples", type=positive_int,
                      help="samples per class (spiral, vertical), samples (sine), or training samples used (fashion-mnist)")
    data.add_argument("--classes", type=positive_int, help="classes (spiral, vertical; default 3)")
    data.add_argument("--validation-split", type=fraction, default=0.0, metavar="FRACTION",
                      help="hold out this share of the data for validation (default: none; fashion-mnist: its test set)")
    net = train.add_argument_group("network")
    net.add_argument("--hidden", type=layer_sizes, metavar="SIZES", help=f"hidden Dense layer sizes, ReLU between (default: 64{_preset_defaults('hidden')})")
    net.add_argument("--task", choices=sorted(TASKS), help="the problem kind (default: from the data)")
    net.add_argument("--dropout", type=fraction, metavar="RATE", help="dropout after each hidden layer (default: none)")
    net.add_argument("--l2", type=non_negative_float, help="L2 regularization of the hidden layers' weights and biases")
    net.add_argument("--resume", metavar="MODEL",
                     help="train a saved model further: its network, optimizer state and step count "
                          "(--learning-rate, --decay, --momentum change its settings; network options must match it)")
    fit = train.add_argument_group("training")
    fit.add_argument("--optimizer", choices=list(OPTIMIZERS), help="(default: adam)")
    fit.add_argument("--learning-rate", type=positive_float, help="(default: the book's for the optimizer)")
    fit.add_argument("--decay", type=non_negative_float, help="learning-rate decay per step")
    fit.add_argument("--momentum", type=non_negative_float, help="SGD momentum")
    fit.add_argument("--epochs", type=non_negative_int, help=f"(default: {DEFAULTS['epochs']}{_preset_defaults('epochs')})")
    fit.add_argument("--batch-size", type=positive_int, help=f"(default: the whole data set in one batch{_preset_defaults('batch_size')})")
    fit.add_argument("--patience", type=non_negative_int, metavar="EPOCHS",
                     help="stop when the validation loss (the loss without validation data) has not improved for "
                          "this many epochs, and keep the weights of the best epoch")
    fit.add_argument("--seed", type=seed, default=0, help="seed of NumPy's RNG: data, initial weights, shuffling (default: 0)")
    fit.add_argument("--distributed", action="store_true",
                     help="data-parallel training over the ranks of an mpiexec launch (pip install 'nnfs_gpu[mpi]'), "
                          "or of a torchrun launch with --backend torch")
    fit.add_argument("--collective-timeout", type=positive_float, metavar="SECONDS",
                     help=f"with --distributed: stop all ranks when a collective waits longer than this "
                          f"(default: ${TIMEOUT_VAR}, else {DEFAULT_TIMEOUT_S:g})")
    add_backend_arguments(train)
    out = train.add_argument_group("output")
    out.add_argument("--save", metavar="PATH", help="save the trained model (Model.save)")
    out.add_argument("--checkpoint", metavar="PATH",
                     help="save the model after each epoch that improves the validation loss (else the loss); "
                          "{epoch} in PATH keeps a file for each of them")
    out.add_argument("--plot", metavar="PATH.png", help="plot the training history (and, for 2-D classifiers, PATH-boundary.png)")
    out.add_argument("--print-every", type=positive_int, metavar="STEPS",
                     help="also print a line every this many steps (default: a bar on a terminal, else a line per epoch)")
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(run=train_command)


def train_command(args: argparse.Namespace) -> int:
    """Trains a network on a dataset; saves and plots it when asked (every output checked first)."""
    _apply_defaults(args)
    if args.collective_timeout is not None and not args.distributed:
        raise UsageError("--collective-timeout goes with --distributed")
    if not args.distributed:
        _check_outputs(args)
        return _train(args, select_backend(args), None)
    with stopping_launch_on_error():  # before MPI runs: an error here must not leave the other ranks waiting
        if chosen_name(args.backend) == "cupy" and nnfs_gpu.available_backends()["cupy"].available:
            use_local_gpu()  # before the backend is made: each rank takes its own GPU
        backend = select_backend(args)
        comm = communicator(backend, args.collective_timeout)
    with comm.stopping_all_on_error():  # a bad file on one rank must not leave the others waiting
        if comm.rank == 0:  # the rank that writes the outputs
            _check_outputs(args)
        return _train(args, backend, comm)


def _train(args: argparse.Namespace, backend: Backend, comm: Communicator | None) -> int:
    rank = 0 if comm is None else comm.rank
    _seed(args.seed, backend, rank)
    source = f"--dataset {args.dataset}"
    resumed = resumed_model(args) if args.resume is not None else None
    data = load_dataset(args)
    model, task, y, notes = _network(args, data, source, resumed)
    (X_train, y_train), validation = _split(data, y, model, task, source, args.validation_split)
    say = _printer(args.quiet or rank != 0)
    say(f"backend: {backend.name} ({backend.describe()})")
    if comm is not None:
        say(f"distributed over {comm.size} ranks ({type(comm).__name__})")
    say(f"{task} of {len(X_train)} samples with {describe_layers(model)}; {model.optimizer!r}, {args.epochs} epochs")
    for note in notes:
        say(note)
    callbacks = _callbacks(args, validation is not None)
    start = time.perf_counter()
    history = model.train(X_train, y_train, args.epochs, batch_size=args.batch_size, shuffle=args.batch_size is not None,
                          print_every=args.print_every, validation_data=validation, verbose=not args.quiet,
                          callbacks=callbacks, distributed=comm or False)
    say(_summary(history, time.perf_counter() - start))
    for callback in callbacks:
        if callback.best_epoch:
            say(_outcome(callback))
    if rank == 0:
        _write_outputs(args, say, model, history, (data.X, y))
    return 0


def _network(args: argparse.Namespace, data: Data, source: str,
             resumed: tuple[Model, str, list[str]] | None) -> tuple[Model, str, np.ndarray, list[str]]:
    """The model to train, its task, the targets for it, and lines to say about them."""
    if resumed is not None:
        model, task, notes = resumed
        if data.X.shape[1] != model.n_inputs:
            raise UsageError(f"{source}: the data has {data.X.shape[1]} inputs, {args.resume} takes {model.n_inputs}")
        return model, task, targets_for_model(data.y, model, task, source), notes
    task = args.task or infer_task(data)
    targets = targets_for_new_model(data.y, task, source)
    model = build_model(data.X.shape[1], targets.outputs, task, args)
    model.class_labels = targets.class_labels
    return model, task, targets.y, [targets.note] if targets.note else []


def _apply_defaults(args: argparse.Namespace) -> None:
    """Options left out take the dataset's preset (the book's settings for it) or the general default;
    a resumed network keeps the file's."""
    preset = PRESETS.get(args.dataset, {})
    defaults = DEFAULTS if args.resume is not None else {**DEFAULTS, **NETWORK_DEFAULTS}
    for name, default in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, preset.get(name, default))
    if args.momentum is not None and args.resume is None and args.optimizer != "sgd":
        raise UsageError("--momentum applies only to --optimizer sgd")
    if args.data is not None and args.dataset != "fashion-mnist":
        raise UsageError("--data is the Fashion-MNIST folder; it applies only to --dataset fashion-mnist")
    if args.classes is not None and args.dataset not in ("spiral", "vertical"):
        raise UsageError("--classes applies only to --dataset spiral or vertical")
    if args.samples is not None and args.dataset not in BUILTIN_DATASETS:
        raise UsageError("--samples applies only to the built-in datasets")


def _check_outputs(args: argparse.Namespace) -> None:
    """Fails before training, not after it, when a result could not be written: each output must be
    a file (not a folder) that can be created in its folder, and none may overwrite the data or
    another output (``--save`` and ``--checkpoint`` may replace the model that ``--resume`` reads)."""
    outputs = []
    if args.save is not None:
        outputs.append(("--save", args.save, args.save))
    if args.checkpoint is not None:
        outputs.append(("--checkpoint", args.checkpoint, checkpoint_path(args.checkpoint)))
    if args.plot is not None:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: plots are PNG files; name it *.png")
        if args.epochs == 0:
            raise UsageError("--plot needs at least one epoch")
        plot.require_matplotlib()
        outputs += [("--plot", args.plot, args.plot), ("--plot", args.plot, boundary_path(args.plot))]
    inputs = [Path(args.dataset)] if Path(args.dataset).is_file() else []
    replaceable = {}
    if args.resume is not None:
        inputs.append(existing_file(args.resume, "model file"))
        replaceable = {"--save": Path(args.resume), "--checkpoint": Path(args.resume)}
    check_output_files(outputs, inputs, replaceable)


def checkpoint_path(given: str) -> str:
    """The file ``--checkpoint`` writes first (``{epoch}`` in the path: the first epoch's)."""
    try:
        return given.format(epoch=1)
    except (KeyError, IndexError, ValueError):
        raise UsageError(f"--checkpoint {given}: braces in the path may only hold {{epoch}}, the epoch's number") from None


def boundary_path(history_path: str) -> Path:
    """Where ``--plot PATH.png`` draws a 2-D classifier's decision boundary: ``PATH-boundary.png``."""
    return Path(history_path).with_name(f"{Path(history_path).stem}-boundary.png")


def _seed(seed: int, backend: Backend, rank: int) -> None:
    """Seeds NumPy's global RNG (data, weights, shuffling, CPU dropout: the same on every rank) and
    the device's, CuPy's or torch's (dropout: one stream per rank, so ranks do not drop the same positions)."""
    np.random.seed(seed)
    if backend.name == "cupy":
        import cupy

        cupy.random.seed(seed + rank)
    elif backend.name == "torch":
        import torch

        torch.manual_seed(seed + rank)


def load_dataset(args: argparse.Namespace) -> Data:
    """The named built-in dataset, or the user's file."""
    name = args.dataset
    if name in ("spiral", "vertical"):
        make = datasets.spiral_data if name == "spiral" else datasets.vertical_data
        return Data(*make(args.samples or 100, args.classes or 3))
    if name == "sine":
        return Data(*datasets.sine_data(args.samples or 1000))
    if name == "fashion-mnist":
        return _fashion_mnist(args.data or DEFAULT_FASHION_FOLDER, args.samples)
    if Path(name).suffix.lower() not in DATA_SUFFIXES and not Path(name).exists():
        raise UsageError(f"unknown dataset {name!r}: choose {', '.join(BUILTIN_DATASETS)}, or a {', '.join(DATA_SUFFIXES[:-1])} or {DATA_SUFFIXES[-1]} file")
    return read_data_file(name)


def _fashion_mnist(folder: str, samples: int | None) -> Data:
    """Chapter 19's data: images scaled to [-1, 1]; the test set validates."""
    X, y, X_test, y_test = datasets.create_data_mnist(folder)
    if samples is not None:
        keep = np.random.permutation(len(X))[:samples]
        X, y = X[keep], y[keep]
    return Data(datasets.scale_images(X), y, validation=(datasets.scale_images(X_test), y_test))


Arrays = tuple[np.ndarray, np.ndarray]


def _split(data: Data, y: np.ndarray, model: Model, task: str, source: str, fraction: float) -> tuple[Arrays, Arrays | None]:
    """Training and validation data: a random held-out share, else the dataset's test set (its labels
    mapped as the model's), else none."""
    if fraction:
        try:
            X, y, validation = split_validation(data.X, y, fraction, model.backend)
        except ValueError:
            raise UsageError(f"--validation-split {fraction} of {len(y)} samples leaves no training or no validation samples") from None
        return (X, y), validation
    if data.validation is not None:
        X_test, y_test = data.validation
        return (data.X, y), (X_test, targets_for_model(y_test, model, task, source))
    return (data.X, y), None


def _callbacks(args: argparse.Namespace, validated: bool) -> list[Any]:
    """EarlyStopping (--patience) and ModelCheckpoint (--checkpoint), both watching the validation
    loss when there is validation data, else the loss."""
    monitor = "val_loss" if validated else "loss"
    callbacks: list[Any] = []
    if args.patience is not None:
        callbacks.append(EarlyStopping(monitor=monitor, patience=args.patience))
    if args.checkpoint is not None:
        callbacks.append(ModelCheckpoint(args.checkpoint, monitor=monitor))
    return callbacks


def _outcome(callback: Any) -> str:
    """What a callback did, in one line (after at least one epoch)."""
    best = f"the best epoch, {callback.best_epoch} ({callback.monitor} {callback.best:.4f})"
    if isinstance(callback, ModelCheckpoint):
        return f"checkpoint: {callback.path.format(epoch=callback.best_epoch)} holds {best}"
    stopped = (f"stopped early after epoch {callback.stopped_epoch}: {callback.monitor} did not improve for "
               f"{callback.patience} epochs; " if callback.stopped_epoch else "")
    return f"{stopped}kept the weights of {best}"


def _printer(quiet: bool) -> Callable[[str], None]:
    return (lambda line: None) if quiet else print


def _summary(history: dict[str, list[float]], seconds: float) -> str:
    """One line: epochs, time, and the last epoch's numbers."""
    epochs = len(history["loss"])
    line = f"trained {epochs} epochs in {seconds:.1f} s"
    if epochs:
        line += f": acc: {history['accuracy'][-1]:.3f}, loss: {history['loss'][-1]:.3f}"
    if history.get("val_loss"):
        line += f"; validation acc: {history['val_accuracy'][-1]:.3f}, loss: {history['val_loss'][-1]:.3f}"
    return line


def _write_outputs(
    args: argparse.Namespace, say: Callable[[str], None], model: Model, history: dict[str, list[float]], data: Arrays
) -> None:
    """The model file and the plots that were asked for."""
    if args.save is not None:
        model.save(args.save)
        say(f"saved the model to {args.save}")
    if args.plot is not None:
        plot.plot_history(history, args.plot)
        say(f"plotted the training history to {args.plot}")
        if plot.boundary_problem(model) is None:
            boundary = boundary_path(args.plot)
            plot.plot_decision_boundary(model, *data, boundary, class_names=model.class_labels)
            say(f"plotted the decision boundary to {boundary}")
