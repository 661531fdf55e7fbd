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
    """X and y from ``.npz`` (arrays X and y) or ``.csv`` (y is the last column), checked."""
    file = _data_file(path)
    if file.suffix.lower() == ".npz":
        X, y = _read_npz(file, ("X", "y"))
        data = Data(_flat(file, X), _checked(file, "y", y))
    else:
        table = _read_csv(file)
        if table.shape[1] < 2:
            raise UsageError(f"{file}: a CSV data file needs at least two columns, the inputs and then y")
        data = Data(_checked(file, "X", table[:, :-1]), _checked(file, "y", table[:, -1]), labels_from_text=True)
    if len(data.X) != len(data.y):
        raise UsageError(f"{file}: X has {len(data.X)} rows but y has {len(data.y)}")
    return data


def read_inputs_file(path: str, n_inputs: int) -> np.ndarray:
    """X from ``.npz`` (array X) or ``.csv`` (``n_inputs`` columns, or one more that holds y and is dropped)."""
    file = _data_file(path)
    if file.suffix.lower() == ".npz":
        return _flat(file, _read_npz(file, ("X",))[0])
    table = _checked(file, "X", _read_csv(file))
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


def _flat(file: Path, X: np.ndarray) -> np.ndarray:
    """X as (samples, features) rows, checked: one column from a 1-D array, images flattened."""
    X = _checked(file, "X", X, at_most_2d=False)
    return X.reshape(len(X), -1)


def _checked(file: Path, name: str, array: np.ndarray, at_most_2d: bool = True) -> np.ndarray:
    """An array of the data file, refused unless it holds finite numbers, one row per sample (images
    may have more dimensions)."""
    if array.dtype.kind not in "iubf":
        raise UsageError(f"{file}: {name} must hold numbers, it holds {array.dtype} values")
    if array.ndim == 0:
        raise UsageError(f"{file}: {name} is a single number; it must hold one row per sample")
    if at_most_2d and array.ndim > 2:
        raise UsageError(f"{file}: {name} has shape {array.shape}; it must be 1-D or 2-D")
    if array.shape[0] == 0 or array.size == 0:
        raise UsageError(f"{file}: {name} is empty (shape {array.shape}); it needs at least one sample with values")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise UsageError(f"{file}: {name} holds NaN or infinity (first in row {row}); clean the data first")
    return array


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
