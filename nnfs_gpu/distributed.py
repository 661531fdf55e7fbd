"""Data-parallel training on several processes: MPI through mpi4py, with NCCL for CuPy arrays.

Every rank holds the whole model and trains on its shard of each global batch; one all-reduce of a
flat gradient buffer per step gives every rank the global mean gradient, and every rank applies the
same update (ChainerMN's design). Launch with ``mpiexec -n N python train.py`` and call
``Model.train(..., distributed=True)``. Importing nnfs_gpu never imports mpi4py; this module does
so only when a communicator is made.

No rank is left waiting: before the first step the ranks compare what they are about to train
(``DataParallel.agree``); every collective has a timeout (``DEFAULT_TIMEOUT_S``, or
``$NNFS_GPU_COLLECTIVE_TIMEOUT``, or ``timeout=``); an error inside ``train`` stops every rank; and
under an MPI launcher an uncaught error anywhere stops every rank (``nnfs_gpu.launch``).
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
from typing import Any, Iterator, NoReturn

import numpy as np

from . import checks
from .backends import Backend
from .launch import abort_ranks, error_line
from .training.strategy import LOCAL, LocalSteps
from .watchdog import Watchdog

INSTALL_HINT = "pip install 'nnfs_gpu[mpi]' (mpi4py and the MPICH wheel; no system MPI needed)"
#: how long a collective may wait for the other ranks before every rank is stopped
DEFAULT_TIMEOUT_S = 300.0
TIMEOUT_VAR = "NNFS_GPU_COLLECTIVE_TIMEOUT"


class DistributedError(RuntimeError):
    """Raised when distributed training cannot start; the message says what to install or do."""


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise DistributedError(f"distributed training needs mpi4py: {INSTALL_HINT} ({error})") from error
    except RuntimeError as error:  # mpi4py is there but finds no MPI library
        raise DistributedError(f"mpi4py cannot load an MPI library: {INSTALL_HINT} ({error})") from error
    return MPI


def collective_timeout(timeout: float | None = None) -> float:
    """Seconds a collective may wait: ``timeout``, else ``$NNFS_GPU_COLLECTIVE_TIMEOUT``, else
    ``DEFAULT_TIMEOUT_S``; ``math.inf`` (``inf`` in the variable) waits forever."""
    source = "timeout"
    if timeout is None:
        text = os.environ.get(TIMEOUT_VAR, "").strip()
        if not text:
            return DEFAULT_TIMEOUT_S
        source = f"the environment variable {TIMEOUT_VAR}"
        try:
            timeout = float(text)
        except ValueError:
            timeout = math.nan
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise DistributedError(f"{source} must be a number of seconds > 0 (inf: no limit), got {timeout!r}")
    return float(timeout)


class Communicator:
    """Collectives over host buffers through MPI; ``timeout`` (seconds) bounds each collective (see
    ``collective_timeout`` for the default).

    A collective that does not finish in time aborts every rank with a message (from a watchdog
    thread, as MPI's ``THREAD_MULTIPLE`` allows), so a rank that died or hangs never leaves the
    others waiting forever.
    """

    #: set once this rank is stopping every rank (MPI_Abort may return before the process ends)
    aborting = False

    def __init__(self, backend: Backend, timeout: float | None = None) -> None:
        self.timeout = collective_timeout(timeout)
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.backend = backend
        self.watchdog = Watchdog(self._timed_out, prepare=self._prepare_watchdog_thread)

    def _prepare_watchdog_thread(self) -> None:
        """What the watchdog's thread sets up before it watches (nothing for MPI)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} rank {self.rank} of {self.size}, {self.backend.name}>"

    def _wait(self, request: Any, what: str) -> None:
        if math.isinf(self.timeout):
            request.Wait()
            return
        with self.watchdog.watching(what, self.timeout):
            request.Wait()

    def _timed_out(self, what: str) -> None:
        """The watchdog's verdict: stops every rank, and this process even if MPI_Abort returns
        (the main thread is still waiting in MPI)."""
        try:
            self.abort(f"{what} did not finish within {self.timeout:g} s; a rank may have died or hung")
        finally:
            os._exit(1)

    def allreduce_sum(self, buffer: Any) -> Any:
        """The element-wise sum of ``buffer`` over all ranks, as an array of this backend."""
        host = np.ascontiguousarray(self.backend.to_numpy(buffer))
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM), "an all-reduce")
        return host if self.backend.owns(host) else self.backend.asarray(host)

    def broadcast(self, buffer: Any, root: int = 0) -> Any:
        """Rank ``root``'s ``buffer`` on every rank, as an array of this backend."""
        host = self.broadcast_host(self.backend.to_numpy(buffer), root)
        return host if self.backend.owns(host) else self.backend.asarray(host)

    def broadcast_host(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        """Rank ``root``'s host array (same shape and dtype everywhere) on every rank."""
        array = np.ascontiguousarray(array)
        self._wait(self.comm.Ibcast(array, root=root), "a broadcast")
        return array

    def host_max(self, value: int) -> int:
        """The largest ``value`` over the ranks."""
        largest = np.array([value], dtype=np.int64)
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, largest, op=self.MPI.MAX), "an all-reduce")
        return int(largest[0])

    def allgather_text(self, text: str) -> list[str]:
        """Every rank's ``text``, in rank order (padded to one length, so one timed all-gather does)."""
        data = text.encode("utf-8")
        width = self.host_max(len(data))
        everyone = self._allgather_rows(np.frombuffer(data.ljust(width, b" "), dtype=np.uint8))
        return [row.tobytes().decode("utf-8").rstrip(" ") for row in everyone]

    def _allgather_rows(self, mine: np.ndarray) -> np.ndarray:
        """Every rank's byte row ``mine`` (one length on all), one row per rank in rank order."""
        everyone = np.empty((self.size, mine.size), dtype=np.uint8)
        self._wait(self.comm.Iallgather(mine, everyone), "an all-gather")
        return everyone

    def abort(self, message: str, code: int = 1) -> NoReturn:
        """Ends every rank: prints why on this rank, then stops them all (MPI_Abort; no rank is left waiting)."""
        self.aborting = True
        abort_ranks(self.rank, self.size, message, self._stop_every_rank, code)
        raise SystemExit(code)  # MPI_Abort may return before the launcher ends this process

    def _stop_every_rank(self, code: int) -> None:
        self.comm.Abort(code)

    @contextlib.contextmanager
    def stopping_all_on_error(self) -> Iterator[None]:
        """Any error inside ends every rank with its message (no rank is left waiting for this one);
        the exit of an abort already under way passes through without a second message."""
        try:
            yield
        except BaseException as error:
            if self.aborting:
                raise
            self.abort(error_line(error))


class NcclCommunicator(Communicator):
    """Gradients summed on the GPUs with NCCL; MPI only bootstraps NCCL and broadcasts host data.

    Each rank needs its own GPU: call ``use_local_gpu()`` before creating the backend. Each
    all-reduce is followed by an event that the watchdog polls against the timeout, on its own
    thread: the host never waits for the GPU.
    """

    def __init__(self, backend: Backend, timeout: float | None = None) -> None:
        super().__init__(backend, timeout)
        from cupy.cuda import nccl

        self._check_one_gpu_per_rank()
        self.nccl = nccl
        unique_id = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        with backend.device:
            self.nccl_comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)

    def _prepare_watchdog_thread(self) -> None:
        """The thread polls this rank's GPU events, so it works on this rank's device."""
        self.backend.device.use()

    def _check_one_gpu_per_rank(self) -> None:
        places = self.comm.allgather((self.MPI.Get_processor_name(), self.backend.device.id))
        if len(set(places)) < len(places):
            raise DistributedError(
                f"several ranks use the same GPU ({places}); call nnfs_gpu.distributed.use_local_gpu() "
                "before creating the cupy backend, so that each rank takes its own"
            )

    def allreduce_sum(self, buffer: Any) -> Any:
        import cupy

        nccl = self.nccl
        dtype = {np.dtype("float32"): nccl.NCCL_FLOAT32, np.dtype("float64"): nccl.NCCL_FLOAT64}[np.dtype(buffer.dtype)]
        buffer = cupy.ascontiguousarray(buffer)
        stream = cupy.cuda.get_current_stream()
        self.nccl_comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, dtype, nccl.NCCL_SUM, stream.ptr)
        if math.isfinite(self.timeout):
            event = stream.record()
            self.watchdog.queued("an NCCL all-reduce", self.timeout, lambda: event.done)
        return buffer


def _shape(data: Any) -> tuple[int, ...]:
    return tuple(data.shape) if hasattr(data, "shape") else np.shape(data)


def run_description(model: Any, X: Any, y: Any, validation_data: Any, settings: dict[str, Any]) -> dict[str, str]:
    """What must be the same on every rank of a data-parallel run, as text per item: the backend,
    the model (architecture, loss, accuracy, optimizer and its step), the data shapes and ``train``'s
    settings. Values (the data, the initial weights: rank 0's are broadcast) may differ."""
    backend, optimizer = model.backend, model.optimizer
    validation = "none" if validation_data is None else f"X {_shape(validation_data[0])}, y {_shape(validation_data[1])}"
    return {
        "backend": f"{backend.name} {backend.dtype_name} ({backend.precision} precision)",
        "layers": "[" + ", ".join(repr(layer) for layer in model.layers) + "]",
        "loss": repr(model.loss),
        "accuracy": repr(model.accuracy),
        "optimizer": f"{optimizer!r} after {getattr(optimizer, 'iterations', '?')} steps",
        "training data": f"X {_shape(X)}, y {_shape(y)}",
        "validation data": validation,
        **{name: repr(value) for name, value in settings.items()},
    }


def nccl_available() -> bool:
    try:
        from cupy.cuda import nccl
    except Exception:
        return False
    return bool(getattr(nccl, "available", False))


def communicator(backend: Backend, timeout: float | None = None) -> Communicator:
    """The communicator for ``backend``: torch.distributed for torch (``torch_distributed.py``),
    NCCL for CuPy when available, MPI over host buffers otherwise."""
    if backend.name == "torch":
        from .torch_distributed import TorchCommunicator

        return TorchCommunicator(backend, timeout)
    if backend.name == "cupy" and nccl_available():
        return NcclCommunicator(backend, timeout)
    return Communicator(backend, timeout)


def use_local_gpu() -> int:
    """Makes this rank's GPU (local rank modulo the GPU count) current; call it before building the model."""
    import cupy

    MPI = _mpi()
    local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    device = local % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return device


class DataParallel(LocalSteps):
    """The step strategy of ``Model.train(..., distributed=...)``: shards, averaged gradients, global numbers.

    Each rank trains on a contiguous shard of every global batch. Its gradients are scaled by its
    share of the batch before one summing all-reduce of a flat buffer, so every rank ends the step
    with the gradient of the global batch's mean loss (and the full regularization gradient), and
    every rank applies the same update. Rank 0's weights and shuffles hold for all.
    """

    collective = True

    def __init__(self, comm: Communicator) -> None:
        self.comm = comm

    @property
    def is_root(self) -> bool:  # type: ignore[override]
        return self.comm.rank == 0

    def start(self, samples: int, batches: list[slice], update: Any) -> None:
        self.check_batches(batches)
        self.broadcast_parameters(update)

    def stopping_all_on_error(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return self.comm.stopping_all_on_error()

    def shard(self, rows: slice) -> slice:
        """This rank's contiguous part of the global batch ``rows``."""
        start, stop = rows.start, rows.stop
        bounds = [start + (stop - start) * rank // self.comm.size for rank in range(self.comm.size + 1)]
        return slice(bounds[self.comm.rank], bounds[self.comm.rank + 1])

    def agree(self, model: Any, X: Any, y: Any, validation_data: Any, settings: dict[str, Any]) -> None:
        """Stops every rank, naming the differences, unless all ranks are about to train the same
        run: a difference would pair different collectives across ranks (a hang) or train nonsense."""
        mine = run_description(model, X, y, validation_data, settings)
        everyone = [json.loads(text) for text in self.comm.allgather_text(json.dumps(mine))]
        differences = [
            f"rank {rank}'s {key} is {theirs.get(key)} where rank 0's is {everyone[0][key]}"
            for rank, theirs in enumerate(everyone[1:], start=1)
            for key in everyone[0]
            if theirs.get(key) != everyone[0][key]
        ]
        if differences:
            raise ValueError(
                f"the ranks must train the same run, but {'; '.join(differences[:6])}; give every rank the "
                "same model, data shapes and train arguments (the ranks shard each global batch among themselves)"
            )

    def check_batches(self, batches: list[slice]) -> None:
        """Refuses batches that would leave a rank without data (``agree`` has compared the rest)."""
        smallest = min(rows.stop - rows.start for rows in batches)
        if smallest < self.comm.size:
            raise ValueError(
                f"a global batch of {smallest} samples cannot be shared by {self.comm.size} ranks; "
                f"use a batch_size of at least {self.comm.size} (and enough samples)"
            )

    def shuffled_order(self, samples: int) -> np.ndarray:
        """Rank 0's permutation of the samples, on every rank."""
        order = np.random.permutation(samples) if self.is_root else np.empty(samples, dtype=np.int64)
        return self.comm.broadcast_host(order.astype(np.int64))

    def _flat(self, arrays: list[Any]) -> Any:
        xp = self.comm.backend.xp
        return xp.concat([xp.reshape(array, (-1,)) for array in arrays])

    def _unflat(self, flat: Any, like: list[Any]) -> list[Any]:
        xp, pieces, start = self.comm.backend.xp, [], 0
        for array in like:
            size = int(np.prod(array.shape))
            pieces.append(xp.reshape(flat[start : start + size], tuple(array.shape)))
            start += size
        return pieces

    def broadcast_parameters(self, update: Any) -> None:
        """Gives every rank rank 0's parameters, written into this rank's arrays (so that flat
        buffers and the layers' views of them stay what they are): all ranks start equal."""
        arrays = update.parameters()
        for array, shared in zip(arrays, self._unflat(self.comm.broadcast(self._flat(arrays)), arrays)):
            array[...] = shared

    def average_gradients(self, update: Any, local_samples: int, global_samples: int) -> None:
        """Makes ``update``'s gradients those of the global batch (one all-reduce): a flat update's
        one buffer in place, a per-layer update's arrays through one concatenated buffer."""
        gradients = update.gradients()
        share = local_samples / global_samples
        if update.flat:
            (flat,) = gradients
            flat *= share
            update.set_gradients([self.comm.allreduce_sum(flat)])
            return
        summed = self.comm.allreduce_sum(self._flat(gradients) * share)
        update.set_gradients(self._unflat(summed, gradients))

    def sums(self, numbers: list[Any]) -> list[float]:
        """Sums a few numbers over the ranks (for the printed and recorded loss and accuracy)."""
        host = np.asarray([float(number) for number in numbers], dtype=np.float64)
        totals = self.comm.allreduce_sum(self.comm.backend.asarray(host))
        return [float(value) for value in self.comm.backend.to_numpy(totals)]


def strategy_for(distributed: Any, backend: Backend) -> LocalSteps:
    """``Model.train``'s step strategy for its ``distributed`` argument: one process (False), the
    ranks of this MPI launch (True), or those of a given ``Communicator``."""
    if not isinstance(distributed, Communicator):
        checks.flag(distributed, "distributed", owner="train")
    if not distributed:
        return LOCAL
    return DataParallel(distributed if isinstance(distributed, Communicator) else communicator(backend))
