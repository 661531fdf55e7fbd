"""Chapter 17's classes: those of ``nnfs_gpu.book``, except that ``Layer_Dense`` starts its weights at
``0.1 * np.random.randn(n_inputs, n_neurons)``, as chapter 17 alone does (the regression network
learns the sine wave from that start; from 0.01 it stalls far from it).

    from nnfs_gpu.book.ch17 import *
"""

from __future__ import annotations

from ..layers import Dense
from . import *  # noqa: F401,F403  (the final chapters' names, and np)
from . import __all__  # noqa: F401  (the same names, so ``import *`` gives them all)


class Layer_Dense(Dense):
    """``Dense`` starting from chapter 17's ``weight_scale`` of 0.1."""

    weight_scale = 0.1
