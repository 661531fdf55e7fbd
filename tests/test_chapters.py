"""The book's chapter scripts (examples/, each on its chapter's module) print what the book prints.

Each chapter runs in a subprocess on NumPy in the book's precision and must print exactly the lines
below. Chapter 9's are the book's printout, and chapter 16's the book's printed lines for epochs 0 to
600. The others are what the book's own chapter code (the classes of Sentdex/nnfs_book's
ChNN_Final.py, with float32 ``exp``/``log`` rounded from float64) prints for the same script and
the same short run: the first few hundred epochs, which are not yet chaotic. The default precision
prints the same first line of every chapter, before any update. test_examples.py checks the line
formats of longer runs, and chapters 19 to 22 (which need Fashion-MNIST) on a tiny synthetic copy.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import HANG_GUARD_S

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: runs an example on a backend and precision chosen before the script makes anything
RUNNER = """
import runpy, sys
import nnfs_gpu
backend, precision, script = sys.argv[1:4]
nnfs_gpu.set_backend(backend, precision=precision)
sys.argv = [script, *sys.argv[4:]]
runpy.run_path(script, run_name="__main__")
"""

CHAPTER9 = """\
[[0.33333334 0.33333334 0.33333334]
 [0.33333316 0.3333332  0.33333364]
 [0.33333287 0.3333329  0.33333418]
 [0.3333326  0.33333263 0.33333477]
 [0.33333233 0.3333324  0.33333528]]
loss: 1.0986104
acc: 0.34
[[ 1.5766358e-04  7.8368575e-05  4.7324404e-05]
 [ 1.8161036e-04  1.1045571e-05 -3.3096316e-05]]
[[-3.6055347e-04  9.6611722e-05 -1.0367142e-04]]
[[ 5.4410957e-05  1.0741142e-04 -1.6182236e-04]
 [-4.0791339e-05 -7.1678100e-05  1.1246944e-04]
 [-5.3011299e-05  8.5817286e-05 -3.2805994e-05]]
[[-1.0732794e-05 -9.4590941e-06  2.0027626e-05]]"""

ADAM_SPIRAL = """\
epoch: 0, acc: 0.360, loss: 1.099, lr: 0.05
epoch: 100, acc: 0.713, loss: 0.684, lr: 0.04999752512250644
epoch: 200, acc: 0.807, loss: 0.510, lr: 0.04999502549496326
validation, acc: 0.740, loss: 0.642"""

#: script, its arguments, and the lines it prints after the backend line
CHAPTERS = {
    9: ("ch09_backpropagation.py", (), CHAPTER9),
    10: ("ch10_sgd.py", ("--epochs", 201), """\
epoch: 0, acc: 0.360, loss: 1.099
epoch: 100, acc: 0.400, loss: 1.087
epoch: 200, acc: 0.417, loss: 1.077"""),
    11: ("ch11_out_of_sample.py", ("--epochs", 201), ADAM_SPIRAL),
    12: ("ch12_validation_data.py", ("--epochs", 201), ADAM_SPIRAL),
    13: ("ch13_training_dataset.py", ("--epochs", 101), """\
epoch: 0, acc: 0.323, loss: 1.099, lr: 0.05
epoch: 100, acc: 0.644, loss: 0.842, lr: 0.04999752512250644
validation, acc: 0.603, loss: 0.865"""),
    14: ("ch14_regularization.py", ("--epochs", 101), """\
epoch: 0, acc: 0.381, loss: 1.099 (data_loss: 1.099, reg_loss: 0.000), lr: 0.02
epoch: 100, acc: 0.758, loss: 0.734 (data_loss: 0.679, reg_loss: 0.054), lr: 0.019999010049002574
validation, acc: 0.747, loss: 0.710"""),
    15: ("ch15_dropout.py", ("--epochs", 101), """\
epoch: 0, acc: 0.373, loss: 1.099 (data_loss: 1.099, reg_loss: 0.000), lr: 0.05
epoch: 100, acc: 0.718, loss: 0.736 (data_loss: 0.673, reg_loss: 0.063), lr: 0.04975371909050202
validation, acc: 0.730, loss: 0.656"""),
    16: ("ch16_binary_logistic_regression.py", ("--epochs", 601), """\
epoch: 0, acc: 0.500, loss: 0.693 (data_loss: 0.693, reg_loss: 0.000), lr: 0.001
epoch: 100, acc: 0.630, loss: 0.674 (data_loss: 0.673, reg_loss: 0.001), lr: 0.0009999505024501287
epoch: 200, acc: 0.625, loss: 0.669 (data_loss: 0.668, reg_loss: 0.001), lr: 0.0009999005098992651
epoch: 300, acc: 0.650, loss: 0.664 (data_loss: 0.663, reg_loss: 0.002), lr: 0.000999850522346909
epoch: 400, acc: 0.650, loss: 0.659 (data_loss: 0.657, reg_loss: 0.002), lr: 0.0009998005397923115
epoch: 500, acc: 0.675, loss: 0.647 (data_loss: 0.644, reg_loss: 0.004), lr: 0.0009997505622347225
epoch: 600, acc: 0.720, loss: 0.632 (data_loss: 0.625, reg_loss: 0.006), lr: 0.0009997005896733929
validation, acc: 0.660, loss: 0.652"""),
    17: ("ch17_regression.py", ("--epochs", 201), """\
epoch: 0, acc: 0.003, loss: 0.496 (data_loss: 0.496, reg_loss: 0.000), lr: 0.005
epoch: 100, acc: 0.017, loss: 0.048 (data_loss: 0.048, reg_loss: 0.000), lr: 0.004549590536851684
epoch: 200, acc: 0.242, loss: 0.001 (data_loss: 0.001, reg_loss: 0.000), lr: 0.004170141784820684
validation, acc: 0.342, loss: 0.001"""),
    18: ("ch18_model_object.py", ("--epochs", 100), """\
epoch: 100, acc: 0.715, loss: 0.725 (data_loss: 0.665, reg_loss: 0.060), lr: 0.04975371909050202
validation, acc: 0.730, loss: 0.638"""),
}


#: runs examples one after another in one process (a process start costs about a second), each on a
#: backend and precision chosen before it makes anything, after a line that names it
SEQUENCE_RUNNER = """
import json, runpy, sys
import nnfs_gpu
backend, precision, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for script, *arguments in runs:
    print(f"== {script}", flush=True)
    nnfs_gpu.set_backend(backend, precision=precision)
    sys.argv = [script, *arguments]
    runpy.run_path(script, run_name="__main__")
"""


@functools.lru_cache(maxsize=None)
def run_chapter(script: str, arguments: tuple[object, ...], precision: str, backend: str = "numpy") -> list[str]:
    """The lines an example prints after its backend line (cached: two tests read some runs)."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, backend, precision, str(EXAMPLES / script), *map(str, arguments)],
        capture_output=True, text=True, env=environment, cwd=EXAMPLES.parent, timeout=HANG_GUARD_S,
    )
    assert result.returncode == 0 and not result.stderr, f"{script} exited {result.returncode}:\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("backend: "), lines[:2]
    return lines[1:]


@functools.lru_cache(maxsize=None)
def first_lines_in_default_precision() -> dict[str, str]:
    """Each chapter's first line after its backend line, one epoch in the default precision, all
    chapters run in one process (each script seeds NumPy's RNG itself, with ``nnfs.init()``)."""
    runs = [[str(EXAMPLES / script), "--epochs", "1"] for script, _, _ in CHAPTERS.values() if script != "ch09_backpropagation.py"]
    environment = {**os.environ, "NNFS_GPU_CPU_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-c", SEQUENCE_RUNNER, "numpy", "default", json.dumps(runs)],
                            capture_output=True, text=True, env=environment, cwd=EXAMPLES.parent, timeout=HANG_GUARD_S)
    assert result.returncode == 0 and not result.stderr, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("== ")]
    assert len(starts) == len(runs) and all(lines[start + 1].startswith("backend: ") for start in starts), lines
    return {Path(lines[start][3:]).name: lines[start + 2] for start in starts}


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_prints_the_books_lines_in_book_precision(chapter: int) -> None:
    script, arguments, expected = CHAPTERS[chapter]
    assert run_chapter(script, arguments, "book") == expected.splitlines()


def test_the_dropout_chapter_prints_the_books_lines_on_the_strict_stand_in_too() -> None:
    """Float64 masks meet float32 arrays there: the array API's way (no mixed in-place add) gives the same bits."""
    script, arguments, expected = CHAPTERS[15]
    assert run_chapter(script, arguments, "book", "strict") == expected.splitlines()


@pytest.mark.parametrize("chapter", [chapter for chapter in sorted(CHAPTERS) if chapter not in (9, 18)])
def test_the_first_line_is_the_books_in_default_precision_too(chapter: int) -> None:
    """Before any update the default precision prints the book's digits; later lines may differ in the last one."""
    script, _, expected = CHAPTERS[chapter]
    assert first_lines_in_default_precision()[script] == expected.splitlines()[0]


def test_chapter9_prints_the_books_loss_and_accuracy_in_default_precision() -> None:
    """The loss is a NumPy float32, so it prints as the book's; the softmax rows and the bias
    gradients differ in their last digits (float32 ``exp`` and BLAS's order of additions)."""
    lines = run_chapter("ch09_backpropagation.py", (), "default")
    assert lines[5:7] == ["loss: 1.0986104", "acc: 0.34"]
    assert len(lines) == len(CHAPTER9.splitlines())

