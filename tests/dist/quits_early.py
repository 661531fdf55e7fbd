"""Run under mpiexec beside ``nnfs-gpu train --distributed`` by tests/test_distributed.py: a rank
that joins the first collective (the ranks' first comparison) and then quits without an error, so
that the other rank's next collective times out."""

import numpy as np
from mpi4py import MPI

extremes = np.zeros(2, dtype=np.int64)
MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, extremes, op=MPI.MAX)
