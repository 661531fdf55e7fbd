"""The book's numbers: chapter 9's printout, its datasets, its weight initialisation, its SGD step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu.book import (
    Activation_ReLU,
    Activation_Softmax_Loss_CategoricalCrossentropy,
    Layer_Dense,
    Optimizer_SGD,
)
from nnfs_gpu.book import np as book_np
from nnfs_gpu.datasets import spiral_data, vertical_data
from support import BOOK_DEFAULT_PRECISION_TOLERANCE, BOOK_PRECISION_ULPS, REROUNDING_BACKENDS, assert_sum_within_bound, assert_within_ulps, gemm_bound, host

ROOT = Path(__file__).resolve().parents[1]
CH9 = json.loads((ROOT / "tests" / "data" / "ch9_single_pass.json").read_text())["ch9_single_pass_book"]["expected"]


def chapter9_pass() -> dict[str, np.ndarray]:
    """Chapter 9's one forward and backward pass, as Ch9_Final.py runs it after nnfs.init()."""
    np.random.seed(0)
    X, y = spiral_data(samples=100, classes=3)
    dense1, activation1 = Layer_Dense(2, 3), Activation_ReLU()
    dense2 = Layer_Dense(3, 3)
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    loss = loss_activation.forward(dense2.output, y)
    accuracy = book_np.mean(book_np.argmax(loss_activation.output, axis=1) == y)
    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)
    return {
        "softmax_output_first5": host(loss_activation.output)[:5],
        "loss": np.float32(loss),
        "acc": accuracy,
        "dense1.dweights": host(dense1.dweights),
        "dense1.dbiases": host(dense1.dbiases),
        "dense1.dvalues": host(activation1.dinputs),
        "dense2.dweights": host(dense2.dweights),
        "dense2.dbiases": host(dense2.dbiases),
        "dense2.dvalues": host(loss_activation.dinputs),
        # not printed by the book: the terms of the sums above, for their error bounds
        "dense1.inputs": host(dense1.inputs),
        "dense2.inputs": host(dense2.inputs),
        "sample_losses": host(loss_activation.loss.forward(loss_activation.output, y)),
    }


def assert_sum_of_terms(result: dict[str, np.ndarray], key: str, expected: np.ndarray) -> None:
    """A sum the book computes in one order and a backend may compute in another (a bias gradient:
    over the batch; a weight gradient: a GEMM over the batch; the loss: a mean over the batch)."""
    layer, name = key.split(".") if "." in key else ("", key)
    if name == "dbiases":
        assert_sum_within_bound(result[key], expected, result[f"{layer}.dvalues"], axis=0)
    elif name == "dweights":
        inputs, dvalues = result[f"{layer}.inputs"], result[f"{layer}.dvalues"]
        assert_sum_within_bound(result[key], expected, None, bound=gemm_bound(inputs.T, dvalues))
    else:
        losses = result["sample_losses"]
        assert_sum_within_bound(result[key] * len(losses), np.float64(expected) * len(losses), losses)


def test_chapter9_printout_in_book_precision_is_exact(backend_name):
    """On NumPy and strict every float32 value equals the book's to the last bit: every digit it
    prints, and more. On a GPU and on torch (MKL's GEMMs and sums), float64 results rounded to float32 agree within BOOK_PRECISION_ULPS, and the
    sums over the batch (bias gradients, the mean loss) are CUB's or MKL's, in another order than NumPy's."""
    with nnfs_gpu.use_backend(backend_name, precision="book"):
        result = chapter9_pass()
    for key, expected in CH9.items():
        actual = np.asarray(result[key])
        assert actual.dtype in (np.float32, np.float64), key
        expected = np.asarray(expected, dtype=np.float32)
        if backend_name not in REROUNDING_BACKENDS or key == "acc":  # the accuracy is a count: exact everywhere
            np.testing.assert_array_equal(actual.astype(np.float32), expected, err_msg=key)
        elif key.endswith("dbiases") or key == "loss":
            assert_sum_of_terms(result, key, expected)
        else:
            assert_within_ulps(actual.astype(np.float32), expected, BOOK_PRECISION_ULPS, key)


def test_chapter9_printout_in_default_precision(backend):
    """Within rtol=1e-5, except the sums over the batch: a bias or weight gradient is a sum of 300
    float32 terms that nearly cancel (about 1e-5 from terms of about 1e-3), and the loss a mean of
    300, so any summation order other than the book's (another BLAS, cuBLAS, CUB) moves them by up
    to the float32 bound for such sums (``support.summation_bound``)."""
    result = chapter9_pass()
    for key, expected in CH9.items():
        if key.endswith(("dbiases", "dweights")) or key == "loss":
            assert_sum_of_terms(result, key, np.asarray(expected))
        else:
            np.testing.assert_allclose(result[key], expected, **BOOK_DEFAULT_PRECISION_TOLERANCE, err_msg=key)


def test_first_weights_after_spiral_data_match_the_book(backend):
    np.random.seed(0)
    spiral_data(100, 3)
    layer = Layer_Dense(2, 3)
    np.testing.assert_allclose(
        host(layer.weights),
        [[-0.0130653, 0.0165813, -0.0011816], [-0.0068018, 0.0066638, -0.0046072]],
        atol=5e-8,
    )
    assert host(layer.weights).dtype == np.float32
    np.testing.assert_array_equal(host(layer.biases), np.zeros((1, 3), dtype=np.float32))


def test_same_seed_gives_the_same_start_on_every_backend(backend):
    np.random.seed(7)
    on_backend = host(Layer_Dense(5, 4).weights)
    np.random.seed(7)
    with nnfs_gpu.use_backend("numpy"):
        on_numpy = host(Layer_Dense(5, 4).weights)
    np.testing.assert_array_equal(on_backend, on_numpy)


NNFS_DATA_SCRIPT = """
import sys, numpy as np, nnfs
from nnfs.datasets import spiral_data, vertical_data
if sys.argv[1] == 'init':
    nnfs.init(random_seed=int(sys.argv[2]))
else:
    np.random.seed(int(sys.argv[2]))
np.savez(sys.argv[3], *spiral_data(60, 4), *vertical_data(50, 3))
"""


@pytest.mark.parametrize("mode, dtype", [("init", "float32"), ("plain", "float64")])
def test_datasets_equal_the_nnfs_package(tmp_path, mode, dtype):
    """After nnfs.init() nnfs makes float32 data; without it, float64. Ours matches either, bit for bit."""
    reference = tmp_path / "nnfs.npz"
    subprocess.run([sys.executable, "-c", NNFS_DATA_SCRIPT, mode, "3", str(reference)], check=True)
    expected = np.load(reference)
    np.random.seed(3)
    ours = [*spiral_data(60, 4, dtype=dtype), *vertical_data(50, 3, dtype=dtype)]
    for index, array in enumerate(ours):
        wanted = expected[f"arr_{index}"]
        assert array.dtype == wanted.dtype
        np.testing.assert_array_equal(array, wanted)


def test_dataset_arguments_are_checked():
    with pytest.raises(ValueError, match="samples and classes"):
        spiral_data(0, 3)
    with pytest.raises(ValueError, match="dtype"):
        vertical_data(10, 3, dtype="int8")


def test_sgd_step_matches_hand_computation(backend):
    layer = Layer_Dense(2, 2)
    layer.set_parameters(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -0.5]]))
    layer.dweights = backend.asfloat(np.array([[0.1, 0.2], [0.3, 0.4]]))
    layer.dbiases = backend.asfloat(np.array([[1.0, -1.0]]))
    Optimizer_SGD(learning_rate=0.5).update_params(layer)
    np.testing.assert_allclose(host(layer.weights), [[0.95, 1.9], [2.85, 3.8]], rtol=1e-6)
    np.testing.assert_allclose(host(layer.biases), [[0.0, 0.0]], atol=1e-7)


def run_chapter10(backend_name: str, epochs: int) -> list[str]:
    env = {**os.environ, "NNFS_GPU_BACKEND": backend_name}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ch10_sgd.py"), "--epochs", str(epochs)],
        capture_output=True, text=True, env=env, check=True,
    )
    return [line for line in completed.stdout.splitlines() if line.startswith("epoch:")]


def test_book_chapter10_code_runs_unchanged_and_learns(backend_name):
    """The book's loop, imports changed only, learns the spiral and prints the same on every backend."""
    if backend_name == "torch-cuda":
        pytest.skip("NNFS_GPU_BACKEND names a backend, not a device: this program runs on torch as 'torch'")
    lines = run_chapter10(backend_name, 1001)
    assert lines[0] == "epoch: 0, acc: 0.360, loss: 1.099"
    assert len(lines) == 11
    losses = [float(line.rsplit("loss: ", 1)[1]) for line in lines]
    assert losses[-1] < losses[0] - 0.02
    if backend_name == "strict":
        assert lines == run_chapter10("numpy", 1001)


# -- the chapter modules and the book's Model ------------------------------------------------------


def names_of(module: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(f"from {module} import *", namespace)
    namespace.pop("__builtins__")
    return namespace


def test_each_chapter_module_gives_every_name_and_differs_only_in_its_chapters_classes():
    import nnfs_gpu.book as book
    from nnfs_gpu.book import ch17, ch18

    final = names_of("nnfs_gpu.book")
    assert set(final) == set(book.__all__) and final["np"] is book.np
    for module, differs in (("nnfs_gpu.book.ch17", {"Layer_Dense": ch17.Layer_Dense}), ("nnfs_gpu.book.ch18", {"Model": ch18.Model})):
        names = names_of(module)
        assert names == {**final, **differs}, module


def test_chapter17_dense_starts_at_a_tenth_as_chapter17_does(backend):
    from nnfs_gpu.book import ch17

    np.random.seed(3)
    drawn = np.random.randn(4, 5).astype(np.float32)  # nnfs.init() makes randn float32
    np.random.seed(3)
    np.testing.assert_array_equal(host(ch17.Layer_Dense(4, 5).weights), 0.1 * drawn)
    np.random.seed(3)
    np.testing.assert_array_equal(host(Layer_Dense(4, 5).weights), 0.01 * drawn)
    np.random.seed(3)
    np.testing.assert_array_equal(host(ch17.Layer_Dense(4, 5, weight_scale=0.5).weights), 0.5 * drawn)


def book_spiral_model(model: object) -> object:
    from nnfs_gpu.book import Accuracy_Categorical, Activation_Softmax, Loss_CategoricalCrossentropy, Optimizer_Adam

    for layer in (Layer_Dense(2, 16), Activation_ReLU(), Layer_Dense(16, 3), Activation_Softmax()):
        model.add(layer)
    model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_Adam(learning_rate=0.05), accuracy=Accuracy_Categorical())
    model.finalize()
    return model


def test_the_books_model_prints_the_books_lines_even_on_a_terminal(monkeypatch, capsys):
    """nnfs_gpu.Model may report otherwise (a bar on a terminal); the book's Model prints the book's lines."""
    from nnfs_gpu import progress
    from nnfs_gpu.book import Model

    monkeypatch.setattr(progress, "stdout_is_terminal", lambda: True)
    with nnfs_gpu.Model()._make_reporter(True, None, 4) as modern:
        assert isinstance(modern, progress.ProgressBar)
    capsys.readouterr()
    np.random.seed(0)
    X, y = spiral_data(20, 3)
    book_spiral_model(Model()).train(X, y, epochs=2, batch_size=40, validation_data=(X, y))
    lines = capsys.readouterr().out.splitlines()
    expected = [[f"epoch: {epoch}", "step: 0", "step: 1", "training", "validation"] for epoch in (1, 2)]
    assert [line.split(",")[0] for line in lines] == expected[0] + expected[1]


def test_chapter18s_model_prints_a_line_every_print_every_epochs_and_validates_once(capsys):
    from nnfs_gpu.book.ch18 import Model

    np.random.seed(0)
    X, y = spiral_data(20, 3)
    history = book_spiral_model(Model()).train(X, y, epochs=5, print_every=2, validation_data=(X, y))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch: 2", "epoch: 4", "validation"]
    for line, epoch in zip(lines, (2, 4)):  # that epoch's one step: the whole set, before the update
        assert line.startswith(f"epoch: {epoch}, acc: {history['accuracy'][epoch - 1]:.3f}, ")
        assert f"(data_loss: {history['data_loss'][epoch - 1]:.3f}, " in line
        assert line.endswith(f"lr: {history['learning_rate'][epoch - 1]}")
    assert lines[-1] == f"validation, acc: {history['val_accuracy'][0]:.3f}, loss: {history['val_loss'][0]:.3f}"


def test_chapter18s_lines_read_numbers_back_only_in_the_epochs_they_print():
    from nnfs_gpu.book.ch18 import EpochLines

    lines = EpochLines(print_every=3)
    assert [lines.shows_step(epoch, 0, True, 1) for epoch in range(1, 7)] == [False, False, True, False, False, True]
    assert not any(lines.shows_epoch(epoch) for epoch in range(1, 7))  # no line for a whole epoch


def test_load_makes_the_class_it_is_called_on(tmp_path):
    from nnfs_gpu.book import Model

    np.random.seed(0)
    path = tmp_path / "spiral.model"
    book_spiral_model(Model()).save(path)
    assert type(Model.load(path)) is Model and type(nnfs_gpu.Model.load(path)) is nnfs_gpu.Model


def test_a_chapter_17_network_saves_and_loads(tmp_path):
    """Chapter 17's Dense differs only in how it starts: it is saved as a Dense."""
    from nnfs_gpu.book import ch17

    np.random.seed(0)
    model = ch17.Model()
    for layer in (ch17.Layer_Dense(1, 8), ch17.Activation_ReLU(), ch17.Layer_Dense(8, 1), ch17.Activation_Linear()):
        model.add(layer)
    model.set(loss=ch17.Loss_MeanSquaredError(), optimizer=ch17.Optimizer_Adam(), accuracy=ch17.Accuracy_Regression())
    model.finalize()
    model.save(tmp_path / "ch17.model")
    loaded = ch17.Model.load(tmp_path / "ch17.model")
    for (weights, biases), (saved_weights, saved_biases) in zip(loaded.get_parameters(), model.get_parameters()):
        np.testing.assert_array_equal(host(weights), host(saved_weights))


def test_a_finalized_book_model_has_the_books_attributes(backend):
    """The final chapters' Model sets input_layer, trainable_layers, output_layer_activation and
    softmax_classifier_output in finalize; ours keeps them (read from its assembly)."""
    from nnfs_gpu.book import Activation_ReLU, Activation_Softmax, Layer_Dense, Layer_Input, Model

    model = Model()
    for layer in (Layer_Dense(2, 8), Activation_ReLU(), Layer_Dense(8, 3), Activation_Softmax()):
        model.add(layer)
    model.set(loss=nnfs_gpu.book.Loss_CategoricalCrossentropy(), optimizer=nnfs_gpu.book.Optimizer_Adam(),
              accuracy=nnfs_gpu.book.Accuracy_Categorical())
    assert model.input_layer is None and model.output_layer_activation is None
    model.finalize()
    assert isinstance(model.input_layer, Layer_Input) and model.layers[0].prev is model.input_layer
    assert model.trainable_layers == [model.layers[0], model.layers[2]] and model.layers[-1].next is model.loss
    assert model.output_layer_activation is model.layers[-1] and model.softmax_classifier_output is not None
    assert (model.n_inputs, model.n_outputs) == (2, 3)
