"""Run under mpiexec by tests/test_distributed.py: rank 1 fails before MPI has started (before it
would reach train), while rank 0 goes on to train with distributed=True and so starts MPI."""

import os
import sys
from pathlib import Path

import nnfs_gpu
from nnfs_gpu.launch import launched_rank
from spec import build_model, training_data

if launched_rank()[0] == 1:
    raise FileNotFoundError("rank 1 cannot find its data file")
nnfs_gpu.set_backend("numpy")
model = build_model()
X, y, _, _ = training_data()
model.train(X, y, epochs=2, batch_size=64, verbose=False, distributed=True)
Path(sys.argv[1], f"trained-{os.getpid()}").write_text("rank 0 trained alone")
