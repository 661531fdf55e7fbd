"""``nnfs-gpu train``: a network for a built-in dataset or the user's file, with the book's settings.

The network is Dense layers of the ``--hidden`` sizes with ReLU (and dropout) between them and the
output layer, loss and accuracy of the problem kind; each optimizer starts from the settings the
book ends chapter 10 with, and datasets the book trains differently bring their own (PRESETS).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nnfs_gpu
from nnfs_gpu import (
    SGD,
    Adagrad,
    Adam,
    BinaryCrossentropy,
    Categorical,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    Linear,
    MeanSquaredError,
    Model,
    Regression,
    ReLU,
    RMSprop,
    Sigmoid,
    Softmax,
    datasets,
    plot,
)
from nnfs_gpu.backends import Backend, chosen_name
from nnfs_gpu.cli.data import Data, UsageError, infer_task, output_count, prepare_targets, read_data_file
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

#: output activation, loss and accuracy of each problem kind (the book's chapters 18, 16 and 17)
TASKS: dict[str, tuple[type, type, Callable[[], Any]]] = {
    "classification": (Softmax, CategoricalCrossentropy, Categorical),
    "binary": (Sigmoid, BinaryCrossentropy, lambda: Categorical(binary=True)),
    "regression": (Linear, MeanSquaredError, Regression),
}
#: each optimizer with the settings chapter 10 ends with on the spiral data
OPTIMIZERS: dict[str, tuple[type, dict[str, float]]] = {
    "sgd": (SGD, {"learning_rate": 1.0, "decay": 1e-3, "momentum": 0.9}),
    "adagrad": (Adagrad, {"learning_rate": 1.0, "decay": 1e-4}),
    "rmsprop": (RMSprop, {"learning_rate": 0.02, "decay": 1e-5, "rho": 0.999}),
    "adam": (Adam, {"learning_rate": 0.05, "decay": 5e-7}),
}
#: what an option left out means; datasets the book trains differently override it (PRESETS)
DEFAULTS: dict[str, Any] = {"hidden": (64,), "epochs": 1000, "batch_size": None}
PRESETS: dict[str, dict[str, Any]] = {
    "sine": {"hidden": (64, 64), "epochs": 2000, "adam": {"learning_rate": 0.005, "decay": 1e-3}},  # chapter 17
    "fashion-mnist": {"hidden": (128, 128), "epochs": 10, "batch_size": 128, "adam": {"learning_rate": 0.001, "decay": 1e-4}},
}
#: chapter 17: a regression network learns only from larger initial weights
REGRESSION_WEIGHT_SCALE = 0.1

def add_parser(commands: Any) -> None:
    train = commands.add_parser("train", help="train a network (default: the book's spiral classifier)")
    data = train.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="spiral",
        metavar="NAME|PATH",
        help=f"{', '.join(BUILTIN_DATASETS)}, or a .npz (arrays X, y) or .csv (last column y) file (default: spiral)",
    )
    data.add_argument("--data", metavar="FOLDER", help=f"the Fashion-MNIST folder (default: {DEFAULT_FASHION_FOLDER})")
    data.add_argument(
        "--samples",
        type=positive_int,
        help="samples per class (spiral, vertical), samples (sine), or training samples used (fashion-mnist)",
    )
    data.add_argument("--classes", type=positive_int, help="classes (spiral, vertical; default 3)")
    data.add_argument(
        "--validation-split",
        type=fraction,
        default=0.0,
        metavar="FRACTION",
        help="hold out this share of the data for validation (default: none; fashion-mnist: its test set)",
    )
    net = train.add_argument_group("network")
    net.add_argument("--hidden", type=layer_sizes, metavar="SIZES", help="hidden Dense layer sizes, ReLU between (default: 64)")
    net.add_argument("--task", choices=sorted(TASKS), help="the problem kind (default: from the data)")
    net.add_argument("--dropout", type=fraction, default=0.0, metavar="RATE", help="dropout after each hidden layer")
    net.add_argument(
        "--l2", type=non_negative_float, default=0.0, help="L2 regularization of the hidden layers' weights and biases"
    )
    fit = train.add_argument_group("training")
    fit.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="(default: adam)")
    fit.add_argument("--learning-rate", type=positive_float, help="(default: the book's for the optimizer)")
    fit.add_argument("--decay", type=non_negative_float, help="learning-rate decay per step")
    fit.add_argument("--momentum", type=non_negative_float, help="SGD momentum")
    fit.add_argument("--epochs", type=non_negative_int, help=f"(default: {DEFAULTS['epochs']})")
    fit.add_argument("--batch-size", type=positive_int, help="(default: the whole data set in one batch)")
    fit.add_argument("--seed", type=seed, default=0, help="seed of NumPy's RNG: data, initial weights, shuffling (default: 0)")
    fit.add_argument("--distributed", action="store_true",
                     help="data-parallel training over the ranks of an mpiexec launch (pip install 'nnfs_gpu[mpi]')")
    fit.add_argument("--collective-timeout", type=positive_float, metavar="SECONDS",
                     help=f"with --distributed: stop all ranks when a collective waits longer than this "
                          f"(default: ${TIMEOUT_VAR}, else {DEFAULT_TIMEOUT_S:g})")
    add_backend_arguments(train)
    out = train.add_argument_group("output")
    out.add_argument("--save", metavar="PATH", help="save the trained model (Model.save)")
    out.add_argument("--plot", metavar="PATH.png", help="plot the training history (and, for 2-D classifiers, PATH-boundary.png)")
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(run=train_command)


def train_command(args: argparse.Namespace) -> int:
    """Trains a network on a dataset; saves and plots it when asked (every output checked first)."""
    _apply_defaults(args)
    if args.collective_timeout is not None and not args.distributed:
        raise UsageError("--collective-timeout goes with --distributed")
    if not args.distributed:
        _check_outputs(args)
        return _train(args, select_backend(args.backend, args.dtype), None)
    with stopping_launch_on_error():  # before MPI runs: an error here must not leave the other ranks waiting
        if chosen_name(args.backend) == "cupy" and nnfs_gpu.available_backends()["cupy"].available:
            use_local_gpu()  # before the backend is made: each rank takes its own GPU
        backend = select_backend(args.backend, args.dtype)
        comm = communicator(backend, args.collective_timeout)
    with comm.stopping_all_on_error():  # a bad file on one rank must not leave the others waiting
        if comm.rank == 0:  # the rank that writes the outputs
            _check_outputs(args)
        return _train(args, backend, comm)


def _train(args: argparse.Namespace, backend: Backend, comm: Communicator | None) -> int:
    rank = 0 if comm is None else comm.rank
    _seed(args.seed, backend, rank)
    data = load_dataset(args)
    task = args.task or infer_task(data)
    source = f"--dataset {args.dataset}"
    y = prepare_targets(data.y, task, source)
    (X_train, y_train), validation = _split(data, y, task, source, args.validation_split)
    model = build_model(data.X.shape[1], output_count(y, task), task, args)
    say = _printer(args.quiet or rank != 0)
    say(f"backend: {backend.name} ({backend.describe()})")
    if comm is not None:
        say(f"distributed over {comm.size} ranks ({type(comm).__name__})")
    say(f"{task} of {len(X_train)} samples with {_describe_layers(model)}; {model.optimizer!r}, {args.epochs} epochs")
    start = time.perf_counter()
    history = model.train(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        shuffle=args.batch_size is not None,
        validation_data=validation,
        verbose=not args.quiet,
        distributed=comm or False,
    )
    say(_summary(history, time.perf_counter() - start))
    if rank == 0:
        _write_outputs(args, say, model, history, (data.X, y))
    return 0


def _apply_defaults(args: argparse.Namespace) -> None:
    """Options left out take the dataset's preset (the book's settings for it) or the general default."""
    preset = PRESETS.get(args.dataset, {})
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, preset.get(name, default))
    if args.momentum is not None and args.optimizer != "sgd":
        raise UsageError("--momentum applies only to --optimizer sgd")
    if args.data is not None and args.dataset != "fashion-mnist":
        raise UsageError("--data is the Fashion-MNIST folder; it applies only to --dataset fashion-mnist")
    if args.classes is not None and args.dataset not in ("spiral", "vertical"):
        raise UsageError("--classes applies only to --dataset spiral or vertical")
    if args.samples is not None and args.dataset not in BUILTIN_DATASETS:
        raise UsageError("--samples applies only to the built-in datasets")


def _check_outputs(args: argparse.Namespace) -> None:
    """Fails before training, not after it, when a result could not be written: each output must be
    a file (not a folder) that can be created in its folder, and none may overwrite the data or another."""
    outputs = []
    if args.save is not None:
        outputs.append(("--save", args.save, args.save))
    if args.plot is not None:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: plots are PNG files; name it *.png")
        if args.epochs == 0:
            raise UsageError("--plot needs at least one epoch")
        plot.require_matplotlib()
        outputs += [("--plot", args.plot, args.plot), ("--plot", args.plot, boundary_path(args.plot))]
    inputs = [Path(args.dataset)] if Path(args.dataset).is_file() else []
    check_output_files(outputs, inputs)


def boundary_path(history_path: str) -> Path:
    """Where ``--plot PATH.png`` draws a 2-D classifier's decision boundary: ``PATH-boundary.png``."""
    return Path(history_path).with_name(f"{Path(history_path).stem}-boundary.png")


def _seed(seed: int, backend: Backend, rank: int) -> None:
    """Seeds NumPy's global RNG (data, weights, shuffling, CPU dropout: the same on every rank) and,
    on a GPU, CuPy's (dropout: one stream per rank, so ranks do not drop the same positions)."""
    np.random.seed(seed)
    if backend.name == "cupy":
        import cupy

        cupy.random.seed(seed + rank)


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
    if Path(name).suffix.lower() not in (".npz", ".csv") and not Path(name).exists():
        raise UsageError(f"unknown dataset {name!r}: choose {', '.join(BUILTIN_DATASETS)}, or a .npz or .csv file")
    return read_data_file(name)


def _fashion_mnist(folder: str, samples: int | None) -> Data:
    """Chapter 19's data: images scaled to [-1, 1]; the test set validates."""
    X, y, X_test, y_test = datasets.create_data_mnist(folder)
    if samples is not None:
        keep = np.random.permutation(len(X))[:samples]
        X, y = X[keep], y[keep]
    return Data(datasets.scale_images(X), y, validation=(datasets.scale_images(X_test), y_test))


Arrays = tuple[np.ndarray, np.ndarray]


def _split(data: Data, y: np.ndarray, task: str, source: str, fraction: float) -> tuple[Arrays, Arrays | None]:
    """Training and validation data: a random held-out share, else the dataset's test set, else none."""
    if fraction:
        held_out = round(len(y) * fraction)
        if not 0 < held_out < len(y):
            raise UsageError(f"--validation-split {fraction} of {len(y)} samples leaves no training or no validation samples")
        order = np.random.permutation(len(y))
        train, validation = order[held_out:], order[:held_out]
        return (data.X[train], y[train]), (data.X[validation], y[validation])
    if data.validation is not None:
        X_test, y_test = data.validation
        return (data.X, y), (X_test, prepare_targets(y_test, task, source))
    return (data.X, y), None


def build_model(n_inputs: int, n_outputs: int, task: str, args: argparse.Namespace) -> Model:
    """Dense layers of the --hidden sizes with ReLU (and dropout) after each, then the task's output layer."""
    scale = REGRESSION_WEIGHT_SCALE if task == "regression" else 0.01
    model = Model()
    width = n_inputs
    for size in args.hidden:
        model.add(Dense(width, size, weight_regularizer_l2=args.l2, bias_regularizer_l2=args.l2, weight_scale=scale))
        model.add(ReLU())
        if args.dropout:
            model.add(Dropout(args.dropout))
        width = size
    model.add(Dense(width, n_outputs, weight_scale=scale))
    activation, loss, accuracy = TASKS[task]
    model.add(activation())
    model.set(loss=loss(), optimizer=make_optimizer(args), accuracy=accuracy())
    model.finalize()
    return model


def make_optimizer(args: argparse.Namespace) -> Any:
    """The chosen optimizer with the book's settings, the dataset's preset, then the options given."""
    cls, settings = OPTIMIZERS[args.optimizer]
    settings = {**settings, **PRESETS.get(args.dataset, {}).get(args.optimizer, {})}
    for name in ("learning_rate", "decay", "momentum"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return cls(**settings)


def _describe_layers(model: Model) -> str:
    return ", ".join(repr(layer) if isinstance(layer, (Dense, Dropout)) else type(layer).__name__ for layer in model.layers)


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
            plot.plot_decision_boundary(model, *data, boundary)
            say(f"plotted the decision boundary to {boundary}")


