"""What a data file's targets mean: the problem kind, and the classes of labels.

A classifier predicts class numbers 0..K-1. Labels that are text, or numbers other than 0..K-1
(1..K, -1 and 1, 0 and 2 without a 1), become classes in sorted order, and the labels are saved
with the model (``Model.class_labels``), so that predictions answer with them. Data for a model
that exists (``evaluate``, ``train --resume``) is mapped through that model's own classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnfs_gpu.cli.data import Data, UsageError

#: how many labels a message lists before it shortens the list
SHOWN_LABELS = 6


@dataclass
class Targets:
    """Targets in the shape the task's loss takes, with what a new model needs to predict them."""

    y: np.ndarray
    outputs: int  # output neurons
    class_labels: list[Any] | None = None  # what each class number means, when not the number itself
    note: str | None = None  # one line saying how the labels became classes


def infer_task(data: Data) -> str:
    """Labels (integers, whole numbers in a table, text) mean classification, binary when there are
    two classes (or several 0/1 columns); other numbers mean regression."""
    y = data.y
    if not (_is_text(y) or y.dtype.kind in "iub" or (data.labels_from_text and _whole(y))):
        return "regression"
    if y.ndim == 2 and y.shape[1] > 1:
        return "binary" if set(np.unique(y).tolist()) <= {0, 1} else "classification"
    return "binary" if len(np.unique(y)) <= 2 else "classification"


def targets_for_new_model(y: np.ndarray, task: str, source: str) -> Targets:
    """Targets for a model about to be built: classes numbered 0..K-1, the labels kept when they differ."""
    if task == "regression" or (y.ndim == 2 and y.shape[1] > 1):
        rows = _columns(y, task, source, "; leave out --task")
        return Targets(rows, rows.shape[1])
    labels = _labels(y, task, source)
    classes, indices = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise UsageError(f"{source}: y holds a single class ({_listed(classes)}); a classifier needs at least two"
                         + ("" if _is_text(y) else " (--task regression treats the targets as values)"))
    if task == "binary" and len(classes) > 2:
        raise UsageError(f"{source}: binary classification needs two classes, y holds {len(classes)} "
                         f"({_listed(classes)}); leave out --task binary")
    outputs = 1 if task == "binary" else len(classes)
    if not _is_text(y) and np.array_equal(classes, np.arange(len(classes))):
        return Targets(_shaped(labels.astype(np.int64), task), outputs)
    class_labels = [_plain(label) for label in classes]
    note = (f"labels {_listed(class_labels)} become classes 0..{len(classes) - 1} "
            "(saved with the model: predict answers with the labels)")
    return Targets(_shaped(indices.astype(np.int64), task), outputs, class_labels, note)


def targets_for_model(y: np.ndarray, model: Any, task: str, source: str) -> np.ndarray:
    """Targets for a model that exists: labels mapped through its classes (``class_labels``, else
    the numbers 0..K-1 themselves), each checked to be one of them."""
    if task == "regression" or (y.ndim == 2 and y.shape[1] > 1):
        return _columns(y, task, source)
    labels = _labels(y, task, source) if model.class_labels is None else y.reshape(-1)
    known = model.class_labels if model.class_labels is not None else list(range(_class_count(model, task)))
    index_of = {_key(label): index for index, label in enumerate(known)}
    values, inverse = np.unique(labels, return_inverse=True)
    unknown = [value for value in values if _key(value) not in index_of]
    if unknown:
        raise UsageError(f"{source}: y holds {_listed([_plain(value) for value in unknown])}, which the model does not know; "
                         f"its classes are {_listed(known)}")
    indices = np.array([index_of[_key(value)] for value in values], dtype=np.int64)[inverse.reshape(-1)]
    return _shaped(indices, task)


def _labels(y: np.ndarray, task: str, source: str) -> np.ndarray:
    """One label per sample: text, or whole numbers."""
    labels = y.reshape(-1)
    if not _is_text(labels) and not _whole(labels):
        raise UsageError(f"{source}: {task} needs labels that are whole numbers or text, these are not "
                         "(regression takes any numbers)")
    return labels


def _columns(y: np.ndarray, task: str, source: str, hint: str = "") -> np.ndarray:
    """Regression values, one-hot rows or several 0/1 outputs, as 2-D columns."""
    if _is_text(y):
        raise UsageError(f"{source}: {task} needs numbers as targets, y holds text labels{hint}")
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    if task == "regression":
        return y
    if not (_whole(y) and bool(np.all(y >= 0))):
        raise UsageError(f"{source}: {task} needs targets that are whole numbers >= 0, these are not "
                         "(regression takes any numbers)")
    if task == "binary" and y.max(initial=0) > 1:
        raise UsageError(f"{source}: binary classification needs 0/1 targets, found labels up to {y.max()}")
    return y.astype(np.int64)


def _shaped(indices: np.ndarray, task: str) -> np.ndarray:
    return indices.reshape(-1, 1) if task == "binary" else indices


def _class_count(model: Any, task: str) -> int:
    return 2 if task == "binary" else model.n_outputs


def _is_text(y: np.ndarray) -> bool:
    return y.dtype.kind in "US"


def _whole(y: np.ndarray) -> bool:
    return y.dtype.kind in "iub" or (y.dtype.kind == "f" and bool(np.all(np.floor(y) == y)))


def _plain(label: Any) -> Any:
    """A label as saved with a model: text, or a whole number as an int."""
    if isinstance(label, (str, np.str_)):
        return str(label)
    return int(label) if float(label).is_integer() else float(label)


def _key(label: Any) -> str:
    """A label as compared with a model's: 1, 1.0 and '1' are the same label."""
    return str(_plain(label))


def _listed(labels: Any) -> str:
    """Labels for a message, shortened when there are many."""
    shown = [repr(label) if isinstance(label, str) else str(label) for label in (_plain(label) for label in labels)]
    if len(shown) > SHOWN_LABELS:
        shown = [*shown[: SHOWN_LABELS - 1], "...", shown[-1]]
    return ", ".join(shown)
