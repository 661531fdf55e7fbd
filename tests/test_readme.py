"""The README runs as written: its python blocks, in order, as the cells of one notebook, and its
relative links lead to files of the repository (so they work on GitHub and, rewritten by the docs'
hook, on the site). What moved from the README into the documentation is run by test_docs.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notebook_cells import python_blocks, run_cells

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BOOK_LINE = re.compile(r"^epoch: (\d+), acc: (\d\.\d{3}), loss: (\d\.\d{3})$", flags=re.MULTILINE)
MAX_LINES = 250


@pytest.fixture(scope="module")
def readme(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str, dict[str, str]]:
    cells = python_blocks(README.read_text(encoding="utf-8"))
    out, shown = run_cells(cells, tmp_path_factory.mktemp("readme"))
    return cells, out, shown


def test_the_readme_is_a_landing_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    assert "make demo" in text and "make test" in text  # the two quick-start commands


def test_the_book_example_prints_the_books_lines(readme):
    cells, out, _ = readme
    assert "from nnfs_gpu.book import *" in cells[0] and "Optimizer_SGD()" in cells[0]
    lines = BOOK_LINE.findall(out)
    assert [int(epoch) for epoch, _, _ in lines] == list(range(0, 10001, 100))
    assert lines[0][2] == "1.099"  # the untrained loss, ln 3, as the book prints it
    assert float(lines[-1][1]) > 0.5 and float(lines[-1][2]) < float(lines[0][2])  # it learned (chance is 1/3)


def test_the_modern_example_trains_saves_and_loads(readme):
    cells, _, shown = readme
    assert "EarlyStopping(" in cells[1] and "Model.load(" in cells[1]
    loss, accuracy = (float(number) for number in shown["2"].strip("()").split(","))
    assert accuracy > 0.6 and loss < 1.0  # the loaded model is the trained one (chance is 1/3, ln 3 = 1.099)
    assert re.fullmatch(r"'NumPy [\d.]+ on the CPU, float32'", shown["3"])  # the backend the block chose


def test_relative_links_lead_to_files_of_the_repository():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [target for target in targets if not re.match(r"[a-z]+:", target)]
    assert relative, "the README links into docs/"
    missing = [target for target in relative if not (ROOT / target).exists()]
    assert not missing, missing
