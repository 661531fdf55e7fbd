"""The ``nnfs-gpu`` command (also ``python -m nnfs_gpu``): info, train, evaluate, predict, bench.

Every user mistake (a bad option, a missing or malformed file, a backend this machine cannot run)
ends as one line, ``nnfs-gpu: error: ...``, with exit status 2, never as a traceback: the library's
own messages already say what is wrong and how to fix it, so they are shown as they are.
"""

from __future__ import annotations

import argparse
import os
import platform
import runpy
import sys
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
    MeanAbsoluteError,
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
from nnfs_gpu.backends import ENV_VAR, Backend, BackendUnavailableError
from nnfs_gpu.cli_data import (
    Data,
    UsageError,
    existing_file,
    infer_task,
    output_count,
    prepare_targets,
    read_data_file,
    read_inputs_file,
)
from nnfs_gpu.distributed import Communicator, DistributedError, communicator, use_local_gpu

PROG = "nnfs-gpu"
#: the benchmark suite ships with the source checkout, not with the installed package
BENCH_SCRIPT = Path(nnfs_gpu.__file__).resolve().parents[1] / "benchmarks" / "run.py"

BUILTIN_DATASETS = ("spiral", "vertical", "sine", "fashion-mnist")
DEFAULT_FASHION_FOLDER = "fashion_mnist_images"

#: output activation, loss and accuracy of each problem kind (the book's chapters 18, 16 and 17)
TASKS: dict[str, tuple[type, type, Callable[[], Any]]] = {
    "classification": (Softmax, CategoricalCrossentropy, Categorical),
    "binary": (Sigmoid, BinaryCrossentropy, lambda: Categorical(binary=True)),
    "regression": (Linear, MeanSquaredError, Regression),
}
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
#: what an option left out means; datasets the book trains differently override it (PRESETS)
DEFAULTS: dict[str, Any] = {"hidden": (64,), "epochs": 1000, "batch_size": None}
PRESETS: dict[str, dict[str, Any]] = {
    "sine": {"hidden": (64, 64), "epochs": 2000, "adam": {"learning_rate": 0.005, "decay": 1e-3}},  # chapter 17
    "fashion-mnist": {"hidden": (128, 128), "epochs": 10, "batch_size": 128, "adam": {"learning_rate": 0.001, "decay": 1e-4}},
}
#: chapter 17: a regression network learns only from larger initial weights
REGRESSION_WEIGHT_SCALE = 0.1
PREDICTION_SUFFIXES = (".csv", ".npy")


#: errors that mean bad input rather than a bug, shown as one line instead of a traceback
USER_ERRORS = (
    UsageError, ValueError, TypeError, OSError, BackendUnavailableError, FloatingPointError, plot.PlotUnavailableError,
    DistributedError,
)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors raised as UsageError so that ``main`` prints them as one line."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


# -- argument types -----------------------------------------------------------------------------


def _checked(kind: type, accepts: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` that ``accepts`` allows, else an error saying ``expected``."""

    def parse(text: str) -> Any:
        value = _number(text, kind)
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _checked(int, lambda value: value >= 1, "a whole number >= 1")
_non_negative_int = _checked(int, lambda value: value >= 0, "a whole number >= 0")
_non_negative_float = _checked(float, lambda value: value >= 0, "a number >= 0")
_positive_float = _checked(float, lambda value: value > 0, "a number > 0")
_fraction = _checked(float, lambda value: 0 <= value < 1, "a number in [0, 1)")


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole number' if kind is int else 'number'}, got {text!r}") from None


def _layer_sizes(text: str) -> tuple[int, ...]:
    """``64,64`` -> (64, 64); an empty string means no hidden layer."""
    try:
        sizes = tuple(int(part) for part in text.split(",")) if text.strip() else ()
    except ValueError:
        sizes = (0,)
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes >= 1 such as 64,64, got {text!r}")
    return sizes


# -- the parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job."""
    parser = _Parser(prog=PROG, description="The framework of 'Neural Networks from Scratch', on NumPy or CuPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {nnfs_gpu.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    info = commands.add_parser("info", help="versions, backends and GPUs of this machine")
    info.set_defaults(run=info_command)
    _add_train_parser(commands)
    evaluate = commands.add_parser("evaluate", help="loss and accuracy of a saved model on a data file")
    _add_model_arguments(evaluate)
    evaluate.set_defaults(run=evaluate_command)
    predict = commands.add_parser("predict", help="predictions of a saved model for a data file")
    _add_model_arguments(predict)
    predict.add_argument("--output", metavar="PATH", help="write them to a .csv or .npy file (default: print them)")
    predict.set_defaults(run=predict_command)
    bench = commands.add_parser("bench", add_help=False, help="run the benchmark suite (source checkout only)")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed on to benchmarks/run.py")
    bench.set_defaults(run=lambda args: run_benchmarks(args.args))
    return parser


def _add_train_parser(commands: Any) -> None:
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
        type=_positive_int,
        help="samples per class (spiral, vertical), samples (sine), or training samples used (fashion-mnist)",
    )
    data.add_argument("--classes", type=_positive_int, help="classes (spiral, vertical; default 3)")
    data.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="hold out this share of the data for validation (default: none; fashion-mnist: its test set)",
    )
    net = train.add_argument_group("network")
    net.add_argument("--hidden", type=_layer_sizes, metavar="SIZES", help="hidden Dense layer sizes, ReLU between (default: 64)")
    net.add_argument("--task", choices=sorted(TASKS), help="the problem kind (default: from the data)")
    net.add_argument("--dropout", type=_fraction, default=0.0, metavar="RATE", help="dropout after each hidden layer")
    net.add_argument(
        "--l2", type=_non_negative_float, default=0.0, help="L2 regularization of the hidden layers' weights and biases"
    )
    fit = train.add_argument_group("training")
    fit.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="(default: adam)")
    fit.add_argument("--learning-rate", type=_positive_float, help="(default: the book's for the optimizer)")
    fit.add_argument("--decay", type=_non_negative_float, help="learning-rate decay per step")
    fit.add_argument("--momentum", type=_non_negative_float, help="SGD momentum")
    fit.add_argument("--epochs", type=_non_negative_int, help=f"(default: {DEFAULTS['epochs']})")
    fit.add_argument("--batch-size", type=_positive_int, help="(default: the whole data set in one batch)")
    fit.add_argument("--seed", type=int, default=0, help="seed of NumPy's RNG: data, initial weights, shuffling (default: 0)")
    fit.add_argument("--distributed", action="store_true",
                     help="data-parallel training over the ranks of an mpiexec launch (pip install 'nnfs_gpu[mpi]')")
    fit.add_argument("--collective-timeout", type=_positive_float, metavar="SECONDS",
                     help="with --distributed: stop all ranks when a collective takes longer than this")
    _add_backend_arguments(train)
    out = train.add_argument_group("output")
    out.add_argument("--save", metavar="PATH", help="save the trained model (Model.save)")
    out.add_argument("--plot", metavar="PATH.png", help="plot the training history (and, for 2-D classifiers, PATH-boundary.png)")
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(run=train_command)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a file written by Model.save or train --save")
    parser.add_argument("data", metavar="DATA", help="a .npz (arrays X and y) or .csv (last column y) file")
    parser.add_argument("--batch-size", type=_positive_int, help="(default: all samples at once)")
    _add_backend_arguments(parser)


def _add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", help=f"numpy, cupy, strict or auto (default: ${ENV_VAR}, else auto)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="(default: float32)")


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status (2 for a user error, printed as one line)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"]:  # everything after 'bench', options included, belongs to the suite
            return run_benchmarks(argv[1:])
        args = build_parser().parse_args(argv)
        return args.run(args)
    except BrokenPipeError:  # the reader went away (nnfs-gpu predict ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 1
    except USER_ERRORS as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


# -- info ---------------------------------------------------------------------------------------


def info_command(args: argparse.Namespace) -> int:
    """Prints what decides where the library runs: versions, each backend's status, the GPUs."""
    print(f"nnfs_gpu: {nnfs_gpu.__version__} ({Path(nnfs_gpu.__file__).parent})")
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"numpy: {np.__version__}")
    print(f"array-api-strict: {_module_version('array_api_strict')}")
    print(f"matplotlib: {_module_version('matplotlib')} (for --plot)")
    cupy = _import_cupy()
    print(f"cupy: {cupy.__version__ if cupy else _module_version('cupy')}")
    if cupy is not None:
        print(f"cuda runtime: {_cuda_version(cupy.cuda.runtime.runtimeGetVersion)}")
        print(f"cuda driver: {_cuda_version(cupy.cuda.runtime.driverGetVersion)}")
    statuses = nnfs_gpu.available_backends()
    print("backends:")
    for name, status in statuses.items():
        print(f"  {name}: {'usable' if status.available else 'not usable: ' + str(status.reason)}")
    chosen = os.environ.get(ENV_VAR, "").strip() or "auto"
    auto = "cupy" if statuses["cupy"].available else "numpy"
    print(f"default backend: {chosen}" + (f" (chooses {auto})" if chosen == "auto" else f" (from {ENV_VAR})"))
    if cupy is not None and statuses["cupy"].available:
        for index in range(cupy.cuda.runtime.getDeviceCount()):
            print(_gpu_line(cupy, index))
    return 0


def _import_cupy() -> Any:
    """CuPy, or None when it is not installed or fails to import."""
    try:
        import cupy
    except Exception:
        return None
    return cupy


def _module_version(module: str) -> str:
    """A module's version, 'not installed', or why it failed to import."""
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"
    except Exception as error:  # a broken install: say so instead of failing
        return f"fails to import ({' '.join(str(error).split())})"


def _cuda_version(read: Callable[[], int]) -> str:
    """CUDA's integer version (13020) as 13.2; 0 means no driver."""
    try:
        version = read()
    except Exception as error:  # no CUDA libraries or driver: report, do not fail
        return f"unavailable ({' '.join(str(error).split())})"
    if version == 0:
        return "none (no NVIDIA driver found)"
    return f"{version // 1000}.{version % 1000 // 10}"


def _gpu_line(cupy: Any, index: int) -> str:
    """A CUDA device's name and memory, or why they cannot be read."""
    try:
        properties = cupy.cuda.runtime.getDeviceProperties(index)
        with cupy.cuda.Device(index):
            free, total = cupy.cuda.runtime.memGetInfo()
    except Exception as error:  # a device that fails now: report it, do not fail
        return f"gpu {index}: unavailable ({' '.join(str(error).split())})"
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else str(properties["name"])
    return f"gpu {index}: {name}, {total / 2**30:.1f} GiB memory ({free / 2**30:.1f} GiB free)"


def model_task(model: Model) -> str:
    """The problem kind of a loaded model, from its loss."""
    task = LOSS_TASKS.get(type(model.loss))
    if task is None or model.accuracy is None:
        raise UsageError(
            f"the model has loss {model.loss!r} and accuracy {model.accuracy!r}; evaluating it needs "
            f"one of {', '.join(cls.__name__ for cls in LOSS_TASKS)} and an accuracy"
        )
    return task


# -- train --------------------------------------------------------------------------------------


def train_command(args: argparse.Namespace) -> int:
    """Trains a network on a dataset; saves and plots it when asked."""
    _apply_defaults(args)
    _check_outputs(args)
    if args.collective_timeout is not None and not args.distributed:
        raise UsageError("--collective-timeout goes with --distributed")
    if args.distributed and backend_name(args.backend) in ("cupy", "auto") and nnfs_gpu.available_backends()["cupy"].available:
        use_local_gpu()  # before the backend is made: each rank takes its own GPU
    backend = select_backend(args.backend, args.dtype)
    if not args.distributed:
        return _train(args, backend, None)
    comm = communicator(backend, args.collective_timeout)
    try:
        return _train(args, backend, comm)
    except USER_ERRORS as error:  # a bad file on one rank must not leave the others waiting
        comm.abort(" ".join(str(error).split()) or type(error).__name__)


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
    """Fails before training, not after it, when a result could not be written."""
    for option, path in (("--save", args.save), ("--plot", args.plot)):
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"{option} {path}: the folder {Path(path).parent} does not exist")
    if args.plot is not None:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: plots are PNG files; name it *.png")
        if args.epochs == 0:
            raise UsageError("--plot needs at least one epoch")
        plot.require_matplotlib()


def backend_name(name: str | None) -> str:
    """The backend named, else the one NNFS_GPU_BACKEND names, else 'auto'."""
    return name or os.environ.get(ENV_VAR, "").strip() or "auto"


def select_backend(name: str | None, dtype: str) -> Backend:
    return nnfs_gpu.set_backend(backend_name(name), dtype=dtype)


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
            boundary = Path(args.plot).with_name(f"{Path(args.plot).stem}-boundary.png")
            plot.plot_decision_boundary(model, *data, boundary)
            say(f"plotted the decision boundary to {boundary}")


# -- evaluate, predict --------------------------------------------------------------------------


def evaluate_command(args: argparse.Namespace) -> int:
    """Prints a saved model's loss and accuracy on a data file."""
    select_backend(args.backend, args.dtype)
    model = load_model(args.model)
    task = model_task(model)
    data = read_data_file(args.data)
    if data.X.shape[1] != model.n_inputs:
        raise UsageError(f"{args.data}: the model takes {model.n_inputs} inputs, the data has {data.X.shape[1]} (and then y)")
    y = prepare_targets(data.y, task, args.data)
    loss, accuracy = model.evaluate(data.X, y, batch_size=args.batch_size, verbose=False)
    print(f"{args.data}: {len(y)} samples, acc: {accuracy:.3f}, loss: {loss:.3f}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """Writes (or prints) a saved model's predictions: classes, 0/1 outputs, or values."""
    if args.output is not None:
        _check_prediction_output(args.output)
    select_backend(args.backend, args.dtype)
    model = load_model(args.model)
    X = read_inputs_file(args.data, model.n_inputs)
    predictions = np.asarray(model.output_layer_activation.predictions(model.predict(X, batch_size=args.batch_size)))
    text_format = "%d" if predictions.dtype.kind in "iub" else "%.9g"
    if args.output is None:
        np.savetxt(sys.stdout, predictions, fmt=text_format, delimiter=",")
    elif args.output.lower().endswith(".npy"):
        np.save(args.output, predictions)
    else:
        np.savetxt(args.output, predictions, fmt=text_format, delimiter=",")
    if args.output is not None:
        print(f"wrote {len(predictions)} predictions to {args.output}")
    return 0


def _check_prediction_output(path: str) -> None:
    if Path(path).suffix.lower() not in PREDICTION_SUFFIXES:
        raise UsageError(f"--output {path}: predictions are written as {' or '.join(PREDICTION_SUFFIXES)}")
    if not Path(path).resolve().parent.is_dir():
        raise UsageError(f"--output {path}: the folder {Path(path).parent} does not exist")


def load_model(path: str) -> Model:
    """A saved model, ready to predict (ModelFileError says what is wrong with a bad file)."""
    existing_file(path, "model file")
    model = Model.load(path)
    if not model.finalized:
        raise UsageError(f"{path}: the model was saved without a loss, so it cannot be used; save it after model.set(loss=...)")
    return model


# -- bench --------------------------------------------------------------------------------------


def run_benchmarks(args: list[str]) -> int:
    """Runs the source checkout's ``benchmarks/run.py`` (its ``main(argv)``) with ``args``."""
    script = BENCH_SCRIPT
    if not script.is_file():
        raise UsageError(
            f"the benchmark suite comes with the source checkout ({script} does not exist); clone the "
            "repository, install it with pip install -e . and run nnfs-gpu bench there"
        )
    sys.path.insert(0, str(script.parent))  # as 'python benchmarks/run.py' would, for its own imports
    try:
        suite = runpy.run_path(str(script), run_name="nnfs_gpu_benchmarks")
        if not callable(suite.get("main")):
            raise UsageError(f"{script} has no main(argv) function")
        return int(suite["main"](list(args)) or 0)
    finally:
        sys.path.remove(str(script.parent))
