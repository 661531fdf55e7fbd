"""Reading the command line's data files: the user's ``.npz``, ``.npy`` and ``.csv``.

Kept apart from the commands; every problem is a ``UsageError`` whose message names the file, the
place in it (a CSV's line and column, an array's row and column) and the fix, shown by ``nnfs-gpu``
as one line. Inputs must be numbers; targets may be numbers or text labels (what they mean is
``labels``' business). A missing value (an empty cell, ``NA``, ``NaN``) is refused, never guessed.
``.npz`` and ``.npy`` files are read as model files are (``nnfs_gpu.model_file``: headers checked
against the file's size before anything is allocated, at most ``MAX_EXPANSION`` times the file's size
unpacked), so a damaged or crafted data file is one line too, read or refused cheaply.
"""

from __future__ import annotations

import csv
import itertools
import math
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nnfs_gpu.model_file import Archive, array_budget, read_npy

DATA_SUFFIXES = (".npz", ".npy", ".csv")
#: what a data file must look like, for the messages
FORMS = ".npz (arrays X and y), .npy (one array, y its last column) or .csv (y the last column)"
#: CSV cells that mean "no value" (compared in lower case): refused, with their line and column
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "?"})


class UsageError(Exception):
    """A mistake in the command line or its files, shown as ``nnfs-gpu: error: ...`` (exit 2)."""


@dataclass
class Data:
    """Inputs and targets as read (targets: numbers, or text labels as a str array), with the test
    set when the dataset has one."""

    X: np.ndarray
    y: np.ndarray
    labels_from_text: bool = False  # a table's column of whole numbers counts as labels
    validation: tuple[np.ndarray, np.ndarray] | None = None


def read_data_file(path: str) -> Data:
    """X and y from a data file (see FORMS), checked."""
    file = _data_file(path)
    suffix = file.suffix.lower()
    if suffix == ".npz":
        X, y = _read_npz(file, ("X", "y"))
        data = Data(_flat(file, X, "X"), _targets(file, y))
    elif suffix == ".npy":
        table = _checked(file, "the array", _read_npy(file))
        if table.ndim != 2 or table.shape[1] < 2:
            raise UsageError(f"{file}: the array has shape {table.shape}; a .npy data file is a table (samples, inputs + 1) "
                             "with y in its last column (or save X and y with np.savez(path, X=X, y=y))")
        data = Data(table[:, :-1], table[:, -1], labels_from_text=True)
    else:
        table = _Csv.read(file)
        if table.width < 2:
            raise UsageError(f"{file}: a CSV data file needs at least two columns, the inputs and then y{table.separator_hint()}")
        data = Data(table.numbers(file, table.width - 1), table.labels(file), labels_from_text=True)
    if len(data.X) != len(data.y):
        raise UsageError(f"{file}: X has {len(data.X)} rows but y has {len(data.y)}")
    return data


def read_inputs_file(path: str, n_inputs: int) -> np.ndarray:
    """X from a data file: ``.npz`` (array X), ``.npy`` (X, images flattened) or ``.csv``; a table
    has ``n_inputs`` columns, or one more (y, ignored)."""
    file = _data_file(path)
    suffix = file.suffix.lower()
    if suffix == ".npz":
        return _flat(file, _read_npz(file, ("X",))[0], "X")
    if suffix == ".npy":
        array = _read_npy(file)
        if array.ndim == 1 and n_inputs == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:  # images: one flattened row per sample
            return _flat(file, array, "the array")
        _check_width(file, array.shape[1], n_inputs, "the array has")
        return _checked(file, "the array", array[:, :n_inputs])
    table = _Csv.read(file)
    _check_width(file, table.width, n_inputs, "the CSV has", table.separator_hint())
    return table.numbers(file, n_inputs)


def _check_width(file: Path, width: int, n_inputs: int, has: str, hint: str = "") -> None:
    if width not in (n_inputs, n_inputs + 1):
        raise UsageError(f"{file}: the model takes {n_inputs} inputs, {has} {width} columns "
                         f"(expected {n_inputs}, or {n_inputs + 1} with y last){hint}")


def existing_file(path: str, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"no such {what}: {path}")
    return file


def _data_file(path: str) -> Path:
    file = existing_file(path, "data file")
    if file.suffix.lower() not in DATA_SUFFIXES:
        raise UsageError(f"{path}: data files must be {FORMS}")
    return file


# -- NumPy files --------------------------------------------------------------------------------


def _read_npz(file: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    """The arrays ``names`` of an archive, read as model files are (``model_file.Archive``: every
    header checked against the file's size before anything is allocated)."""
    with open(file, "rb") as handle:
        if handle.read(2) != b"PK":  # else np.load guesses a pickle and says so, misleadingly
            raise UsageError(f"{file}: not a .npz archive (save the data with np.savez(path, X=X, y=y))")
    with Archive(file, _refusal(file)) as archive:
        found = {name: archive.member(name) for name in names}
        missing = [name for name, member in found.items() if member is None]
        if missing:
            raise UsageError(
                f"{file}: no array {missing[0]!r} (it holds {', '.join(archive.names()) or 'nothing'}); "
                "save the data with np.savez(path, X=X, y=y)"
            )
        archive.check_budget([header for _, header in found.values()])  # type: ignore[misc]
        return [archive.read(name, *found[name]) for name in names]  # type: ignore[misc]


def _read_npy(file: Path) -> np.ndarray:
    with open(file, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise UsageError(f"{file}: not a .npy file (save the array with np.save(path, array))")
    return read_npy(file, _refusal(file))


def _refusal(file: Path) -> Callable[[str], UsageError]:
    return lambda what: UsageError(f"{file} {what}")


def _flat(file: Path, X: np.ndarray, name: str) -> np.ndarray:
    """X as (samples, features) rows, checked: one column from a 1-D array, images flattened."""
    X = _checked(file, name, X, at_most_2d=False)
    return X.reshape(len(X), -1)


def _targets(file: Path, y: np.ndarray) -> np.ndarray:
    """An archive's y: numbers, or text labels (a 1-D str array)."""
    if y.dtype.kind in "US" and y.ndim in (1, 2) and y.size:
        if y.ndim == 2 and y.shape[1] != 1:
            raise UsageError(f"{file}: y holds text labels of shape {y.shape}; text labels are one column, one per sample")
        if y.dtype.kind == "S":
            _check_text_size(file, y.size, y.dtype.itemsize)
            return np.char.decode(y, "utf-8").reshape(-1)
        return y.reshape(-1)
    return _checked(file, "y", y)


def _check_text_size(file: Path, count: int, longest: int) -> None:
    """Text labels take 4 bytes a character, each as long as the longest: refused beyond the model files' bound."""
    nbytes = 4 * count * longest
    if nbytes > array_budget(file.stat().st_size):
        raise UsageError(f"{file}: y's {count} text labels would take {nbytes} bytes (the longest has {longest} characters), "
                         f"more than a file of its size may unpack to; shorten the labels")


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
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        value = "NaN" if np.isnan(array[index]) else "infinity"
        raise UsageError(f"{file}: {name} holds {value} at {_place(index)} (counting from 0); fill in or remove missing values first")
    return array


def _place(index: tuple[int, ...]) -> str:
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}"
    return f"index {index}"


# -- CSV files ----------------------------------------------------------------------------------


@dataclass
class _Csv:
    """A CSV file's cells as text (an object array, one row per data line: no list per row, so a
    file's cells take little more memory than the file), with the line of each row and the header's
    names when it has one."""

    header: list[str] | None
    lines: array
    cells: np.ndarray

    @classmethod
    def read(cls, file: Path) -> "_Csv":
        try:
            with open(file, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
                reader = csv.reader(handle)
                rows = ((reader.line_num, row) for row in reader if any(map(str.strip, row)))
                first = list(itertools.islice(rows, 2))
                header = None
                if first and _names_columns(first[0][1], first[1][1] if len(first) > 1 else None):
                    header = [cell.strip() for cell in first.pop(0)[1]]
                lines, cells = array("q"), []
                width = len(first[0][1]) if first else 0
                for line, row in itertools.chain(first, rows):
                    if len(row) != width:
                        raise UsageError(f"{file}: malformed CSV, line {line} has {len(row)} columns, the first data line {width}")
                    lines.append(line)
                    cells.extend(row)
        except (UnicodeDecodeError, csv.Error) as error:
            raise UsageError(f"{file}: malformed CSV ({error})") from None
        if not lines:
            raise UsageError(f"{file}: the CSV has no data rows")
        return cls(header, lines, np.array(cells, dtype=object).reshape(len(lines), width))

    @property
    def width(self) -> int:
        return self.cells.shape[1]

    def separator_hint(self) -> str:
        """Why a table may read as one column: another separator than the comma."""
        separator = next((name for char, name in ((";", "semicolons"), ("\t", "tabs")) if char in self.cells[0, 0]), None)
        return f" (its columns seem separated by {separator}; separate them with commas)" if separator else ""

    def where(self, row: int, column: int) -> str:
        """A cell's place as a reader finds it: its line, its column from 1, and the column's name."""
        name = f" ({self.header[column]})" if self.header and column < len(self.header) and self.header[column] else ""
        return f"line {self.lines[row]}, column {column + 1}{name}"

    def numbers(self, file: Path, columns: int) -> np.ndarray:
        """The first ``columns`` columns as float64, each cell a finite number (else the first bad
        cell is named, with its place)."""
        cells = self.cells[:, :columns]
        try:
            values = cells.astype(np.float64)
        except ValueError:
            values = None
        if values is not None and np.isfinite(values).all():
            return values
        row, column, problem = next((r, c, _problem(cell)) for r, cells_of_row in enumerate(cells)
                                    for c, cell in enumerate(cells_of_row) if _problem(cell))
        hint = "; inputs must be numbers (only y, the last column, may hold text labels)" if "not a number" in problem else ""
        raise UsageError(f"{file}: {self.where(row, column)}: {problem}{hint}")

    def labels(self, file: Path) -> np.ndarray:
        """The last column: numbers (float64) when every cell is one, else text labels."""
        last = self.width - 1
        cells = [cell.strip() for cell in self.cells[:, last]]
        for row, cell in enumerate(cells):
            if cell.lower() in MISSING:
                raise UsageError(f"{file}: {self.where(row, last)}: y is {_missing(cell)}; fill it in or remove the row")
        if not all(_is_number(cell) for cell in cells):
            _check_text_size(file, len(cells), max(map(len, cells)))
            return np.array(cells)
        values = np.array(cells, dtype=np.float64)
        if not np.isfinite(values).all():
            row = int(np.argwhere(~np.isfinite(values))[0][0])
            raise UsageError(f"{file}: {self.where(row, last)}: {_problem(cells[row])}")
        return values


def _problem(cell: str) -> str | None:
    """What is wrong with a cell that must hold a number, or None."""
    text = cell.strip()
    if text.lower() in MISSING:
        return f"the value is {_missing(text)}; fill it in or remove the row"
    if not _is_number(text):
        return f"{text!r} is not a number"
    if not math.isfinite(float(text)):
        return f"{text!r} is not a finite number"
    return None


def _missing(text: str) -> str:
    return f"missing ({text!r})" if text else "missing (an empty cell)"


def _names_columns(first: list[str], second: list[str] | None) -> bool:
    """Whether a CSV's first row is a header: it holds text where the next row holds a number (a
    missing value decides nothing), or, alone, holds no number at all."""
    if second is None:
        return not any(_is_number(cell) for cell in first)
    return any(_is_text(a) and _is_number(b) for a, b in zip(first, second))


def _is_text(cell: str) -> bool:
    return cell.strip().lower() not in MISSING and not _is_number(cell)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
