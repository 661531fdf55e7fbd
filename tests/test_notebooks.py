"""The notebooks as stored: badge, setup cell, GPU metadata, no outputs, cells that parse, and what
the setup cell does on Colab and elsewhere. Reading only: ``make notebooks`` runs them (not here)."""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import subprocess
import sys
import types
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

import nnfs_gpu
from nnfs_gpu import BackendStatus
from support import HANG_GUARD_S

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import notebooks as shared  # noqa: E402  (scripts/notebooks.py)
import run_notebooks  # noqa: E402

PATHS = shared.notebook_paths()
GPU_PATHS = [path for path in PATHS if shared.tagged(nbformat.read(path, as_version=4), shared.GPU_TAG)]
REPOSITORY = shared.repository_url()
NO_GPU_REASON = "CuPy is not installed; a reason from the test"
#: runs a notebook's code cells up to its last one tagged gpu, over the recording CuPy stand-in
ON_STANDIN = """
import sys
import nbformat
from cupy_standin import recording_cupy

path = sys.argv[1]
cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
last_gpu = max(i for i, cell in enumerate(cells) if "gpu" in cell.metadata.get("tags", []))
namespace = {"__name__": "__main__"}
with recording_cupy():
    from nnfs_gpu.backends.cupy_backend import CupyBackend
    CupyBackend.describe = lambda self: f"the CuPy stand-in, {self.dtype_name}"  # it models no device properties
    for number, cell in enumerate(cells[:last_gpu + 1]):
        exec(compile(cell.source, f"{path} code cell {number}", "exec"), namespace)
        print(f"ran code cell {number} of {last_gpu + 1}")
"""


def python_source(cell: nbformat.NotebookNode) -> str:
    """A code cell's Python, line magics (``%matplotlib inline``) left out."""
    return "\n".join("pass" if line.startswith("%") else line for line in cell.source.splitlines())


def test_there_are_at_least_five_notebooks() -> None:
    assert len(PATHS) >= 5, [path.name for path in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_the_notebook_is_stored_as_scripts_notebooks_py_writes_it(path: Path) -> None:
    """Badge first, setup as the first code cell, Colab's GPU metadata, and no outputs."""
    assert shared.problems(path, REPOSITORY) == []


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_the_badge_opens_this_notebook_from_the_repository_and_colab_is_asked_for_a_gpu(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    owner_and_name = REPOSITORY.removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{owner_and_name}/blob/main/notebooks/{path.name}"
    assert notebook.cells[0].source == f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
    assert notebook.metadata["accelerator"] == "GPU"
    assert notebook.metadata["colab"]["gpuType"] == "T4"


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_every_code_cell_parses_also_those_make_notebooks_leaves_out(path: Path) -> None:
    """The cells tagged gpu never run in CI; at least they are valid Python (line magics aside)."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code":
            ast.parse(python_source(cell), filename=f"{path.name} cell {index}")


@pytest.mark.parametrize("path", GPU_PATHS, ids=[path.stem for path in GPU_PATHS])
def test_the_gpu_cells_run_on_the_cupy_backend_over_the_recording_standin(path: Path, tmp_path: Path) -> None:
    """make notebooks leaves them out without a GPU; here they run, with every cell before them (on
    'auto', which takes CuPy), on the cupy backend's own code over tests/cupy_standin: NumPy's
    arithmetic, CuPy's refusals (no implicit host conversion), and an error for what it does not model."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
                   "MPLBACKEND": "Agg", "NNFS_GPU_NOTEBOOK_SIZE": "ci", "OPENBLAS_NUM_THREADS": "1"}
    completed = subprocess.run([sys.executable, "-c", ON_STANDIN, str(path)], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "runs on the CuPy stand-in, float32 (CuPy sees a CUDA GPU)" in completed.stdout
    code_cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    last_gpu = max(i for i, cell in enumerate(code_cells) if shared.GPU_TAG in cell.metadata.get("tags", []))
    assert f"ran code cell {last_gpu} of {last_gpu + 1}" in completed.stdout


def test_the_colab_url_takes_the_owner_and_name_from_a_github_url_and_refuses_others() -> None:
    notebook = Path("notebooks/01_x.ipynb")
    expected = "https://colab.research.google.com/github/someone/project/blob/main/notebooks/01_x.ipynb"
    assert shared.colab_url(notebook, "https://github.com/someone/project") == expected
    assert shared.colab_url(notebook, "https://github.com/someone/project.git") == expected
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        shared.colab_url(notebook, "https://gitlab.com/someone/project")


def test_a_refresh_puts_back_a_changed_badge_and_clears_outputs(tmp_path: Path) -> None:
    notebook = nbformat.read(PATHS[0], as_version=4)
    notebook.cells[0].source = "[![Open In Colab](x)](https://colab.research.google.com/github/old/place/blob/main/notebooks/x.ipynb)"
    last_code = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    last_code.outputs, last_code.execution_count = [nbformat.v4.new_output("stream", text="hello")], 1
    changed = tmp_path / PATHS[0].name
    nbformat.write(notebook, changed)
    found = shared.problems(changed, REPOSITORY)
    assert len(found) == 2 and "holds outputs" in found[0] and "is not the badge" in found[1]
    nbformat.write(shared.refreshed(notebook, shared.colab_url(changed, REPOSITORY)), changed)
    assert shared.problems(changed, REPOSITORY) == []


def test_a_setup_cell_out_of_place_or_a_missing_title_is_named(tmp_path: Path) -> None:
    notebook = nbformat.read(PATHS[0], as_version=4)
    notebook.cells.insert(4, notebook.cells.pop(2))  # the setup cell after the first cells of the text
    changed = tmp_path / PATHS[0].name
    nbformat.write(notebook, changed)
    assert [problem for problem in shared.problems(changed, REPOSITORY) if "setup cell" in problem] != []
    del notebook.cells[1]  # the title
    nbformat.write(notebook, changed)
    assert [problem for problem in shared.problems(changed, REPOSITORY) if "must be the title" in problem] != []


def test_the_readme_shows_every_notebook_badge() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [path.name for path in PATHS if shared.colab_url(path, REPOSITORY) not in readme] == []


def test_make_notebooks_leaves_out_exactly_the_gpu_cells_without_a_gpu_and_names_each() -> None:
    path = next(path for path in PATHS if shared.tagged(nbformat.read(path, as_version=4), shared.GPU_TAG))
    notebook = nbformat.read(path, as_version=4)
    gpu_cells = [notebook.cells[i].source for i in shared.tagged(notebook, shared.GPU_TAG)]
    printed = io.StringIO()
    with redirect_stdout(printed):
        kept = run_notebooks.without_gpu_cells(nbformat.read(path, as_version=4), path.name, "no GPU")
    assert [cell.source for cell in kept.cells] == [cell.source for cell in notebook.cells if cell.source not in gpu_cells]
    assert printed.getvalue().count("skipped") == len(gpu_cells)
    assert run_notebooks.without_gpu_cells(nbformat.read(path, as_version=4), path.name, None).cells == notebook.cells


# --- the setup cell, run here with Colab, pip and the GPU faked ---


def run_setup(monkeypatch: pytest.MonkeyPatch, *, on_colab: bool, installed: bool, gpu: bool = False) -> tuple[list, str]:
    """Runs the setup cell; returns the commands it ran and what it printed."""
    commands: list = []
    monkeypatch.setattr(subprocess, "run", lambda command, **options: commands.append(command))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "nnfs_gpu" and not installed else find_spec(name, *rest))
    statuses = {"numpy": BackendStatus(True), "cupy": BackendStatus(True) if gpu else BackendStatus(False, NO_GPU_REASON)}
    monkeypatch.setattr(nnfs_gpu, "available_backends", lambda: statuses)
    previous = nnfs_gpu.get_backend()
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            exec(shared.SETUP_SOURCE, {"__name__": "__main__"})
    finally:
        nnfs_gpu.set_backend(previous)
    return commands, printed.getvalue()


def test_on_colab_without_nnfs_gpu_the_setup_installs_it_and_names_neither_numpy_nor_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    commands, _ = run_setup(monkeypatch, on_colab=True, installed=False)
    assert len(commands) == 1
    command = commands[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"] and command[-1] == "nnfs_gpu"
    assert [word for word in command if "numpy" in word.lower() or "cupy" in word.lower()] == []
    assert {"-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I"}.isdisjoint(command)
    assert command[command.index("--upgrade-strategy") + 1] == "only-if-needed"


@pytest.mark.parametrize(("on_colab", "installed"), [(True, True), (False, False), (False, True)])
def test_the_setup_installs_nothing_off_colab_or_when_nnfs_gpu_is_there(monkeypatch: pytest.MonkeyPatch, on_colab: bool, installed: bool) -> None:
    commands, _ = run_setup(monkeypatch, on_colab=on_colab, installed=installed)
    assert commands == []


def test_the_banner_is_one_line_naming_the_backend_and_on_a_colab_cpu_runtime_how_to_get_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _, printed = run_setup(monkeypatch, on_colab=True, installed=True)
    assert printed.count("\n") == 1
    assert nnfs_gpu.backends.create_backend("auto").describe() in printed
    assert "Runtime > Change runtime type > T4 GPU" in printed


def test_the_banner_says_why_there_is_no_gpu_off_colab_and_that_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    _, printed = run_setup(monkeypatch, on_colab=False, installed=True)
    assert NO_GPU_REASON in printed and "Runtime" not in printed
    _, printed = run_setup(monkeypatch, on_colab=False, installed=True, gpu=True)
    assert "CuPy sees a CUDA GPU" in printed and NO_GPU_REASON not in printed


@pytest.mark.parametrize(("size", "problem"), [(None, None), ("ci", None), ("book", None), ("small", "NNFS_GPU_NOTEBOOK_SIZE='small'")])
def test_the_size_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch: pytest.MonkeyPatch, size: str | None, problem: str | None) -> None:
    """Unset, the book's sizes."""
    if size is None:
        monkeypatch.delenv("NNFS_GPU_NOTEBOOK_SIZE", raising=False)
    else:
        monkeypatch.setenv("NNFS_GPU_NOTEBOOK_SIZE", size)
    if problem is None:
        assert f"sizes: {size or 'book'}" in run_setup(monkeypatch, on_colab=False, installed=True)[1]
    else:
        with pytest.raises(ValueError, match=problem):
            run_setup(monkeypatch, on_colab=False, installed=True)
