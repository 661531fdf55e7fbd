"""``nnfs-gpu evaluate`` and ``nnfs-gpu predict``: a saved model on a data file.

Predictions answer as the model was trained: a classifier with the original labels of its data
(``Model.class_labels``), a regressor with values; ``--probabilities`` gives one column per class.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from nnfs_gpu import Linear, Model, Sigmoid
from nnfs_gpu.cli.data import UsageError, read_data_file, read_inputs_file
from nnfs_gpu.cli.labels import targets_for_model
from nnfs_gpu.cli.network import load_model, model_task
from nnfs_gpu.cli.options import add_backend_arguments, check_output_files, positive_int, select_backend
from nnfs_gpu.files import write_atomically

PREDICTION_SUFFIXES = (".csv", ".npy")


def add_parsers(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", help="loss and accuracy of a saved model on a data file")
    _add_model_arguments(evaluate, "a .npz (arrays X and y), .npy (a table, y its last column) or .csv (y the last column) file")
    evaluate.set_defaults(run=evaluate_command)
    predict = commands.add_parser("predict", help="predictions of a saved model for a data file")
    _add_model_arguments(predict, "the inputs: a .npz (array X), .npy (one row per sample; images are flattened) or "
                                  ".csv file (a last column more than the model's inputs, y, is ignored)")
    predict.add_argument("--output", metavar="PATH", help="write them to a .csv or .npy file (default: print them)")
    predict.add_argument("--probabilities", action="store_true",
                         help="a classifier's probability of each class, one column per class "
                              "(a CSV's header names the classes) instead of the predicted class")
    predict.set_defaults(run=predict_command)


def _add_model_arguments(parser: argparse.ArgumentParser, data_help: str) -> None:
    parser.add_argument("model", metavar="MODEL", help="a file written by Model.save or train --save")
    parser.add_argument("data", metavar="DATA", help=data_help)
    parser.add_argument("--batch-size", type=positive_int, help="(default: all samples at once)")
    add_backend_arguments(parser)


def evaluate_command(args: argparse.Namespace) -> int:
    """Prints a saved model's loss and accuracy on a data file."""
    select_backend(args)
    model = load_model(args.model)
    task = model_task(model)
    data = read_data_file(args.data)
    if data.X.shape[1] != model.n_inputs:
        raise UsageError(f"{args.data}: the model takes {model.n_inputs} inputs, the data has {data.X.shape[1]} (and then y)")
    y = targets_for_model(data.y, model, task, args.data)
    loss, accuracy = model.evaluate(data.X, y, batch_size=args.batch_size, verbose=False)
    print(f"{args.data}: {len(y)} samples, acc: {accuracy:.3f}, loss: {loss:.3f}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """Writes (or prints) a saved model's predictions: labels, 0/1 outputs or values, or probabilities."""
    if args.output is not None:
        if Path(args.output).suffix.lower() not in PREDICTION_SUFFIXES:
            raise UsageError(f"--output {args.output}: predictions are written as {' or '.join(PREDICTION_SUFFIXES)}")
        check_output_files([("--output", args.output, args.output)], [Path(args.model), Path(args.data)])
    select_backend(args)
    model = load_model(args.model)
    regressor = isinstance(model.output_layer_activation, Linear)
    if args.probabilities and regressor:
        raise UsageError(f"--probabilities: {args.model} is a regressor (Linear output): it predicts values, "
                         "not probabilities; leave out --probabilities")
    X = read_inputs_file(args.data, model.n_inputs)
    header = None
    if args.probabilities:
        predictions, header = _probabilities(model, X, args.batch_size)
    elif regressor:
        predictions = model.predict(X, batch_size=args.batch_size)
    else:
        predictions = model.predict_classes(X, batch_size=args.batch_size)
    if args.output is None:
        _write_csv(sys.stdout, predictions, header)
        return 0
    if args.output.lower().endswith(".npy"):
        write_atomically(args.output, lambda file: np.save(file, predictions), "write predictions to")
    else:
        write_atomically(args.output, lambda file: _write_csv_bytes(file, predictions, header), "write predictions to")
    what = f"the probabilities of {len(predictions)} samples (columns: {', '.join(header)})" if header else \
        f"{len(predictions)} predictions"
    print(f"wrote {what} to {args.output}")
    return 0


def _probabilities(model: Model, X: np.ndarray, batch_size: int | None) -> tuple[np.ndarray, list[str]]:
    """One column per class (a single Sigmoid output gives both of its classes) and the classes' names."""
    outputs = model.predict_proba(X, batch_size=batch_size)
    if isinstance(model.output_layer_activation, Sigmoid) and outputs.shape[1] == 1:
        outputs = np.concatenate([1 - outputs, outputs], axis=1)
    elif isinstance(model.output_layer_activation, Sigmoid):  # several 0/1 outputs, each its own probability
        return outputs, [f"output {index}" for index in range(outputs.shape[1])]
    names = model.class_labels if model.class_labels is not None else range(outputs.shape[1])
    return outputs, [str(name) for name in names]


def _write_csv_bytes(file: IO[bytes], values: np.ndarray, header: list[str] | None) -> None:
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    _write_csv(text, values, header)
    text.flush()
    text.detach()  # the binary file stays open for write_atomically


def _write_csv(file: IO[str], values: np.ndarray, header: list[str] | None) -> None:
    """Rows of values (text labels quoted where CSV needs it), under the header when there is one."""
    writer = csv.writer(file, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    rows = values.reshape(len(values), -1)
    kind = rows.dtype.kind
    cells = rows.astype(str) if kind in "USiub" else np.char.mod("%.9g", rows)
    writer.writerows(cells.tolist())
