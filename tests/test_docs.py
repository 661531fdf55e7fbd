"""The documentation's pages run as written, its API reference covers every public name, and the
site's hooks (the command line's help, the links) do what the pages rely on.

Each page's python blocks run as the cells of one notebook (tests/notebook_cells.py); the getting
started page's tour is checked cell by cell against what it says the cells show. ``make docs``
builds the site with MkDocs's strict checks (a broken link, a reference that does not resolve or a
docstring warning fails it); these tests are what the build cannot see.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

import nnfs_gpu
import nnfs_gpu.book
from notebook_cells import python_blocks, run_cells

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
TOUR_PAGE = "getting-started.md"
#: the modules whose public names the API reference must cover, besides ``nnfs_gpu`` and ``nnfs_gpu.book``
MODULES = ("nnfs_gpu.callbacks", "nnfs_gpu.datasets", "nnfs_gpu.plot", "nnfs_gpu.sklearn")
PAGES_WITH_CODE = sorted(page.name for page in DOCS.glob("*.md") if python_blocks(page.read_text(encoding="utf-8")))


def public_names(module_name: str) -> list[str]:
    """A module's ``__all__``, or the functions and classes it defines without a leading underscore."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module_name]


def reference_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(REFERENCE.glob("*.md")))


def rendered(identifier: str, text: str) -> bool:
    """Whether a reference page renders ``identifier`` with a mkdocstrings directive of its own."""
    return re.search(rf"^::: {re.escape(identifier)}$", text, flags=re.MULTILINE) is not None


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], str, dict[str, str]]]:
    """Each page's cells, what they printed and what each showed (a page runs once, when first asked)."""
    runs: dict[str, tuple[list[str], str, dict[str, str]]] = {}

    def run(page: str) -> tuple[list[str], str, dict[str, str]]:
        if page not in runs:
            cells = python_blocks((DOCS / page).read_text(encoding="utf-8"))
            runs[page] = (cells, *run_cells(cells, tmp_path_factory.mktemp(page.removesuffix(".md"))))
        return runs[page]

    return run


def test_the_api_reference_renders_every_public_name():
    text = reference_text()
    missing = [f"nnfs_gpu.{name}" for name in nnfs_gpu.__all__ if not rendered(f"nnfs_gpu.{name}", text)]
    for module in MODULES:
        missing += [f"{module}.{name}" for name in public_names(module) if not rendered(f"{module}.{name}", text)]
    assert not missing, f"not in docs/reference/: {missing}"


def test_the_book_reference_names_every_book_name_and_renders_its_class():
    """A book name is the modern class under another name (rendered on the nnfs_gpu page) or the
    book's own (rendered on the book's page); the book's page names each, with what it is."""
    book_page = (REFERENCE / "book.md").read_text(encoding="utf-8")
    text = reference_text()
    for name in nnfs_gpu.book.__all__:
        value = getattr(nnfs_gpu.book, name)
        assert f"`{name}`" in book_page or rendered(f"nnfs_gpu.book.{name}", book_page), name
        own = rendered(f"nnfs_gpu.book.{name}", text)
        modern = f"nnfs_gpu.{value.__name__}" if isinstance(value, type) else None
        assert own or (modern is not None and rendered(modern, text) and f"[{modern}]" in book_page), name


def test_the_tour_has_the_cells_it_promises():
    code = "\n".join(python_blocks((DOCS / TOUR_PAGE).read_text(encoding="utf-8")))
    for promise in ("validation_split=", "EarlyStopping(", "plot_history(", "summary()", "save(", "Model.load(",
                    "state_dict()", "predict_proba(", "predict_classes(", "make_pipeline(", "NNFSClassifier("):
        assert promise in code, promise


def test_every_cell_of_the_tour_runs_and_shows_what_it_says(page_runs):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    _, out, shown = page_runs(TOUR_PAGE)
    assert shown["1"].startswith("Model: 4 layers, 771 parameters; NumPy")  # the summary, as a table
    epochs, best_accuracy = (float(number) for number in shown["2"].strip("()").split(","))
    assert 30 < epochs < 1000 and best_accuracy > 0.6  # stopped early, after learning (chance is 1/3)
    assert len(re.findall(r"^epoch \d+/1000: ", out, flags=re.MULTILINE)) == epochs  # a line per epoch in a pipe
    assert shown["3"].startswith("<Figure size 1200x400") and shown["4"].startswith("<Figure size 600x600")
    assert shown["5"] == "[(2, 128), (128, 3)]"
    assert re.fullmatch(r"array\(\[('(red|green|blue)', ){3}'(red|green|blue)'\], dtype='<U5'\)", shown["6"])
    scores = [float(score) for score in re.findall(r"\d\.\d+", shown["7"])]
    assert len(scores) == 3 and min(scores) > 0.5  # chance is 1/3


@pytest.mark.parametrize("page", [page for page in PAGES_WITH_CODE if page != TOUR_PAGE])
def test_every_page_runs_as_written(page, page_runs):
    cells, _, shown = page_runs(page)
    assert cells and len(shown) <= len(cells)


def test_the_book_page_prints_the_books_lines(page_runs):
    _, out, _ = page_runs("book.md")
    epochs = re.findall(r"^epoch: (\d+), acc: \d\.\d{3}, loss: \d\.\d{3}$", out, flags=re.MULTILINE)
    assert [int(epoch) for epoch in epochs] == list(range(0, 10001, 100))


def test_the_saving_page_loads_the_network_it_saved(page_runs):
    _, _, shown = page_runs("saving.md")
    assert list(shown.values()) == ["True"]


@pytest.fixture(scope="module")
def hooks():
    """docs/hooks.py, which needs MkDocs (the docs extra; make docs installs it, CI runs make docs first)."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_line_page_has_every_commands_help(hooks):
    from nnfs_gpu.cli import build_parser

    text = hooks.command_line_help()
    commands = ("info", "train", "evaluate", "predict", "bench")
    assert [f"### `nnfs-gpu {name}`" in text for name in commands] == [True] * len(commands)
    train_help = text.split("### `nnfs-gpu train`")[1].split("### ")[0]
    for option in ("--resume", "--checkpoint", "--patience", "--backend", "--plot"):
        assert option in train_help, option
    assert build_parser().prog == "nnfs-gpu"
    assert "<!-- cli-help -->" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_links_outside_the_docs_point_at_the_repository_and_links_into_them_stay_relative(hooks):
    base = "https://example.org/r"
    readme = "[a](docs/gpu.md#colab) [b](examples/ch10_sgd.py) ![c](docs/figures/x.png) [d](https://x.org) [e](#top)"
    assert hooks.rewrite_links(readme, "README.md", "index.md", base) == (
        "[a](gpu.md#colab) [b](https://example.org/r/blob/main/examples/ch10_sgd.py) ![c](figures/x.png) "
        "[d](https://x.org) [e](#top)")
    page = "[a](../../examples/) [b](book.md) [c](../reference/index.md#nnfs_gpu.Model) [d](../../CHANGELOG.md)"
    assert hooks.rewrite_links(page, "docs/reference/book.md", "reference/book.md", base) == (
        "[a](https://example.org/r/tree/main/examples) [b](book.md) [c](index.md#nnfs_gpu.Model) [d](../changelog.md)")
    examples = "[a](../docs/book.md#which-import-for-which-chapter) [b](ch10_sgd.py)"
    assert hooks.rewrite_links(examples, "examples/README.md", "examples.md", base) == (
        "[a](book.md#which-import-for-which-chapter) [b](https://example.org/r/blob/main/examples/ch10_sgd.py)")


def test_the_repository_url_comes_from_pyproject(hooks):
    """The one place the badges, the links and the site's repository button read it from."""
    assert hooks.repository_url() == "https://github.com/nnfs-gpu/nnfs_gpu"
    config = hooks.on_config({"nav": []})
    assert (config["repo_url"], config["repo_name"]) == ("https://github.com/nnfs-gpu/nnfs_gpu", "nnfs-gpu/nnfs_gpu")


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_nav_gets_a_notebooks_section_for_any_number_of_notebooks(hooks, tmp_path, monkeypatch, count):
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    monkeypatch.setattr(hooks, "repository_url", lambda: "https://github.com/owner/repository")
    (tmp_path / "notebooks").mkdir()
    names = [f"{number:02d}_chapter.ipynb" for number in reversed(range(count))]
    for name in [*names, "notes.md"]:
        (tmp_path / "notebooks" / name).write_text("{}")
    nav = [{"Home": "index.md"}, {"API reference": [{"nnfs_gpu": "reference/index.md"}]}]
    config = hooks.on_config({"nav": [dict(item) for item in nav]})
    expected = [nav[0], {"Notebooks": [f"notebooks/{name}" for name in sorted(names)]}, nav[1]] if count else nav
    assert config["nav"] == expected
