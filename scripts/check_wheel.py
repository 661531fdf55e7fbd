"""A fresh virtual environment installs the built wheel and runs the book's chapter 10 from it.

Run by ``make dist`` after ``python -m build``: the venv is new and empty, the wheel is installed
with its dependencies as a user's ``pip install nnfs_gpu`` would, and the chapter-10 script runs in
a temporary folder, so the package it imports is the installed one, never this checkout (the check
says where ``nnfs_gpu`` was imported from, and fails when it is not the venv's).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_10 = ROOT / "examples" / "ch10_sgd.py"
EPOCHS = 101  # two of the book's lines: epoch 0 and epoch 100


def run(command: list[str], folder: Path) -> str:
    """Runs a command in ``folder`` with the checkout kept off the path; its output, or exit on failure."""
    environment = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONHOME")}
    environment.update(NNFS_GPU_BACKEND="numpy", OPENBLAS_NUM_THREADS="1", PYTHONSAFEPATH="1")
    result = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check_wheel: {' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def the_wheel(dist: Path) -> Path:
    wheels = sorted(dist.glob("nnfs_gpu-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"check_wheel: expected one nnfs_gpu wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def check(wheel: Path, folder: Path) -> None:
    venv = folder / "venv"
    run([sys.executable, "-m", "venv", str(venv)], folder)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], folder)
    shutil.copy(CHAPTER_10, folder / CHAPTER_10.name)
    where = run([str(python), "-c", "import nnfs_gpu; print(nnfs_gpu.__file__); print(nnfs_gpu.__version__)"], folder)
    location, version = where.split()
    if not Path(location).is_relative_to(venv):
        sys.exit(f"check_wheel: nnfs_gpu was imported from {location}, not from the fresh venv {venv}")
    if f"-{version}-" not in wheel.name:
        sys.exit(f"check_wheel: the installed version {version} is not the wheel's ({wheel.name})")
    command_version = run([str(venv / "bin" / "nnfs-gpu"), "--version"], folder).strip()
    output = run([str(python), CHAPTER_10.name, "--epochs", str(EPOCHS)], folder)
    lines = re.findall(r"^epoch: (\d+), acc: \d\.\d{3}, loss: \d\.\d{3}", output, flags=re.MULTILINE)
    if lines != ["0", str(EPOCHS - 1)]:
        sys.exit(f"check_wheel: chapter 10 did not print the book's lines for epochs 0 and {EPOCHS - 1}:\n{output}")
    print(f"check_wheel: {wheel.name} installed in a fresh venv ({command_version}, imported from {location});")
    print("check_wheel: chapter 10 ran from it:", *output.strip().splitlines(), sep="\n    ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path, help="the folder python -m build wrote the wheel to")
    wheel = the_wheel(parser.parse_args().dist).resolve()
    with tempfile.TemporaryDirectory(prefix="nnfs_gpu-wheel-") as folder:
        check(wheel, Path(folder))


if __name__ == "__main__":
    main()
