"""Reading the command line's data files (the user's ``.npz`` and ``.csv``) and deciding the problem kind.

Kept apart from the commands; every problem is a ``UsageError`` whose message names the file and
the fix, shown by ``nnfs-gpu`` as one line.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class UsageError(Exception):
    """A mistake in the command line or its files, shown as ``nnfs-gpu: error: ...`` (exit 2)."""


@dataclass
class Data:
    """Inputs and targets as read, with the test set when the dataset has one."""

    X: np.ndarray
    y: np.ndarray
    labels_from_text: bool = False  # a CSV column of whole numbers counts as labels
    validation: tuple[np.ndarray, np.ndarray] | None = None


def read_data_file(path: str) -> Data:
    """X and y from ``.npz`` (arrays X and y) or ``.csv`` (y is the last column)."""
    file = _data_file(path)
    if file.suffix.lower() == ".npz":
        X, y = _read_npz(file, ("X", "y"))
        return Data(_flat(X), y)
    table = _read_csv(file)
    if table.shape[1] < 2:
        raise UsageError(f"{file}: a CSV data file needs at least two columns, the inputs and then y")
    return Data(table[:, :-1], table[:, -1], labels_from_text=True)


def read_inputs_file(path: str, n_inputs: int) -> np.ndarray:
    """X from ``.npz`` (array X) or ``.csv`` (``n_inputs`` columns, or one more that holds y and is dropped)."""
    file = _data_file(path)
    if file.suffix.lower() == ".npz":
        return _flat(_read_npz(file, ("X",))[0])
    table = _read_csv(file)
    if table.shape[1] not in (n_inputs, n_inputs + 1):
        raise UsageError(
            f"{file}: the model takes {n_inputs} inputs, the CSV has {table.shape[1]} columns "
            f"(expected {n_inputs}, or {n_inputs + 1} with y last)"
        )
    return table[:, :n_inputs]


def existing_file(path: str, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"no such {what}: {path}")
    return file


def _data_file(path: str) -> Path:
    file = existing_file(path, "data file")
    if file.suffix.lower() not in (".npz", ".csv"):
        raise UsageError(f"{path}: data files must be .npz (arrays X and y) or .csv (last column y)")
    return file


def _read_npz(file: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    with open(file, "rb") as handle:
        if handle.read(2) != b"PK":  # else np.load guesses a pickle and says so, misleadingly
            raise UsageError(f"{file}: not a .npz archive (save the data with np.savez(path, X=X, y=y))")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise UsageError(
                    f"{file}: no array {missing[0]!r} (it holds {', '.join(archive.files) or 'nothing'}); "
                    "save the data with np.savez(path, X=X, y=y)"
                )
            arrays = [archive[name] for name in names]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(f"{file}: not a readable .npz file ({error})") from None
    if len(names) == 2 and len(arrays[0]) != len(arrays[1]):
        raise UsageError(f"{file}: X has {len(arrays[0])} rows but y has {len(arrays[1])}")
    return arrays


def _read_csv(file: Path) -> np.ndarray:
    """A numeric CSV as a 2-D float64 array; a first line that is not numbers is a header."""
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{file}: malformed CSV ({error})") from None
    if rows and not all(_is_number(cell) for cell in rows[0][1]):
        rows = rows[1:]
    if not rows:
        raise UsageError(f"{file}: the CSV has no data rows")
    width = len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise UsageError(f"{file}: malformed CSV, line {line} has {len(row)} columns, the first data line {width}")
    try:
        return np.array([row for _, row in rows], dtype=np.float64)
    except ValueError:
        line, cell = next((line, cell) for line, row in rows for cell in row if not _is_number(cell))
        raise UsageError(f"{file}: malformed CSV, line {line}: {cell.strip()!r} is not a number") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _flat(X: np.ndarray) -> np.ndarray:
    """X as (samples, features) rows: one column from a 1-D array, images flattened."""
    if X.ndim == 0:
        raise UsageError("X must hold one row per sample, it is a single number")
    return X.reshape(len(X), -1)


# -- tasks and targets --------------------------------------------------------------------------


def infer_task(data: Data) -> str:
    """Integer labels (or whole numbers in a CSV) mean classification, binary when only 0 and 1; else regression."""
    y = data.y
    if not (y.dtype.kind in "iub" or (data.labels_from_text and _whole_non_negative(y))):
        return "regression"
    return "binary" if set(np.unique(y).tolist()) <= {0, 1} else "classification"


def prepare_targets(y: np.ndarray, task: str, source: str) -> np.ndarray:
    """Targets in the shape the task's loss takes: class indices, 0/1 columns, or float columns."""
    if task == "regression":
        return y.reshape(-1, 1) if y.ndim == 1 else y
    if not _whole_non_negative(y):
        raise UsageError(
            f"{source}: {task} needs targets that are whole numbers >= 0, these are not (regression takes any numbers)"
        )
    labels = y.astype(np.int64)
    if task == "binary":
        if labels.max(initial=0) > 1:
            raise UsageError(f"{source}: binary classification needs 0/1 targets, found labels up to {labels.max()}")
        return labels.reshape(-1, 1) if labels.ndim == 1 else labels
    return labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels


def _whole_non_negative(y: np.ndarray) -> bool:
    if y.dtype.kind in "iub":
        return bool(np.all(y >= 0))
    return y.dtype.kind == "f" and bool(np.all(y >= 0)) and bool(np.all(np.floor(y) == y))


def output_count(y: np.ndarray, task: str) -> int:
    """Output neurons: one per class (or per one-hot column), else one per target column."""
    if task == "classification" and y.ndim == 1:
        return int(y.max(initial=0)) + 1
    return y.shape[1]
