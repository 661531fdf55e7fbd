"""The README's tour runs as written: its python blocks, in order, as the cells of one notebook.

Each cell runs as IPython runs it: the statements, then the last line's value shown (its repr), so
what the tour says a cell shows is what it shows. The tour runs in a subprocess, in an empty folder
(it writes a model file), on the NumPy backend with matplotlib's Agg canvas and no network.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import HANG_GUARD_S

README = Path(__file__).resolve().parent.parent / "README.md"
TOUR_HEADING = "## A tour, as in a notebook"
#: runs each cell given on the command line as IPython would: statements, then the last value's repr
NOTEBOOK = """
import ast, sys
namespace = {"__name__": "__main__"}
for number, cell in enumerate(sys.argv[1:], start=1):
    tree = ast.parse(cell)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, f"<cell {number}>", "exec"), namespace)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), f"<cell {number}>", "eval"), namespace)
        print(f"[{number}]: {value!r}")
"""


def tour_cells(text: str) -> list[str]:
    """The python blocks between the tour's heading and the next section."""
    start = text.index(TOUR_HEADING)
    end = text.find("\n## ", start + len(TOUR_HEADING))
    return re.findall(r"```python\n(.*?)```", text[start:end if end != -1 else None], flags=re.DOTALL)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    cells = tour_cells(README.read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("tour")
    environment = {**os.environ, "NNFS_GPU_BACKEND": "numpy", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", NOTEBOOK, *cells], capture_output=True, text=True, cwd=folder,
                            env=environment, timeout=HANG_GUARD_S)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return cells, result.stdout


def test_the_tour_has_the_cells_it_promises():
    cells = tour_cells(README.read_text(encoding="utf-8"))
    code = "\n".join(cells)
    for promise in ("validation_split=", "EarlyStopping(", "plot_history(", "summary()", "save(", "Model.load(",
                    "state_dict()", "predict_proba(", "predict_classes(", "make_pipeline(", "NNFSClassifier("):
        assert promise in code, promise
    for cell in cells:
        ast.parse(cell)


def test_every_cell_of_the_tour_runs_and_shows_what_it_says(tour):
    cells, out = tour
    shown = dict(re.findall(r"^\[(\d+)\]: (.*)$", out, flags=re.MULTILINE))
    assert shown["1"].startswith("Model: 4 layers, 771 parameters; NumPy")  # the summary, as a table
    epochs, best_accuracy = (float(number) for number in shown["2"].strip("()").split(","))
    assert 30 < epochs < 1000 and best_accuracy > 0.6  # stopped early, after learning (chance is 1/3)
    assert len(re.findall(r"^epoch \d+/1000: ", out, flags=re.MULTILINE)) == epochs  # a line per epoch in a pipe
    assert shown["3"].startswith("<Figure size 1200x400") and shown["4"].startswith("<Figure size 600x600")
    assert shown["5"] == "[(2, 128), (128, 3)]"
    assert re.fullmatch(r"array\(\[('(red|green|blue)', ){3}'(red|green|blue)'\], dtype='<U5'\)", shown["6"])
    scores = [float(score) for score in re.findall(r"\d\.\d+", shown["7"])]
    assert len(scores) == 3 and min(scores) > 0.5  # chance is 1/3
