"""Fused CUDA kernels for the CuPy backend's hot ops, in one registry (``KERNELS``).

One kernel launch instead of a chain of elementwise operations, each with its own temporary.
Kernels are built on first use and cached (CuPy compiles them with NVRTC on their first call), so
importing nnfs_gpu never touches the GPU. The backend falls back to the generic code for dtypes a
kernel does not take.

Every kernel is an entry of ``KERNELS``; the CPU-side checks read it, so a new entry is checked
without further work: ``tests/test_kernel_compile.py`` generates the source CuPy would compile for
each dtype, layout and indexing width and compiles it with NVRTC, and
``tests/test_kernel_semantics.py`` runs the body compiled for the host against the generic code
(it needs a case for the new kernel's op in ``tests/kernel_cases.py``, and says so).

An ``exact`` kernel promises the generic code's arithmetic, rounding for rounding: it is compiled
with ``--fmad=false``, because the assembler would otherwise contract every ``a * b + c`` into one
fused multiply-add (one rounding instead of two). A kernel that may differ says how in
``agreement`` (a tolerance kind of ``tests/support.py``) and why in ``differs``.
"""

from __future__ import annotations

import functools
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, Mapping

FUSED_DTYPES = ("float32", "float64")
#: the label dtypes the losses accept for sparse class indices (NumPy kinds 'b', 'i', 'u')
LABEL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
#: what a kernel promises about its results against the generic code
AGREEMENTS = ("exact", "transcendental", "reduction")


@dataclass(frozen=True)
class KernelSource:
    """What every kind of kernel declares: its name and promise, and how the backend calls it.

    CuPy generates code at each call from the arguments, so the entry says how the backend calls
    it and the checks generate exactly that code: ``scalars`` names the parameters passed as
    scalars, ``type_dtypes`` the dtypes each type placeholder takes (``T`` the float dtypes, ``L``
    the label dtypes).
    """

    name: str
    _: KW_ONLY
    agreement: str = "exact"
    differs: str = ""
    scalars: tuple[str, ...] = ()
    type_dtypes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"T": FUSED_DTYPES})

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if self.agreement not in AGREEMENTS:
            raise ValueError(f"kernel {self.name}: agreement must be one of {AGREEMENTS}, got {self.agreement!r}")
        if (self.agreement == "exact") == bool(self.differs):
            raise ValueError(f"kernel {self.name}: a kernel says why it differs exactly when it is not exact")

    @property
    def options(self) -> tuple[str, ...]:
        """NVRTC options: an exact kernel keeps every multiply and add separately rounded."""
        return ("--fmad=false",) if self.agreement == "exact" else ()

    @property
    def function_name(self) -> str:
        return f"nnfs_gpu_{self.name}"


@dataclass(frozen=True)
class ElementwiseSource(KernelSource):
    """A ``cupy.ElementwiseKernel``; ``raw_ndim`` gives each ``raw`` array's number of dimensions."""

    in_params: str
    out_params: str
    body: str
    raw_ndim: Mapping[str, int] = field(default_factory=dict)

    kind: ClassVar[str] = "elementwise"

    def build(self) -> Any:
        import cupy

        return cupy.ElementwiseKernel(
            self.in_params, self.out_params, self.body, self.function_name, options=self.options
        )


@dataclass(frozen=True)
class ReductionSource(KernelSource):
    """A ``cupy.ReductionKernel``. ``layouts`` lists the (input dimensions, output dimensions, input
    contiguous) that CuPy's reduction makes of the backend's calls, after it moves the reduced axes
    last and folds contiguous ones: (1, 0, True) for a whole contiguous array, (2, 1, False) for the
    rows of a matrix. (Over 128 or more contiguous items of one input CuPy runs CUB's block reduction
    instead, from a source it generates only on a device: the checks cover the kernel above.)"""

    in_params: str
    out_params: str
    map_expr: str
    reduce_expr: str
    post_map_expr: str
    identity: str
    reduce_type: str | None = None
    layouts: tuple[tuple[int, int, bool], ...] = ((1, 0, True), (2, 1, False))

    kind: ClassVar[str] = "reduction"

    def build(self) -> Any:
        import cupy

        return cupy.ReductionKernel(
            self.in_params, self.out_params, self.map_expr, self.reduce_expr, self.post_map_expr, self.identity,
            self.function_name, reduce_type=self.reduce_type, options=self.options,
        )


@dataclass(frozen=True)
class RawSource(KernelSource):
    """A ``cupy.RawKernel``: its CUDA source as it is, with ``extern "C"`` function ``function_name``."""

    code: str

    kind: ClassVar[str] = "raw"

    def build(self) -> Any:
        import cupy

        return cupy.RawKernel(self.code, self.function_name, options=self.options)


_ADAM_BODY = (
    "momentums = beta_1 * momentums + one_minus_beta_1 * grad;"
    "cache = beta_2 * cache + one_minus_beta_2 * (grad * grad);"
    "param += (-learning_rate * (momentums / momentum_correction))"
    " / (sqrt(cache / cache_correction) + epsilon)"
)

KERNELS: dict[str, KernelSource] = {
    source.name: source
    for source in (
        ElementwiseSource("relu_backward", "T dvalues, T inputs", "T dinputs",
                          "dinputs = inputs > 0 ? dvalues : (T)0"),
        ElementwiseSource(
            "softmax_cce_backward",
            "raw T probabilities, raw L labels, int64 classes, T samples", "T dinputs",
            "const long long row = i / classes;"
            "dinputs = (probabilities[i] - (i - row * classes == labels[row] ? (T)1 : (T)0)) / samples",
            scalars=("classes", "samples"),
            type_dtypes={"T": FUSED_DTYPES, "L": LABEL_DTYPES},
            raw_ndim={"probabilities": 2, "labels": 1},
        ),
        ElementwiseSource("sgd_update", "T grad, T learning_rate", "T param",
                          "param -= learning_rate * grad", scalars=("learning_rate",)),
        ElementwiseSource("momentum_update", "T grad, T learning_rate, T momentum",
                          "T param, T momentums",
                          "momentums = momentum * momentums - learning_rate * grad; param += momentums",
                          scalars=("learning_rate", "momentum")),
        ElementwiseSource("adagrad_update", "T grad, T learning_rate, T epsilon",
                          "T param, T cache",
                          "cache += grad * grad; param += (-learning_rate * grad) / (sqrt(cache) + epsilon)",
                          scalars=("learning_rate", "epsilon")),
        ElementwiseSource(
            "rmsprop_update", "T grad, T learning_rate, T rho, T one_minus_rho, T epsilon",
            "T param, T cache",
            "cache = rho * cache + one_minus_rho * (grad * grad);"
            "param += (-learning_rate * grad) / (sqrt(cache) + epsilon)",
            scalars=("learning_rate", "rho", "one_minus_rho", "epsilon"),
        ),
        ElementwiseSource(
            "adam_update",
            "T grad, T learning_rate, T beta_1, T one_minus_beta_1, T beta_2, T one_minus_beta_2, "
            "T epsilon, T momentum_correction, T cache_correction",
            "T param, T momentums, T cache",
            _ADAM_BODY,
            scalars=("learning_rate", "beta_1", "one_minus_beta_1", "beta_2", "one_minus_beta_2", "epsilon",
                     "momentum_correction", "cache_correction"),
        ),
    )
}


@functools.lru_cache(maxsize=None)
def kernel(name: str) -> Any:
    """The CuPy kernel called ``name``, built once."""
    return KERNELS[name].build()
