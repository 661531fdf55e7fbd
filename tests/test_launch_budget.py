"""Device operations and host synchronisations per training step on the cupy backend, counted on
the recording stand-in (``tests/cupy_standin``, which says what it models).

``launch_workloads.STEP_COUNTS`` is the table of today's counts, by workload and by how progress is
shown (``launch_workloads`` says what a step counts); issue 11's budget (``TARGETS``): W2 at most 20
launches, W1 at most 16, no wait inside a step in any mode, no copy in a quiet step and one per
shown number in a shown one. Each count must equal its entry, so a change that adds a launch, a copy
or a wait, or saves one, says so there. On failure the message lists the step's operations.
"""

from __future__ import annotations

import collections

import pytest

import nnfs_gpu
from nnfs_gpu import Backend
from nnfs_gpu.backends.cupy_backend import CupyBackend
from cupy_standin import Event, Window, recording_cupy
from launch_workloads import IN_STEP, SHOWN_NUMBERS, STEP_COUNTS, TARGETS, step_counts
from launch_workloads import one_step as count_one_step


def one_step(workload: str, mode: str) -> Window:
    with recording_cupy() as recorder, nnfs_gpu.use_backend("cupy"):
        events = count_one_step(workload, mode, recorder.window, lambda: recorder.labelled(IN_STEP.rstrip(": ")))
        return Window(list(events.elements()))


def counts(step: Window) -> dict[str, int]:
    return step_counts([(event.kind, event.what) for event in step.events])


@pytest.mark.parametrize("workload, mode", list(STEP_COUNTS))
def test_launches_copies_and_syncs_per_step(workload, mode):
    step = one_step(workload, mode)
    measured = counts(step)
    assert measured == STEP_COUNTS[workload, mode], (
        f"{workload}, {mode}: {measured}, the table says {STEP_COUNTS[workload, mode]}; one step:\n{step.table()}"
    )


@pytest.mark.parametrize("workload, mode", list(STEP_COUNTS))
def test_the_table_meets_issue_11s_budget(workload, mode):
    counted = STEP_COUNTS[workload, mode]
    assert counted["launches"] <= TARGETS[workload]
    assert counted["syncs"] == 0
    assert counted["copies"] == (0 if mode == "quiet" else SHOWN_NUMBERS)


def test_a_step_counts_each_event_of_the_step_once():
    """The difference of two runs is one step: the Adam kernel once, the eight GEMMs of the forward
    and backward passes (three forward, three weight gradients, two input gradients: the first layer
    needs none), the fused forward kernels and one of each running total; one H2D copy per run cancels."""
    step = one_step("W2", "quiet")
    whats = collections.Counter(event.what.removeprefix(IN_STEP) for event in step.events)
    assert whats["ElementwiseKernel nnfs_gpu_adam_update"] == 1
    assert whats["matmul (cuBLAS GEMM)"] == 3 + 3 + 2
    assert whats["ElementwiseKernel nnfs_gpu_bias_relu"] == 2 and whats["ElementwiseKernel nnfs_gpu_bias_softmax"] == 1
    assert whats["RawKernel nnfs_gpu_crossentropy_sum"] == whats["RawKernel nnfs_gpu_argmax_matches"] == 1
    assert all(isinstance(event, Event) and event.kind != "copy" for event in step.events)


def test_a_step_that_waits_for_its_numbers_is_counted(monkeypatch):
    """Planted: the generic ``read_later``, which reads each shown number at once, waits inside the
    step once per number (and copies as many)."""
    monkeypatch.setattr(CupyBackend, "read_later", Backend.read_later)
    assert counts(one_step("W1", "book lines")) == {**STEP_COUNTS["W1", "book lines"], "syncs": SHOWN_NUMBERS}
