"""make notebooks: runs every notebooks/*.ipynb top to bottom in a Jupyter kernel, in the small size.

Each notebook runs in its own empty folder (what it writes, model files and data, stays out of the
checkout) with NNFS_GPU_NOTEBOOK_SIZE=ci, unless that is set already. Cells tagged ``gpu`` run only
where CuPy sees a CUDA GPU; elsewhere they are left out and each one left out is named. Any error in
any cell fails the run (exit status 1), after every notebook has run. The notebooks on disk are not
changed: their outputs are not kept (notebooks/README.md says why).

    python scripts/run_notebooks.py [NOTEBOOK ...]     (default: every notebook)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from notebooks import GPU_TAG, ROOT, notebook_paths, tagged

SIZE_VARIABLE = "NNFS_GPU_NOTEBOOK_SIZE"
#: a cell that takes longer than this is taken to hang (the small size runs each cell in seconds)
CELL_HANG_GUARD_S = 900


def gpu_missing() -> str | None:
    """Why the ``gpu`` cells cannot run here, or None when CuPy sees a CUDA GPU."""
    import nnfs_gpu

    cupy = nnfs_gpu.available_backends()["cupy"]
    return None if cupy.available else cupy.reason


def without_gpu_cells(notebook: Any, name: str, reason: str | None) -> Any:
    """The notebook without its ``gpu`` cells when ``reason`` says there is no GPU; names each one left out."""
    if reason is None:
        return notebook
    for index in reversed(tagged(notebook, GPU_TAG)):
        first_line = notebook.cells[index].source.splitlines()[0]
        print(f"  skipped {name} cell {index} (tagged {GPU_TAG!r}; no GPU here): {first_line}")
        del notebook.cells[index]
    return notebook


def run(path: Path, reason: str | None) -> bool:
    """Runs one notebook in a fresh kernel and an empty folder; True when every cell ran without error."""
    from nbclient import NotebookClient  # the notebooks extra; imported here so the tests need only nbformat
    from nbclient.exceptions import CellExecutionError

    notebook = without_gpu_cells(nbformat.read(path, as_version=4), path.name, reason)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="notebook-") as folder:
        client = NotebookClient(notebook, timeout=CELL_HANG_GUARD_S, kernel_name="python3",
                                resources={"metadata": {"path": folder}})
        try:
            client.execute()
        except CellExecutionError as error:
            print(f"FAILED {path.relative_to(ROOT)} after {time.perf_counter() - start:.1f} s:\n{error}")
            return False
    print(f"ok     {path.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every one in notebooks/)")
    paths = [path.resolve() for path in parser.parse_args(argv).notebooks] or notebook_paths()
    os.environ.setdefault(SIZE_VARIABLE, "ci")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small products: OpenBLAS's spinning threads only slow them
    reason = gpu_missing()
    print(f"running {len(paths)} notebooks, {SIZE_VARIABLE}={os.environ[SIZE_VARIABLE]}, "
          + (f"cells tagged {GPU_TAG!r} left out: {reason}" if reason else f"cells tagged {GPU_TAG!r} included (a GPU is here)"))
    start = time.perf_counter()
    failed = [path.name for path in paths if not run(path, reason)]
    print(f"{len(paths) - len(failed)} of {len(paths)} notebooks ran without error in {time.perf_counter() - start:.1f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
