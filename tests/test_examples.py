"""The chapter examples (examples/ch10_*.py … ch22_*.py) run as programs, short, on the NumPy backend.

Each example runs in a subprocess with a small --epochs (two printed lines, or one for chapter 18's
Model, which prints from epoch 100), so the whole file takes about half a minute on two cores. The checks are the book's printout formats, a falling loss, clean exits, and, for
chapters 19–22, a complete train → save → load → predict round trip on a tiny synthetic
Fashion-MNIST folder written here in the book's PNG layout. One example also runs on the strict
array-API stand-in, unchanged, and must print what the NumPy run prints.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from nnfs_gpu.datasets import FASHION_MNIST_LABELS, FASHION_MNIST_URL, read_png
from support import HANG_GUARD_S

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

NUMBER = r"(-?\d+\.\d{3})"
#: the book's progress line of the hand-written loops (chapters 10–17) and of chapter 18's Model
EPOCH_LINE = re.compile(rf"^epoch: (\d+), acc: {NUMBER}, loss: {NUMBER}(?: \(data_loss: {NUMBER}, reg_loss: {NUMBER}\))?(?:, lr: \S+)?$")
VALIDATION_LINE = re.compile(rf"^validation, acc: {NUMBER}, loss: {NUMBER}$")
#: the final Model's lines (chapter 19 on)
STEP_LINE = re.compile(rf"^step: (\d+), acc: {NUMBER}, loss: {NUMBER} \(data_loss: {NUMBER}, reg_loss: {NUMBER}\), lr: \S+$")
TRAINING_LINE = re.compile(rf"^training, acc: {NUMBER}, loss: {NUMBER} \(data_loss: {NUMBER}, reg_loss: {NUMBER}\), lr: \S+$")


@functools.lru_cache(maxsize=None)
def _run(
    script: str, arguments: tuple[str, ...], backend: str, cwd: str, extra_environment: tuple[tuple[str, str | None], ...] = ()
) -> subprocess.CompletedProcess:
    """One run of an example (cached: a few tests read the same run); an extra variable set to None is unset.

    One BLAS thread: on a busy two-core machine OpenBLAS's spinning threads make the small products
    of these runs several times slower."""
    environment = {**os.environ, "NNFS_GPU_BACKEND": backend, "PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1",
                   **dict(extra_environment)}
    environment = {name: value for name, value in environment.items() if value is not None}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=HANG_GUARD_S,
    )


def run_example(
    script: str, *arguments: object, backend: str = "numpy", cwd: Path | None = None, environment: dict[str, str | None] | None = None
) -> list[str]:
    """Runs an example; asserts it exits 0 with nothing on stderr; returns its stdout lines."""
    extra = tuple(sorted((environment or {}).items()))
    result = _run(script, tuple(str(argument) for argument in arguments), backend, str(cwd or EXAMPLES.parent), extra)
    assert result.returncode == 0, f"{script} exited {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == "", f"{script} wrote to stderr:\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert lines and lines[0].startswith("backend: "), lines[:3]
    return lines


def matches(pattern: re.Pattern, lines: list[str]) -> list[re.Match]:
    return [match for match in map(pattern.match, lines) if match]


def accuracy_and_loss(match: re.Match) -> tuple[float, float]:
    """The acc and loss of a matched line (training and validation lines have no epoch/step number)."""
    first = 1 if match.re in (TRAINING_LINE, VALIDATION_LINE) else 2
    return float(match.group(first)), float(match.group(first + 1))


def check_accuracy_and_loss(match: re.Match) -> None:
    accuracy, loss = accuracy_and_loss(match)
    assert 0.0 <= accuracy <= 1.0 and loss >= 0.0, match.group(0)


# --- chapters 10–18: the toy datasets ------------------------------------------------------------

#: script, --epochs, whether it prints data_loss/reg_loss, whether it ends with a validation pass
TOY_EXAMPLES = [
    ("ch10_sgd.py", 301, False, False),
    ("ch11_out_of_sample.py", 301, False, True),
    ("ch12_validation_data.py", 301, False, True),
    ("ch13_training_dataset.py", 101, False, True),
    ("ch14_regularization.py", 101, True, True),
    ("ch15_dropout.py", 101, True, True),
    ("ch16_binary_logistic_regression.py", 301, True, True),
    ("ch17_regression.py", 301, True, True),
    ("ch18_model_object.py", 101, True, True),
]
#: the loss of an untrained network (equally likely classes), for a run that prints one line
UNTRAINED_LOSS = {"ch18_model_object.py": math.log(3)}


@pytest.mark.parametrize("script, epochs, with_regularization, with_validation", TOY_EXAMPLES, ids=[case[0] for case in TOY_EXAMPLES])
def test_toy_example_prints_the_books_lines_and_its_loss_falls(script: str, epochs: int, with_regularization: bool, with_validation: bool) -> None:
    lines = run_example(script, "--epochs", epochs)
    assert "NumPy" in lines[0]
    progress = matches(EPOCH_LINE, lines)
    # the hand-written loops count epochs from 0; chapter 18's Model counts from 1
    printed = range(100, epochs + 1, 100) if script.startswith("ch18") else range(0, epochs, 100)
    assert [int(match.group(1)) for match in progress] == list(printed)
    for match in progress:
        check_accuracy_and_loss(match)
        assert (match.group(4) is not None) == with_regularization, match.group(0)
        if with_regularization:
            data_loss, regularization = float(match.group(4)), float(match.group(5))
            assert abs(data_loss + regularization - float(match.group(3))) <= 0.0015, match.group(0)
    losses = [float(match.group(3)) for match in progress]
    before = losses[0] if len(losses) > 1 else UNTRAINED_LOSS[script]
    assert losses[-1] < before, f"the loss did not fall: {losses} (from {before})"
    validation = matches(VALIDATION_LINE, lines)
    assert len(validation) == (1 if with_validation else 0)
    if with_validation:
        check_accuracy_and_loss(validation[0])
        assert lines[-1] == validation[0].group(0), "the validation line comes last"
    assert len(progress) + len(validation) == len(lines) - 1, "unexpected lines:\n" + "\n".join(lines)


def test_first_lines_match_the_books_printout() -> None:
    """The first progress lines (before any update) are the book's: chapter 10's Adam run and chapter 16."""
    assert run_example("ch11_out_of_sample.py", "--epochs", 301)[1] == "epoch: 0, acc: 0.360, loss: 1.099, lr: 0.05"
    assert run_example("ch16_binary_logistic_regression.py", "--epochs", 301)[1].startswith(
        "epoch: 0, acc: 0.500, loss: 0.693 (data_loss: 0.693, reg_loss: 0.000), lr: 0.001"
    )


def test_regression_accuracy_rises_with_training() -> None:
    """The trained network's pass over the test data (its last line) scores far above the untrained
    one. Not the last training line: after 300 epochs the regression accuracy of a single epoch
    still jumps between 0.1 and 0.8 with the BLAS kernel's rounding (OpenBLAS picks it by CPU)."""
    lines = run_example("ch17_regression.py", "--epochs", 301)
    first_accuracy = float(matches(EPOCH_LINE, lines)[0].group(2))
    tested_accuracy, _ = accuracy_and_loss(matches(VALIDATION_LINE, lines)[-1])
    assert tested_accuracy > first_accuracy + 0.3, lines


def test_dropout_example_runs_unchanged_on_the_strict_array_api_backend() -> None:
    """ch15 (dropout, L2, Adam, the book's host-side np lines) runs on array_api_strict as it is and
    prints exactly what the NumPy run prints: the NumPy backend's fast paths compute the same
    floating-point operations as the generic array-API code, and dropout masks come from the host RNG
    on both."""
    strict = run_example("ch15_dropout.py", "--epochs", 101, backend="strict")
    numpy_lines = run_example("ch15_dropout.py", "--epochs", 101)  # the run of the toy example test (cached)
    assert strict[0].startswith("backend: array_api_strict")
    strict_progress = matches(EPOCH_LINE, strict)
    assert [match.group(1) for match in strict_progress] == ["0", "100"]
    losses = [accuracy_and_loss(match)[1] for match in strict_progress]
    assert losses[-1] < losses[0] - 0.1, losses
    assert len(matches(VALIDATION_LINE, strict)) == 1
    assert strict[1:] == numpy_lines[1:]


def test_examples_reject_a_bad_option_with_usage() -> None:
    result = _run("ch14_regularization.py", ("--epochs", "many"), "numpy", str(EXAMPLES.parent))
    assert "--epochs" in result.stderr
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


# --- chapters 19–22: Fashion-MNIST -----------------------------------------------------------------

FASHION_EXAMPLES = ["ch19_fashion_mnist.py", "ch20_model_evaluation.py", "ch21_saving_loading.py"]


def png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit gray (H, W) or RGB (H, W, 3) PNG, every scanline unfiltered."""
    pixels = np.asarray(pixels, np.uint8)
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels.reshape(height, -1))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def garment(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 Fashion-MNIST-like image (light object on black) whose bright band marks its class."""
    image = rng.integers(0, 40, size=(28, 28))
    image[2 * label + 4 : 2 * label + 8, 4:24] = rng.integers(180, 256, size=(4, 20))
    return image.astype(np.uint8)


@pytest.fixture(scope="module")
def fashion_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Fashion-MNIST in the book's layout: train/0..9/NNNN.png (30 each), test/0..9/NNNN.png (4 each)."""
    root = tmp_path_factory.mktemp("fashion") / "fashion_mnist_images"
    rng = np.random.default_rng(19)
    for split, count in (("train", 30), ("test", 4)):
        for label in range(10):
            folder = root / split / str(label)
            folder.mkdir(parents=True)
            for number in range(count):
                (folder / f"{number:04d}.png").write_bytes(png_bytes(garment(label, rng)))
    return root


@pytest.fixture(scope="module")
def saved_model(fashion_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """ch21 run on the tiny data: the model file it saves, and its output."""
    model = tmp_path_factory.mktemp("model") / "fashion_mnist.model"
    lines = run_example("ch21_saving_loading.py", "--epochs", 3, "--data", fashion_data, "--model", model)
    return model, lines


def assert_how_to_get_the_data(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert FASHION_MNIST_URL in text and "download_fashion_mnist" in text, text
    assert not matches(EPOCH_LINE, lines) and not matches(STEP_LINE, lines)


@pytest.mark.parametrize("script", [*FASHION_EXAMPLES, "ch22_prediction.py"])
def test_fashion_example_without_data_says_how_to_get_it_and_exits_cleanly(script: str, tmp_path: Path) -> None:
    lines = run_example(script, "--data", tmp_path / "fashion_mnist_images", cwd=tmp_path)
    assert_how_to_get_the_data(lines)
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "nothing is written without data"


def test_fashion_example_download_offline_explains_instead_of_failing(tmp_path: Path) -> None:
    """--download with nnfs.io out of reach (a proxy on a closed local port) ends in a clean message too."""
    unreachable = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    unreachable.update(no_proxy="", NO_PROXY="")
    lines = run_example("ch19_fashion_mnist.py", "--download", "--data", tmp_path / "fashion_mnist_images", cwd=tmp_path, environment=unreachable)
    assert FASHION_MNIST_URL in "\n".join(lines) and "cannot download" in "\n".join(lines)
    assert not (tmp_path / "fashion_mnist_images" / "train").exists()


def fashion_training_checks(lines: list[str], epochs: int) -> tuple[list[re.Match], list[re.Match]]:
    """The final Model's printout for ``epochs`` epochs of 300 samples in batches of 128 (3 steps)."""
    assert [line for line in lines if line.startswith("epoch: ")] == [f"epoch: {epoch}" for epoch in range(1, epochs + 1)]
    steps = matches(STEP_LINE, lines)
    assert [int(match.group(1)) for match in steps] == [0, 2] * epochs  # print_every=100 and the last step
    # what the book prints before any update, on any data: ten equally likely classes, loss ln(10)
    assert steps[0].group(0).endswith(", loss: 2.303 (data_loss: 2.303, reg_loss: 0.000), lr: 0.001"), steps[0].group(0)
    training = matches(TRAINING_LINE, lines)
    validation = matches(VALIDATION_LINE, lines)
    assert len(training) == epochs and len(validation) >= epochs
    for match in [*steps, *training, *validation]:
        check_accuracy_and_loss(match)
    losses = [accuracy_and_loss(match)[1] for match in training]
    assert losses[-1] < losses[0], f"the training loss did not fall: {losses}"
    return training, validation


def test_ch19_trains_on_the_books_png_folders(fashion_data: Path) -> None:
    lines = run_example("ch19_fashion_mnist.py", "--epochs", 3, "--data", fashion_data)
    _, validation = fashion_training_checks(lines, epochs=3)
    assert len(validation) == 3
    assert lines[-1] == validation[-1].group(0)


def test_ch20_evaluates_on_test_and_training_data(fashion_data: Path) -> None:
    lines = run_example("ch20_model_evaluation.py", "--epochs", 3, "--data", fashion_data)
    _, validation = fashion_training_checks(lines, epochs=3)
    assert len(validation) == 3 + 2
    assert lines[-2:] == [validation[-2].group(0), validation[-1].group(0)]
    assert validation[-2].group(0) == validation[-3].group(0), "evaluate(X_test) repeats the last epoch's validation"


def test_ch21_saves_and_loads_parameters_and_the_model(saved_model: tuple[Path, list[str]]) -> None:
    model, lines = saved_model
    _, validation = fashion_training_checks(lines, epochs=3)
    assert model.is_file() and model.with_suffix(".parms").is_file()
    assert f"saved the model to {model}" in lines
    # the trained model's last validation, then the copies: set_parameters, load_parameters, Model.load
    assert len(validation) == 3 + 3
    assert len({match.group(0) for match in validation[-4:]}) == 1, "every copy evaluates as the trained model"


def test_ch22_labels_test_images_and_a_picture(saved_model: tuple[Path, list[str]], fashion_data: Path, tmp_path: Path) -> None:
    model, _ = saved_model
    # a light 60x45 RGB photo with a dark band, as the book's pants.png is dark on light
    photo = np.full((60, 45, 3), 250, np.uint8)
    photo[20:30, 5:40] = (20, 30, 10)
    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes(photo))
    lines = run_example("ch22_prediction.py", "--data", fashion_data, "--model", model, "--image", image, "--samples", 4)
    names = set(FASHION_MNIST_LABELS.values())
    labelled = [re.fullmatch(r"(.+) \(true: (.+)\)", line) for line in lines[1:5]]
    assert all(labelled), lines
    assert all(match.group(1) in names and match.group(2) == FASHION_MNIST_LABELS[0] for match in labelled), lines
    assert lines[5].startswith(f"{image}: ") and lines[5].removeprefix(f"{image}: ") in names, lines
    assert len(lines) == 6


def test_ch22_labels_a_picture_without_the_dataset(saved_model: tuple[Path, list[str]], tmp_path: Path) -> None:
    model, _ = saved_model
    image = tmp_path / "gray.png"
    image.write_bytes(png_bytes(np.full((28, 28), 255, np.uint8)))
    lines = run_example("ch22_prediction.py", "--data", tmp_path / "absent", "--model", model, "--image", image)
    assert len(lines) == 2 and lines[1].removeprefix(f"{image}: ") in set(FASHION_MNIST_LABELS.values()), lines


def test_ch22_without_a_saved_model_says_how_to_make_one(fashion_data: Path, tmp_path: Path) -> None:
    lines = run_example("ch22_prediction.py", "--data", fashion_data, "--model", tmp_path / "none.model")
    assert "ch21_saving_loading.py" in "\n".join(lines)
    assert len(lines) == 3


def test_ch17_plot_without_a_display_writes_a_png_and_says_where(tmp_path: Path) -> None:
    headless = {"DISPLAY": None, "WAYLAND_DISPLAY": None}
    lines = run_example("ch17_regression.py", "--epochs", 101, "--plot", cwd=tmp_path, environment=headless)
    assert lines[-1] == "no display: plotted the test data and the predictions to ch17_regression.png"
    assert read_png(tmp_path / "ch17_regression.png").shape == (600, 600)
