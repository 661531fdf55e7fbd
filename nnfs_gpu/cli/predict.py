"""``nnfs-gpu evaluate`` and ``nnfs-gpu predict``: a saved model on a data file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from nnfs_gpu import BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError, Model
from nnfs_gpu.cli.data import UsageError, existing_file, prepare_targets, read_data_file, read_inputs_file
from nnfs_gpu.cli.options import add_backend_arguments, check_output_files, positive_int, select_backend
from nnfs_gpu.files import write_atomically

#: the problem kind of a model, from its loss
LOSS_TASKS = {
    CategoricalCrossentropy: "classification",
    BinaryCrossentropy: "binary",
    MeanSquaredError: "regression",
    MeanAbsoluteError: "regression",
}
PREDICTION_SUFFIXES = (".csv", ".npy")


def add_parsers(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", help="loss and accuracy of a saved model on a data file")
    _add_model_arguments(evaluate)
    evaluate.set_defaults(run=evaluate_command)
    predict = commands.add_parser("predict", help="predictions of a saved model for a data file")
    _add_model_arguments(predict)
    predict.add_argument("--output", metavar="PATH", help="write them to a .csv or .npy file (default: print them)")
    predict.set_defaults(run=predict_command)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a file written by Model.save or train --save")
    parser.add_argument("data", metavar="DATA", help="a .npz (arrays X and y) or .csv (last column y) file")
    parser.add_argument("--batch-size", type=positive_int, help="(default: all samples at once)")
    add_backend_arguments(parser)


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
        if Path(args.output).suffix.lower() not in PREDICTION_SUFFIXES:
            raise UsageError(f"--output {args.output}: predictions are written as {' or '.join(PREDICTION_SUFFIXES)}")
        check_output_files([("--output", args.output, args.output)], [Path(args.model), Path(args.data)])
    select_backend(args.backend, args.dtype)
    model = load_model(args.model)
    X = read_inputs_file(args.data, model.n_inputs)
    predictions = np.asarray(model.output_layer_activation.predictions(model.predict(X, batch_size=args.batch_size)))
    text_format = "%d" if predictions.dtype.kind in "iub" else "%.9g"
    if args.output is None:
        np.savetxt(sys.stdout, predictions, fmt=text_format, delimiter=",")
        return 0
    if args.output.lower().endswith(".npy"):
        write_atomically(args.output, lambda file: np.save(file, predictions), "write predictions to")
    else:
        write_atomically(args.output, lambda file: np.savetxt(file, predictions, fmt=text_format, delimiter=","),
                         "write predictions to")
    print(f"wrote {len(predictions)} predictions to {args.output}")
    return 0


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
