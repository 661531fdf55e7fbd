"""The ``nnfs-gpu`` command (also ``python -m nnfs_gpu``): info, train, evaluate, predict, bench.

One module per command group (``info``, ``train``, ``predict`` for evaluate and predict, ``bench``),
``data`` for the user's data files and ``labels`` for what their targets mean, ``network`` for the
networks the commands build and load, ``options`` for what they share. Every user mistake (a bad
option, a missing or malformed file, a backend this machine cannot run) ends as one line,
``nnfs-gpu: error: ...``, with exit status 2, never as a traceback: the library's own messages
already say what is wrong and how to fix it, so they are shown as they are.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import nnfs_gpu
from nnfs_gpu import plot
from nnfs_gpu.backends import BackendUnavailableError
from nnfs_gpu.cli import bench, info, predict, train
from nnfs_gpu.cli.data import UsageError
from nnfs_gpu.cli.options import one_line
from nnfs_gpu.distributed import DistributedError

PROG = "nnfs-gpu"

#: errors that mean bad input rather than a bug, shown as one line instead of a traceback
USER_ERRORS = (
    UsageError, ValueError, TypeError, OSError, BackendUnavailableError, FloatingPointError, plot.PlotUnavailableError,
    DistributedError,
)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors raised as UsageError so that ``main`` prints them as one line."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job."""
    parser = _Parser(prog=PROG, description="The framework of 'Neural Networks from Scratch', on NumPy or CuPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {nnfs_gpu.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    info.add_parser(commands)
    train.add_parser(commands)
    predict.add_parsers(commands)
    bench.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status (2 for a user error, printed as one line)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"]:  # everything after 'bench', options included, belongs to the suite
            return bench.run_benchmarks(argv[1:])
        args = build_parser().parse_args(argv)
        return args.run(args)
    except BrokenPipeError:  # the reader went away (nnfs-gpu predict ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 1
    except USER_ERRORS as error:
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
