"""Run under mpiexec by tests/test_distributed.py (the numpy backend over MPI), or under torchrun by
tests/test_torch_distributed.py (with RANKS_ENGINE=torch: the torch backend over torch.distributed's
gloo): distributed training on fixed data.

Usage: train_ranks.py OUT_DIR MODE [TIMEOUT]
MODE: 'train' (train, save parameters per rank and the model on rank 0 only), 'train-scale-shift'
(the same with tests/custom_layer.py's layer in the model), 'fail' (rank 1
raises during training), 'hang' (rank 1 never joins the collectives), 'mismatch' (rank 1 trains
with another batch size, epoch count and hidden width), 'fail-before-train' (rank 1 raises after
MPI has started, before train).
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

import nnfs_gpu
from nnfs_gpu.distributed import Communicator
from spec import build_model, training_data

out, mode = Path(sys.argv[1]), sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else None
if os.environ.get("RANKS_ENGINE") == "torch":
    from nnfs_gpu.torch_distributed import TorchCommunicator

    comm = TorchCommunicator(nnfs_gpu.set_backend("torch", device="cpu"), timeout=timeout)
else:
    comm = Communicator(nnfs_gpu.set_backend("numpy"), timeout=timeout)
np.random.seed(100 + comm.rank)  # ranks start different; rank 0's weights must win
odd_one = comm.rank == 1
model = build_model(hidden=16 if mode == "mismatch" and odd_one else 32, scale_shift=mode == "train-scale-shift")
X, y, X_val, y_val = training_data()
settings = {"epochs": 3, "batch_size": 64}

if mode == "fail" and odd_one:
    original = model.layers[0].forward

    def failing_forward(inputs, training=False):
        if model.optimizer.iterations == 3:
            raise RuntimeError("simulated failure on rank 1")
        original(inputs, training)

    model.layers[0].forward = failing_forward
if mode == "hang" and odd_one:
    time.sleep(600)
if mode == "mismatch" and odd_one:
    settings = {"epochs": 4, "batch_size": 32}
if mode == "fail-before-train" and odd_one:
    raise RuntimeError("rank 1 cannot read its data")

history = model.train(X, y, shuffle=True, print_every=2, validation_data=(X_val, y_val), distributed=comm, **settings)
np.savez(out / f"rank{comm.rank}.npz", *[nnfs_gpu.to_numpy(array) for arrays in model.get_parameters() for array in arrays],
         loss=np.array(history["loss"]), accuracy=np.array(history["accuracy"]))
model.save(out / f"model-from-rank{comm.rank}.model")
