"""Markdown code blocks run as the cells of one notebook (README.md's and the documentation's).

A page's ```python blocks are its cells, in order; ```py blocks are fragments shown but not run.
Each cell runs as IPython runs it: the statements, then the last line's value shown (its repr), so
what a page says a cell shows is what it shows. The cells run in a subprocess, in a folder of the
caller's (they may write files), on the NumPy backend with matplotlib's Agg canvas and one BLAS thread.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import HANG_GUARD_S

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


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def run_cells(cells: list[str], folder: Path) -> tuple[str, dict[str, str]]:
    """Runs the cells in ``folder``; what they printed, and what each cell showed by its number."""
    environment = {**os.environ, "NNFS_GPU_BACKEND": "numpy", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", NOTEBOOK, *cells], capture_output=True, text=True, cwd=folder,
                            env=environment, timeout=HANG_GUARD_S)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout, dict(re.findall(r"^\[(\d+)\]: (.*)$", result.stdout, flags=re.MULTILINE))
