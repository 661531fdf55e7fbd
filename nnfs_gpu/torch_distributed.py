"""Data-parallel training on the torch backend, with ``torch.distributed`` as the engine: gloo on the
CPU, NCCL on CUDA (and gloo through host memory on other devices, MPS or XPU).

Launch with torchrun, ``torchrun --nproc-per-node N train.py``: it gives each process its rank
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and ends every rank when one fails, so
no rank waits for one that died; ``Model.train(..., distributed=True)`` on the torch backend then
joins the default process group (or makes it, when the program has not). Without torchrun's
variables the process is one rank on its own, as a program run without ``mpiexec`` is under MPI.

``DataParallel`` drives it exactly as the MPI communicator (``distributed.Communicator``): the same
rank checks (``agree``), and the same timeout on every collective (``collective_timeout``), watched
by the same watchdog; gloo's own timeout, given when the group is made, is a later backstop.
"""

from __future__ import annotations

import atexit
import datetime
import math
import os
import sys
from typing import Any

import numpy as np

from .backends import Backend
from .backends.torch_backend import event_after_queued_work
from .distributed import Communicator, DistributedError, collective_timeout
from .watchdog import Watchdog

#: what torchrun sets in each process; without them the process is one rank alone
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
#: gloo's own timeout comes this much after the watchdog's, so the watchdog's message is the one seen
BACKSTOP_S = 60.0
#: gloo's timeout when collectives may wait forever (``timeout=math.inf``)
FOREVER = datetime.timedelta(days=3650)


class _Request:
    """A torch.distributed ``Work`` as an MPI request (``Wait``), so the MPI communicator's timed
    wait serves both."""

    def __init__(self, work: Any) -> None:
        self.Wait = work.wait


def _torch_distributed() -> Any:
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed; install a standard torch wheel")
    return dist


class TorchCommunicator(Communicator):
    """Collectives of the torch backend's tensors through torch.distributed (see the module's notes)."""

    def __init__(self, backend: Backend, timeout: float | None = None) -> None:
        import torch

        self.timeout = collective_timeout(timeout)
        self.torch, self.dist, self.backend = torch, _torch_distributed(), backend
        if not self.dist.is_initialized():
            self._make_group()
        self.rank, self.size = self.dist.get_rank(), self.dist.get_world_size()
        self.on_nccl = self.dist.get_backend() == "nccl"
        #: host data (the ranks' checks, shuffles, parameters at the start) always goes through gloo
        self.host_group = self.dist.new_group(backend="gloo") if self.on_nccl else None
        self.watchdog = Watchdog(self._timed_out, prepare=self._prepare_watchdog_thread)

    def _make_group(self) -> None:
        engine = "nccl" if self.backend.device.type == "cuda" else "gloo"
        limit = FOREVER if math.isinf(self.timeout) else datetime.timedelta(seconds=self.timeout + BACKSTOP_S)
        if all(name in os.environ for name in LAUNCHER_VARS):
            self.dist.init_process_group(engine, timeout=limit)
        else:
            self.dist.init_process_group(engine, store=self.dist.HashStore(), rank=0, world_size=1, timeout=limit)
        atexit.register(self._leave_group)

    def _leave_group(self) -> None:
        """Ends the group this communicator made (unless the program did): left to the interpreter's
        exit, gloo's threads may abort the process after its work is done."""
        if self.dist.is_initialized():
            self.dist.destroy_process_group()

    def _prepare_watchdog_thread(self) -> None:
        """The thread polls this rank's CUDA events, so it works on this rank's GPU."""
        if self.on_nccl:
            self.torch.cuda.set_device(self.backend.device)

    def allreduce_sum(self, buffer: Any) -> Any:
        """The element-wise sum of ``buffer`` over all ranks: on the GPU with NCCL (the host does not
        wait; the watchdog polls an event), else in host memory with gloo."""
        device = buffer.device
        if self.on_nccl:
            buffer = buffer.contiguous()
            self.dist.all_reduce(buffer, async_op=True).wait()  # the stream waits, not the host
            if math.isfinite(self.timeout):  # on this rank's device's stream, whichever device is current
                event = event_after_queued_work(self.torch, self.backend.device)
                self.watchdog.queued("an NCCL all-reduce", self.timeout, event.query)
            return buffer
        host = buffer.contiguous() if device.type == "cpu" else buffer.cpu()
        self._wait(_Request(self.dist.all_reduce(host, async_op=True)), "an all-reduce")
        return host.to(device)

    def broadcast_host(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        array = np.require(array, requirements=["C", "W"])
        work = self.dist.broadcast(self.torch.from_numpy(array), src=root, group=self.host_group, async_op=True)
        self._wait(_Request(work), "a broadcast")
        return array

    def host_max(self, value: int) -> int:
        largest = self.torch.tensor([value], dtype=self.torch.int64)
        work = self.dist.all_reduce(largest, op=self.dist.ReduceOp.MAX, group=self.host_group, async_op=True)
        self._wait(_Request(work), "an all-reduce")
        return int(largest[0])

    def _allgather_rows(self, mine: np.ndarray) -> np.ndarray:
        rows = [self.torch.empty(mine.size, dtype=self.torch.uint8) for _ in range(self.size)]
        work = self.dist.all_gather(rows, self.torch.from_numpy(mine.copy()), group=self.host_group, async_op=True)
        self._wait(_Request(work), "an all-gather")
        return np.stack([row.numpy() for row in rows])

    def _stop_every_rank(self, code: int) -> None:
        """Ends this process at once, as MPI_Abort would: not through the interpreter's exit, which
        ends the process group and may wait there for collectives still queued (NCCL). torchrun,
        seeing a rank fail, ends the others."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
