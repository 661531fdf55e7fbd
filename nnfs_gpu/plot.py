"""Pictures of training: the history's curves, a 2-D classifier's decision boundary, a regression's fit.

Every function returns the matplotlib ``Figure`` (a notebook shows it inline) and, given a path,
also writes it there as a PNG (atomically: a failed write leaves an earlier file intact). Figures
are drawn with matplotlib's object-oriented API on the Agg canvas, so plotting never opens a window,
never needs a display, and leaves pyplot's global state (a notebook's figures) alone; only ``show``,
which a script calls instead of ``plt.show()``, hands a figure to pyplot, and only where there is a
display (elsewhere it writes a PNG and says where). matplotlib is optional (``pip install 'nnfs_gpu[plot]'``); it is imported only when a plot is made.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .activations import Sigmoid, Softmax
from .files import write_atomically

DPI = 100
#: figure sizes in inches; at DPI, the PNGs are 1200 x 400 and 600 x 600 pixels
HISTORY_SIZE = (12.0, 4.0)
BOUNDARY_SIZE = (6.0, 6.0)
INSTALL_HINT = "pip install 'nnfs_gpu[plot]'"

#: (panel title, history keys drawn in it); a panel is drawn when its first key is in the history
HISTORY_PANELS = (
    ("loss", ("loss", "data_loss", "val_loss")),
    ("accuracy", ("accuracy", "val_accuracy")),
    ("learning rate", ("learning_rate",)),
)
#: one look per quantity, the same in every panel: training blue, validation orange
STYLES = {
    "loss": {"color": "C0"},
    "data_loss": {"color": "C0", "linestyle": "--", "label": "data_loss (without regularization)"},
    "val_loss": {"color": "C1"},
    "accuracy": {"color": "C0"},
    "val_accuracy": {"color": "C1"},
    "learning_rate": {"color": "C2"},
}
#: losses spanning more than this factor are drawn on a log scale (else the last 90 % look flat)
LOG_SCALE_SPAN = 20.0


class PlotUnavailableError(ImportError):
    """Plotting was asked for, but matplotlib is not installed; the message says what to install."""


def require_matplotlib() -> None:
    """Raises PlotUnavailableError now, so a long training run does not end without its plot."""
    _new_figure((1.0, 1.0))


def _new_figure(size: tuple[float, float]) -> Any:
    """A figure on its own Agg canvas (no pyplot, no window)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise PlotUnavailableError(f"plotting needs matplotlib, which is not installed; {INSTALL_HINT}") from error
    figure = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(figure)
    _show_figures_inline()
    return figure


def _show_figures_inline() -> None:
    """In a notebook, has IPython draw a returned Figure as a PNG, as ``%matplotlib inline`` would
    (a figure made without pyplot otherwise shows only as ``<Figure ...>`` in a fresh kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", {})
    if "image/png" not in formatters:
        return
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    formatters["image/png"].for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


def plot_history(history: dict[str, list[float]], path: str | os.PathLike[str] | None = None) -> Any:
    """The per-epoch curves of ``Model.train``'s history, one panel per quantity: loss (with the data
    loss when there was regularization, and the validation loss with validation data; on a log
    scale when the losses span more than LOG_SCALE_SPAN), accuracy (and validation accuracy), and
    the learning rate (from 0, so a slow decay does not look like a cliff)."""
    if not history.get("loss"):
        raise ValueError("the history has no epochs to plot (train for at least one epoch)")
    regularized = any(history.get("regularization_loss", []))
    drawn = {key for key in history if key != "data_loss" or regularized}
    panels = [(title, [key for key in keys if key in drawn]) for title, keys in HISTORY_PANELS if keys[0] in history]
    figure = _new_figure(HISTORY_SIZE)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for index, (title, keys) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for key in keys:
            axes.plot(epochs, history[key], **{"label": key, **STYLES.get(key, {})})
        axes.set(title=title, xlabel="epoch")
        axes.grid(alpha=0.3)
        if title == "loss" and _spans_decades(history, keys):
            axes.set_yscale("log")
        else:
            axes.ticklabel_format(axis="y", useOffset=False)  # a slowly decaying learning rate, not "1e-6 + 4.999e-2"
        if title == "learning rate":
            axes.set_ylim(bottom=0)
        if len(keys) > 1:
            axes.legend()
    return _finish(figure, path)


def _spans_decades(history: dict[str, list[float]], keys: list[str]) -> bool:
    values = np.concatenate([np.asarray(history[key], dtype=float) for key in keys])
    values = values[np.isfinite(values)]
    return bool(values.size) and values.min() > 0 and values.max() / values.min() > LOG_SCALE_SPAN


def _finish(figure: Any, path: str | os.PathLike[str] | None) -> Any:
    """Lays the figure out, writes it to ``path`` (when given) as a PNG, and returns it."""
    figure.tight_layout()
    if path is not None:
        write_atomically(path, lambda file: figure.savefig(file, format="png"), "write the plot to")
    return figure


def plot_decision_boundary(model: Any, X: Any, y: Any, path: str | os.PathLike[str] | None = None, resolution: int = 200,
                           class_names: list[str] | None = None) -> Any:
    """The classes a 2-input classifier predicts over the plane, with the data on top and a legend
    naming the classes (``class_names``, else their numbers).

    ``model`` ends in Softmax (one class per output) or in a single Sigmoid output (0/1); ``X`` is
    ``(samples, 2)`` and ``y`` its labels (class indices, one-hot rows, or a 0/1 column).
    """
    problem = boundary_problem(model)
    if problem is not None:
        raise ValueError(problem)
    X, labels, classes = np.asarray(X), _labels(y), _class_count(model)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) != len(labels):
        raise ValueError(
            f"decision boundaries need X of shape (samples, 2) and one label per sample, got X {X.shape}, y {np.shape(y)}"
        )
    names = [str(name) for name in class_names] if class_names is not None else [str(c) for c in range(classes)]
    if len(names) != classes:
        raise ValueError(f"class_names: the model tells {classes} classes apart, got {len(names)} names")
    xx, yy = _grid(X, resolution)
    grid_classes = _predict_classes(model, np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    accuracy = float(np.mean(_predict_classes(model, X) == labels))
    figure = _new_figure(BOUNDARY_SIZE)
    axes = figure.add_subplot()
    colours = {"cmap": "tab10", "vmin": 0, "vmax": 9}
    axes.contourf(xx, yy, grid_classes, levels=np.arange(classes + 1) - 0.5, alpha=0.3, **colours)
    for number, name in enumerate(names):
        mine = labels == number
        axes.scatter(X[mine, 0], X[mine, 1], color=f"C{number}", s=12, edgecolors="k", linewidths=0.3, label=name)
    axes.legend(title="class", loc="best", fontsize="small")
    axes.set(title=f"decision boundary ({classes} classes, accuracy {accuracy:.3f})", xlabel="x[0]", ylabel="x[1]")
    return _finish(figure, path)


def plot_regression(model: Any, X: Any, y: Any, path: str | os.PathLike[str] | None = None) -> Any:
    """A 1-input, 1-output regressor's predictions over its inputs, with the data (chapter 17's plot)."""
    if getattr(model, "n_inputs", None) != 1 or getattr(model, "n_outputs", None) != 1:
        raise ValueError("a regression plot needs a finalized model with 1 input and 1 output")
    X = np.asarray(X, dtype=float)
    return plot_fit(X, y, model.predict(X.reshape(len(X), -1)), path)


def plot_fit(X: Any, y: Any, predictions: Any, path: str | os.PathLike[str] | None = None) -> Any:
    """Predictions over one input, drawn as a line through the data (dots): chapter 17's closing
    plot, for any model or loop that made ``predictions`` for ``X``."""
    X, y, predictions = (np.asarray(values, dtype=float) for values in (X, y, predictions))
    if X.reshape(len(X), -1).shape[1] != 1 or y.size != len(X) or predictions.size != len(X):
        raise ValueError(f"a regression plot needs X, y and the predictions with one value per sample, got X {X.shape}, "
                         f"y {y.shape}, predictions {predictions.shape}")
    order = np.argsort(X.reshape(-1))
    inputs, targets, predicted = X.reshape(-1)[order], y.reshape(-1)[order], predictions.reshape(-1)[order]
    figure = _new_figure(BOUNDARY_SIZE)
    axes = figure.add_subplot()
    axes.scatter(inputs, targets, s=6, color="C0", label="data")
    axes.plot(inputs, predicted, color="C1", label="prediction")
    error = float(np.sqrt(np.mean((predicted - targets) ** 2)))
    axes.set(title=f"regression fit (RMSE {error:.4f})", xlabel="x", ylabel="y")
    axes.legend()
    axes.grid(alpha=0.3)
    return _finish(figure, path)


def show(figure: Any, path: str | os.PathLike[str]) -> Path | None:
    """Opens ``figure`` in a window, as the book's ``plt.show()`` does, where matplotlib has a display
    to draw on; elsewhere (a server, CI, ``MPLBACKEND=Agg``) writes it to ``path`` as a PNG instead
    and returns that path, so a headless machine never tries to open a window."""
    if not has_display():
        _finish(figure, path)
        return Path(path)
    from matplotlib import pyplot

    window = pyplot.figure(figsize=figure.get_size_inches(), dpi=figure.dpi)  # a window of pyplot's, showing ``figure``
    window.canvas.figure = figure
    figure.set_canvas(window.canvas)
    pyplot.show()
    return None


def has_display() -> bool:
    """Whether matplotlib would draw in a window: its backend (``MPLBACKEND``, else its own choice,
    which is Agg where there is no display) is an interactive one, and on Linux an X or Wayland
    display is there to open it on (a GUI backend named without one would fail)."""
    _new_figure((1.0, 1.0))  # matplotlib is installed, or the error says what to install
    import matplotlib
    from matplotlib import pyplot  # noqa: F401  (resolves matplotlib's automatic choice of backend)

    name = matplotlib.get_backend().lower()
    if name.startswith("module://"):  # a notebook's or another program's own backend
        return True
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        interactive = backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup

        interactive = rcsetup.interactive_bk
    return name in {backend.lower() for backend in interactive}


def boundary_problem(model: Any) -> str | None:
    """Why no decision boundary can be drawn for ``model``, or None when one can."""
    output = model.layers[-1] if model.layers else None
    if not (isinstance(output, Softmax) or (isinstance(output, Sigmoid) and model.n_outputs == 1)):
        return "decision boundaries need a classifier ending in Softmax, or in Sigmoid with one output"
    if model.n_inputs != 2:
        return f"decision boundaries need a model with 2 inputs, this one takes {model.n_inputs}"
    if _class_count(model) > 10:
        return f"decision boundaries are drawn for up to 10 classes, the model has {model.n_outputs}"
    return None


def _class_count(model: Any) -> int:
    """How many classes a Softmax (one per output) or single-Sigmoid (two) classifier tells apart."""
    return 2 if isinstance(model.layers[-1], Sigmoid) else model.n_outputs


def _labels(y: Any) -> np.ndarray:
    """Class indices from indices, one-hot rows or a 0/1 column."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return y.reshape(-1).astype(np.int64)


def _grid(X: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """A resolution x resolution grid over the data, with a 10% margin on each side."""
    low, high = X.min(axis=0).astype(float), X.max(axis=0).astype(float)
    margin = np.maximum(0.1 * (high - low), 1e-3)
    axes = [np.linspace(low[i] - margin[i], high[i] + margin[i], resolution) for i in range(2)]
    return np.meshgrid(*axes)


def _predict_classes(model: Any, X: np.ndarray) -> np.ndarray:
    """Predicted class per row, as host integers."""
    outputs = model.predict(X, batch_size=8192)
    return np.asarray(model.output_layer_activation.predictions(outputs)).reshape(-1).astype(np.int64)
