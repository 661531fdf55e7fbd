"""The cells and metadata every notebook shares, written in one place.

Each ``notebooks/*.ipynb`` starts with an "Open in Colab" badge (its URL built from ``[project.urls]``
``Repository`` in pyproject.toml), then its title (a markdown cell starting with "# "), then the setup cell (install nnfs_gpu on Colab when
it is missing, then one banner saying where the notebook runs and why); its metadata asks Colab for a
GPU runtime, and it is stored without outputs (notebooks/README.md says why).

    python scripts/notebooks.py            rewrites the badge, the setup cell and the metadata of every
                                           notebook, and clears their outputs
    python scripts/notebooks.py --check    lists what differs from that, exit status 1 if anything does
    python scripts/notebooks.py --table    prints the README's table of badges
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PYPROJECT = ROOT / "pyproject.toml"
BRANCH = "main"
BADGE_TAG = "colab-badge"
SETUP_TAG = "setup"
#: cells that need a CUDA GPU; scripts/run_notebooks.py skips them where there is none
GPU_TAG = "gpu"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: what Colab writes when a notebook asks for a T4 GPU runtime, with the kernel every runtime has
METADATA = {
    "accelerator": "GPU",
    "colab": {"gpuType": "T4", "provenance": []},
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

SETUP_SOURCE = '''\
# Setup: on Colab, install nnfs_gpu if it is missing (Colab's NumPy and CuPy stay as they are), then say
# where this notebook runs and why. NNFS_GPU_NOTEBOOK_SIZE=ci makes every run small (make notebooks).
import importlib.util, os, subprocess, sys

ON_COLAB = "google.colab" in sys.modules
if ON_COLAB and importlib.util.find_spec("nnfs_gpu") is None:
    # only-if-needed: a package already installed that satisfies nnfs_gpu's needs is kept as it is
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade-strategy", "only-if-needed", "nnfs_gpu"], check=True)

import nnfs_gpu

SIZE = os.environ.get("NNFS_GPU_NOTEBOOK_SIZE", "book")
if SIZE not in ("book", "ci"):
    raise ValueError(f"NNFS_GPU_NOTEBOOK_SIZE={SIZE!r}: use 'book' (the book's sizes, the default) or 'ci' (small runs)")
backend = nnfs_gpu.set_backend("auto")
cupy_status = nnfs_gpu.available_backends()["cupy"]
GPU = cupy_status.available
if GPU:
    why = "CuPy sees a CUDA GPU"
elif ON_COLAB:
    why = "this is a CPU runtime; for the GPU: Runtime > Change runtime type > T4 GPU, then run again"
else:
    why = f"no GPU: {cupy_status.reason}"
print(f"nnfs_gpu {nnfs_gpu.__version__} runs on {backend.describe()} ({why}); sizes: {SIZE}")'''


def repository_url(pyproject: Path = PYPROJECT) -> str:
    """``[project.urls]`` ``Repository``: the GitHub repository the badges open notebooks from."""
    with pyproject.open("rb") as file:
        urls = tomllib.load(file).get("project", {}).get("urls", {})
    if "Repository" not in urls:
        raise KeyError(f"{pyproject} has no [project.urls] Repository; add the GitHub URL the badges should open")
    return urls["Repository"]


def colab_url(notebook: Path, repository: str) -> str:
    """The URL that opens ``notebook`` (a file of notebooks/) from ``repository``'s main branch in Colab."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository)
    if match is None:
        raise ValueError(f"the repository URL {repository!r} is not https://github.com/OWNER/REPO; Colab opens only GitHub notebooks")
    owner, name = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/notebooks/{notebook.name}"


def badge(url: str) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def tagged(notebook: Any, tag: str) -> list[int]:
    """The indices of the cells that carry ``tag``."""
    return [i for i, cell in enumerate(notebook.cells) if tag in cell.get("metadata", {}).get("tags", [])]


def refreshed(notebook: Any, url: str) -> Any:
    """A copy of ``notebook`` with its shared parts as written here: the badge first, then the title
    (a markdown cell starting with "# "), then the setup cell; the metadata asking for a GPU; no outputs."""
    notebook = copy.deepcopy(notebook)
    for tag in (BADGE_TAG, SETUP_TAG):
        for index in reversed(tagged(notebook, tag)):
            del notebook.cells[index]
    if not (notebook.cells and notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")):
        raise ValueError("the first cell (after the badge) must be the title: a markdown cell starting with '# '")
    notebook.cells.insert(1, nbformat.v4.new_code_cell(SETUP_SOURCE, metadata={"tags": [SETUP_TAG]}, id="setup"))
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(badge(url), metadata={"tags": [BADGE_TAG]}, id="colab-badge"))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.metadata = nbformat.from_dict({**notebook.metadata, **copy.deepcopy(METADATA)})
    return notebook


def problems(path: Path, repository: str) -> list[str]:
    """What in the notebook at ``path`` differs from ``refreshed``: outputs, badge, title, setup, metadata."""
    notebook = nbformat.read(path, as_version=4)
    found = [f"{path.name}: cell {i} holds outputs (store notebooks without them)"
             for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    try:
        expected = refreshed(notebook, colab_url(path, repository))
    except ValueError as error:
        return [*found, f"{path.name}: {error}"]
    if notebook.cells[:1] != expected.cells[:1]:
        found.append(f"{path.name}: the first cell is not the badge {badge(colab_url(path, repository))}")
    if notebook.cells[2:3] != expected.cells[2:3] or len(tagged(notebook, SETUP_TAG)) != 1:
        found.append(f"{path.name}: the third cell (after the badge and the title) is not scripts/notebooks.py's setup cell")
    if notebook.metadata != expected.metadata:
        found.append(f"{path.name}: the metadata does not ask for a GPU runtime as Colab writes it")
    return found


def table(repository: str) -> str:
    """The README's table: each notebook's title and its badge."""
    rows = ["| notebook | open |", "|---|---|"]
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        title = notebook.cells[1].source.splitlines()[0].removeprefix("# ")
        rows.append(f"| [{title}](notebooks/{path.name}) | {badge(colab_url(path, repository))} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list what differs instead of rewriting; exit 1 if anything does")
    mode.add_argument("--table", action="store_true", help="print the README's table of badges")
    args = parser.parse_args(argv)
    repository = repository_url()
    if args.table:
        print(table(repository))
        return 0
    if args.check:
        found = [problem for path in notebook_paths() for problem in problems(path, repository)]
        print("\n".join(found) or f"{len(notebook_paths())} notebooks: badges, setup cells, metadata as written; no outputs")
        return 1 if found else 0
    for path in notebook_paths():
        nbformat.write(refreshed(nbformat.read(path, as_version=4), colab_url(path, repository)), path)
        print(f"refreshed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
