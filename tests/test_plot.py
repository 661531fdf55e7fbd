"""Plots: PNG files of the expected size, drawn without a window, refused for what they cannot show,
and a message naming the extra to install when matplotlib is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import (
    SGD,
    BinaryCrossentropy,
    Categorical,
    CategoricalCrossentropy,
    Dense,
    Linear,
    MeanSquaredError,
    Model,
    Regression,
    ReLU,
    Sigmoid,
    Softmax,
    plot,
)
from nnfs_gpu.datasets import read_png, spiral_data
from support import HANG_GUARD_S

pytest.importorskip("matplotlib")


def network(n_inputs: int, n_outputs: int, output: type, loss: type, accuracy: Categorical | Regression) -> Model:
    with nnfs_gpu.use_backend("numpy"):
        model = Model()
        model.add(Dense(n_inputs, 8))
        model.add(ReLU())
        model.add(Dense(8, n_outputs))
        model.add(output())
        model.set(loss=loss(), optimizer=SGD(), accuracy=accuracy)
        model.finalize()
    return model


@pytest.fixture
def spiral():
    np.random.seed(0)
    return spiral_data(30, 3)


@pytest.fixture
def history(spiral):
    return network(2, 3, Softmax, CategoricalCrossentropy, Categorical()).train(
        *spiral, epochs=5, verbose=False, validation_data=spiral
    )


def test_history_is_a_png_of_1200_by_400_pixels(tmp_path, history):
    plot.plot_history(history, tmp_path / "history.png")
    without_validation = {key: values for key, values in history.items() if not key.startswith("val_")}
    plot.plot_history(without_validation, tmp_path / "train_only.png")
    assert read_png(tmp_path / "history.png").shape == (400, 1200)  # decodes: a valid PNG
    assert read_png(tmp_path / "train_only.png").shape == (400, 1200)


def test_history_without_epochs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no epochs"):
        plot.plot_history({"loss": [], "accuracy": [], "learning_rate": []}, tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_decision_boundary_is_a_png_of_600_by_600_pixels(tmp_path, spiral, kind):
    X, y = spiral
    if kind == "softmax":
        model = network(2, 3, Softmax, CategoricalCrossentropy, Categorical())
    else:
        model, y = network(2, 1, Sigmoid, BinaryCrossentropy, Categorical(binary=True)), (y == 1).reshape(-1, 1)
    plot.plot_decision_boundary(model, X, y, tmp_path / "boundary.png")
    image = read_png(tmp_path / "boundary.png")
    assert image.shape == (600, 600)
    assert len(np.unique(image)) > 10  # regions, points and text, not a blank canvas


@pytest.mark.parametrize(
    "model_inputs, message",
    [
        ((2, 1, Linear, MeanSquaredError, Regression()), "need a classifier ending in Softmax"),
        ((3, 3, Softmax, CategoricalCrossentropy, Categorical()), "need a model with 2 inputs, this one takes 3"),
        ((2, 12, Softmax, CategoricalCrossentropy, Categorical()), "up to 10 classes, the model has 12"),
    ],
    ids=["regression", "three-inputs", "twelve-classes"],
)
def test_decision_boundary_refuses_what_it_cannot_draw(tmp_path, spiral, model_inputs, message):
    model = network(*model_inputs)
    assert message in plot.boundary_problem(model)
    with pytest.raises(ValueError, match=message):
        plot.plot_decision_boundary(model, np.zeros((4, model.n_inputs)), np.zeros(4), tmp_path / "no.png")


def test_missing_matplotlib_names_the_extra_to_install(tmp_path, monkeypatch, history):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # 'import' of these now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'nnfs_gpu\[plot\]'") as caught:
        plot.plot_history(history, tmp_path / "history.png")
    assert isinstance(caught.value, plot.PlotUnavailableError)
    with pytest.raises(plot.PlotUnavailableError):
        plot.require_matplotlib()


def test_plotting_never_touches_pyplot_or_a_window(tmp_path):
    code = (
        "import sys, numpy as np; from nnfs_gpu import plot\n"
        "plot.plot_history({'loss': [1.0, 0.5], 'accuracy': [0.3, 0.6], 'learning_rate': [1.0, 1.0]}, 'h.png')\n"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    environment = {**os.environ, "MPLBACKEND": "TkAgg", "DISPLAY": ""}  # a GUI backend with no display to open
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=HANG_GUARD_S
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert read_png(tmp_path / "h.png").shape == (400, 1200)


def test_figures_are_returned_for_notebooks_and_written_only_when_asked(tmp_path, history, spiral):
    from matplotlib.figure import Figure

    figure = plot.plot_history(history)
    assert isinstance(figure, Figure) and not list(tmp_path.iterdir())
    assert isinstance(plot.plot_history(history, tmp_path / "h.png"), Figure) and (tmp_path / "h.png").is_file()
    boundary = plot.plot_decision_boundary(network(2, 3, Softmax, CategoricalCrossentropy, Categorical()), *spiral)
    assert isinstance(boundary, Figure)


def test_figures_show_as_pictures_in_a_notebook_without_pyplot(history):
    """A fresh IPython shows a Figure made without pyplot as text only; once nnfs_gpu.plot has made
    one, IPython draws figures as PNGs (as %matplotlib inline would), still without pyplot."""
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    shell = InteractiveShell.instance()
    try:
        assert "image/png" not in shell.display_formatter.format(Figure())[0]
        shown, _ = shell.display_formatter.format(plot.plot_history(history))
        assert shown["image/png"].startswith(b"\x89PNG")
        assert "matplotlib.pyplot" not in sys.modules or "pyplot" in str(sys.modules.get("matplotlib.pyplot"))
    finally:
        InteractiveShell.clear_instance()


def test_each_quantity_keeps_its_colour_in_every_panel(history):
    regularized = {**history, "regularization_loss": [0.1] * len(history["loss"])}  # draws data_loss too
    figure = plot.plot_history(regularized)
    colours = {line.get_label().split()[0]: line.get_color() for axes in figure.axes for line in axes.get_lines()}
    assert {"loss", "data_loss", "val_loss", "accuracy", "val_accuracy"} <= set(colours)
    assert colours["loss"] == colours["accuracy"] != colours["val_loss"] == colours["val_accuracy"]


def test_losses_spanning_decades_are_on_a_log_scale_and_the_learning_rate_starts_at_zero():
    falling = {"loss": [10.0 / 2**k for k in range(12)], "accuracy": [0.5] * 12, "learning_rate": [0.05 - 1e-6 * k for k in range(12)]}
    loss_axes, _, rate_axes = plot.plot_history(falling).axes
    assert loss_axes.get_yscale() == "log"
    assert rate_axes.get_ylim()[0] == 0  # a 0.02 % decay is drawn as the near-flat line it is
    flat = {**falling, "loss": [1.0 - 0.01 * k for k in range(12)]}
    assert plot.plot_history(flat).axes[0].get_yscale() == "linear"


def test_the_decision_boundary_names_its_classes(spiral):
    model = network(2, 3, Softmax, CategoricalCrossentropy, Categorical())
    axes = plot.plot_decision_boundary(model, *spiral, class_names=["red", "green", "blue"]).axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["red", "green", "blue"]
    with pytest.raises(ValueError, match="3 classes apart, got 2 names"):
        plot.plot_decision_boundary(model, *spiral, class_names=["a", "b"])


def test_a_regression_fit_plot(tmp_path):
    from nnfs_gpu.datasets import sine_data

    X, y = sine_data(200)
    model = network(1, 1, Linear, MeanSquaredError, Regression())
    figure = plot.plot_regression(model, X, y, tmp_path / "fit.png")
    data, prediction = figure.axes[0].collections[0], figure.axes[0].get_lines()[0]
    assert len(data.get_offsets()) == 200 and len(prediction.get_xdata()) == 200
    assert read_png(tmp_path / "fit.png").shape == (600, 600)
    with pytest.raises(ValueError, match="1 input and 1 output"):
        plot.plot_regression(network(2, 3, Softmax, CategoricalCrossentropy, Categorical()), X, y)


def test_a_fit_from_predictions_made_anywhere_is_drawn_in_the_inputs_order():
    X = np.array([0.5, 0.1, 0.9, 0.3])
    figure = plot.plot_fit(X, np.sin(X), np.cos(X))
    line = figure.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), np.sort(X))
    np.testing.assert_array_equal(line.get_ydata(), np.cos(np.sort(X)))
    with pytest.raises(ValueError, match="one value per sample"):
        plot.plot_fit(X, np.sin(X), np.cos(X[:3]))


def test_show_writes_a_png_where_there_is_no_display_and_opens_a_window_where_there_is(tmp_path, monkeypatch):
    from matplotlib import pyplot

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    figure = plot.plot_fit([0.0, 1.0], [0.0, 1.0], [0.1, 0.9])
    assert plot.show(figure, tmp_path / "fit.png") == tmp_path / "fit.png"
    assert read_png(tmp_path / "fit.png").shape == (600, 600) and pyplot.get_fignums() == []
    shown = []
    monkeypatch.setattr(plot, "has_display", lambda: True)
    monkeypatch.setattr(pyplot, "show", lambda: shown.append(pyplot.gcf().canvas.figure))
    try:
        assert plot.show(figure, tmp_path / "window.png") is None
        assert shown == [figure] and not (tmp_path / "window.png").exists()
    finally:
        pyplot.close("all")


@pytest.mark.parametrize("backend, display, expected", [("TkAgg", None, False), ("TkAgg", ":0", True), ("agg", ":0", False),
                                                      ("module://matplotlib_inline.backend_inline", None, True)],
                         ids=["a GUI backend without a display", "with one", "Agg", "a notebook's"])
def test_a_window_needs_a_gui_backend_and_a_display(monkeypatch, backend, display, expected):
    import matplotlib

    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        monkeypatch.setenv("DISPLAY", display)
    assert plot.has_display() is expected
