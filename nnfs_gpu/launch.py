"""What an MPI launch needs before any communicator exists: this process's rank from the launcher's
variables, and stopping every rank when one fails, so that no rank waits forever for one that died.

``import nnfs_gpu`` calls ``stop_all_ranks_on_uncaught_errors``, which does nothing outside a launch
of several ranks. Nothing here imports mpi4py; MPI is used only when the program already started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any, Callable, Iterator, NoReturn

#: what MPI launchers (MPICH's hydra, Open MPI) tell each process: its rank and the rank count
LAUNCHER_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")
LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
#: the launcher forwards output asynchronously; an abort right after a message would cut it off
ABORT_GRACE_SECONDS = 1.0


def _launcher_number(names: tuple[str, ...], default: int) -> int:
    for name in names:
        text = os.environ.get(name, "").strip()
        if text.isdigit():
            return int(text)
    return default


def launched_rank() -> tuple[int, int]:
    """This process's rank and the rank count, as an MPI launcher set them ((0, 1) without one)."""
    return _launcher_number(LAUNCHER_RANK_VARS, 0), _launcher_number(LAUNCHER_SIZE_VARS, 1)


def error_line(error: BaseException) -> str:
    """An error as one line of a rank's stop message: its type and its message."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def abort_ranks(rank: int, size: int, message: str, abort: Callable[[int], None] | None, code: int = 1) -> None:
    """Says on this rank why all ranks stop, then calls ``abort(code)`` (MPI_Abort) when given, after
    a pause: the launcher forwards output asynchronously, and the abort would cut it off."""
    print(f"nnfs_gpu: rank {rank} of {size}: {message}; stopping all ranks", file=sys.stderr, flush=True)
    if abort is not None:
        time.sleep(ABORT_GRACE_SECONDS)
        abort(code)


def _stop_launch(message: str) -> NoReturn:
    """Ends every rank of this launch: MPI_Abort once MPI has started; before that, this process ends
    by a signal, which makes the launcher stop the others (rather than leave them waiting in MPI's
    start-up for this rank forever)."""
    MPI = sys.modules.get("mpi4py.MPI")
    started = MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized()
    abort_ranks(*launched_rank(), message, MPI.COMM_WORLD.Abort if started else None)
    os.kill(os.getpid(), signal.SIGTERM)
    raise SystemExit(1)  # where the signal is not immediate


@contextlib.contextmanager
def stopping_launch_on_error() -> Iterator[None]:
    """Where no communicator exists yet: an error inside stops every rank of an MPI launch of
    several ranks (it passes on unchanged outside one)."""
    try:
        yield
    except Exception as error:
        if launched_rank()[1] < 2:
            raise
        _stop_launch(error_line(error))


def stop_all_ranks_on_uncaught_errors() -> None:
    """Under an MPI launcher with several ranks, makes an uncaught error on this rank stop every
    rank, as ``python -m mpi4py`` does (see ``_stop_launch``): a rank that fails before ``train``
    must not leave the others waiting. ``import nnfs_gpu`` calls it; the previous hook still
    prints the traceback first."""
    if launched_rank()[1] < 2 or getattr(sys.excepthook, "stops_all_ranks", False):
        return
    previous = sys.excepthook

    def stop_all(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        previous(kind, error, traceback)
        _stop_launch(f"uncaught {kind.__name__}")

    stop_all.stops_all_ranks = True  # type: ignore[attr-defined]
    sys.excepthook = stop_all
