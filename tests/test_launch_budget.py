"""Device operations and host synchronisations per training step on the cupy backend, counted on
the recording stand-in (``tests/cupy_standin``, which says what it models).

``launch_workloads.STEP_COUNTS`` is the one table of budgets: today's measured counts. Issue 11's budget is lower
(``TARGETS``): W2 at most 20 launches, W1 at most 16, no synchronisation in any mode; it needs fused
ops (loss and accuracy reductions, a row softmax, bias + ReLU, labels prepared once). A change that
brings a count down lowers its entry here; the test fails on any other number, so a change that adds
a launch or a wait has to say so here too. On failure the message lists the step's operations.
"""

from __future__ import annotations

import collections

import pytest

import nnfs_gpu
from cupy_standin import Event, Window, recording_cupy
from launch_workloads import STEP_COUNTS, TARGETS
from launch_workloads import one_step as count_one_step

def one_step(workload: str, mode: str) -> Window:
    with recording_cupy() as recorder, nnfs_gpu.use_backend("cupy"):
        return Window(list(count_one_step(workload, mode, recorder.window).elements()))


@pytest.mark.parametrize("workload, mode", list(STEP_COUNTS))
def test_launches_and_syncs_per_step(workload, mode):
    step = one_step(workload, mode)
    measured = {"launches": step.launches, "syncs": step.syncs}
    assert measured == STEP_COUNTS[workload, mode], (
        f"{workload}, {mode}: {measured}, the table says {STEP_COUNTS[workload, mode]} (issue 11's target: "
        f"{TARGETS[workload]} launches, 0 syncs); one step:\n{step.table()}"
    )


def test_the_budget_table_is_above_the_targets_until_the_fused_ops_land():
    """Not a goal: a record of the gap, so that a change reaching a target is noticed here."""
    for (workload, _), counts in STEP_COUNTS.items():
        assert counts["launches"] > TARGETS[workload]


def test_a_step_counts_each_event_of_the_step_once():
    """The difference of two runs is one step: the Adam kernel once, the five GEMMs of the forward
    and backward passes (three forward, three weight gradients, two input gradients: the first layer needs none), and one H2D copy per run cancels."""
    step = one_step("W2", "quiet")
    whats = collections.Counter(event.what for event in step.events)
    assert whats["ElementwiseKernel nnfs_gpu_adam_update"] == 1
    assert whats["matmul (cuBLAS GEMM)"] == 3 + 3 + 2
    assert all(isinstance(event, Event) and event.kind != "copy" for event in step.events)
