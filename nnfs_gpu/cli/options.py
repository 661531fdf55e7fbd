"""What several commands share: number checks for argparse, the backend options, one line for an error."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nnfs_gpu
from nnfs_gpu.cli.data import UsageError
from nnfs_gpu.files import check_writable
from nnfs_gpu.backends import ENV_VAR, Backend, create_requested


def _number(text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole number' if kind is int else 'number'}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def checked(kind: type, accepts: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` that ``accepts`` allows, else an error saying ``expected``."""

    def parse(text: str) -> Any:
        value = _number(text, kind)
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_int = checked(int, lambda value: value >= 1, "a whole number >= 1")
non_negative_int = checked(int, lambda value: value >= 0, "a whole number >= 0")
non_negative_float = checked(float, lambda value: value >= 0, "a number >= 0")
positive_float = checked(float, lambda value: value > 0, "a number > 0")
fraction = checked(float, lambda value: 0 <= value < 1, "a number in [0, 1)")
seed = checked(int, lambda value: 0 <= value < 2**32, "a whole number in [0, 2**32)")


def layer_sizes(text: str) -> tuple[int, ...]:
    """``64,64`` -> (64, 64); an empty string means no hidden layer."""
    try:
        sizes = tuple(int(part) for part in text.split(",")) if text.strip() else ()
    except ValueError:
        sizes = (0,)
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes >= 1 such as 64,64, got {text!r}")
    return sizes


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", help=f"numpy (or cpu), cupy (or cuda, gpu), torch (mps: torch on Apple's GPU), "
                                          f"strict or auto (default: ${ENV_VAR}, else auto)")
    parser.add_argument("--device", help="the backend's device: torch's cpu, cuda, cuda:1, mps or xpu (default: the "
                                         "backend's own: torch's cpu)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="(default: float32)")


def select_backend(args: argparse.Namespace) -> Backend:
    """Makes the backend ``--backend`` names (else the environment's, else 'auto') current, on
    ``--device`` when given, in ``--dtype``."""
    device = {} if args.device is None else {"device": args.device}
    return nnfs_gpu.set_backend(create_requested(args.backend, dtype=args.dtype, **device))


def check_output_files(outputs: list[tuple[str, str, str | Path]], inputs: list[Path],
                       replaceable: dict[str, Path] | None = None) -> None:
    """Checks, before any work, that every output (the option, the path as given, the file it
    writes) can be written, and that none overwrites an input or another output, except the input
    that ``replaceable`` allows an option to replace (``train --resume m.model --save m.model``)."""
    written: dict[str, str] = {os.path.realpath(path): "an input file of this command" for path in inputs}
    allowed = {option: os.path.realpath(path) for option, path in (replaceable or {}).items()}
    for option, given, path in outputs:
        try:
            target = os.path.realpath(check_writable(path, "write"))
        except OSError as error:
            raise UsageError(f"{option} {given}: {getattr(error, 'reason', one_line(error))}") from None
        if target in written and not (allowed.get(option) == target and written[target] == "an input file of this command"):
            raise UsageError(f"{option} {given}: {path} is {written[target]}; name another file")
        written[target] = f"also written by {option}"


def one_line(error: BaseException) -> str:
    """An error's message on one line (the library's messages say what is wrong and the fix)."""
    return " ".join(str(error).split()) or type(error).__name__
