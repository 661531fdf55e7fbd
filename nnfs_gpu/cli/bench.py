"""``nnfs-gpu bench``: the source checkout's benchmark suite, ``benchmarks/run.py``."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path
from typing import Any

import nnfs_gpu
from nnfs_gpu.cli.data import UsageError

#: the benchmark suite ships with the source checkout, not with the installed package
BENCH_SCRIPT = Path(nnfs_gpu.__file__).resolve().parents[1] / "benchmarks" / "run.py"


def add_parser(commands: Any) -> None:
    bench = commands.add_parser("bench", add_help=False, help="run the benchmark suite (source checkout only)")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed on to benchmarks/run.py")
    bench.set_defaults(run=lambda args: run_benchmarks(args.args))


def run_benchmarks(args: list[str]) -> int:
    """Runs ``benchmarks/run.py``'s ``main(argv)`` with ``args``."""
    script = BENCH_SCRIPT
    if not script.is_file():
        raise UsageError(
            f"the benchmark suite comes with the source checkout ({script} does not exist); clone the "
            "repository, install it with pip install -e . and run nnfs-gpu bench there"
        )
    sys.path.insert(0, str(script.parent))  # as 'python benchmarks/run.py' would, for its own imports
    try:
        suite = runpy.run_path(str(script), run_name="nnfs_gpu_benchmarks")
        if not callable(suite.get("main")):
            raise UsageError(f"{script} has no main(argv) function")
        return int(suite["main"](list(args)) or 0)
    finally:
        sys.path.remove(str(script.parent))
