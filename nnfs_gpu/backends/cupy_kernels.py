"""Fused CUDA kernels for the CuPy backend's hot ops, in one registry (``KERNELS``).

One kernel launch instead of a chain of elementwise operations, each with its own temporary: the
element-wise ones (bias + ReLU, ReLU's gradient, the softmax + cross-entropy gradient, the optimizer
updates) and the softmax (a thread per row, an ElementwiseKernel over the rows) as
ElementwiseKernels; a batch's summed cross-entropy and count of right answers, each with the
pass's running total, as single-block RawKernels. Kernels are built on first use and cached (CuPy
compiles them with NVRTC on their first call), so importing nnfs_gpu never touches the GPU. The
backend falls back to the generic code for dtypes and layouts a kernel does not take.

Every kernel is an entry of ``KERNELS``; the CPU-side checks read it, so a new entry is checked
without further work: ``tests/test_kernel_compile.py`` generates the source CuPy would compile for
each dtype, layout and indexing width and compiles it with NVRTC, and
``tests/test_kernel_semantics.py`` runs the code compiled for the host against the generic code
(it needs a case for the new kernel's op in ``tests/kernel_cases.py``, and says so).

An ``exact`` kernel promises the generic code's arithmetic, rounding for rounding: it is compiled
with ``--fmad=false``, because the assembler would otherwise contract every ``a * b + c`` into one
fused multiply-add (one rounding instead of two). A kernel that may differ says how in
``agreement`` (a tolerance kind of ``tests/support.py``) and why in ``differs``; those that take an
``exp`` or a ``log`` never run in book precision (``precision.py`` takes the generic code there).
"""

from __future__ import annotations

import functools
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, Mapping

FUSED_DTYPES = ("float32", "float64")
#: the label dtypes the losses accept for sparse class indices (NumPy kinds 'b', 'i', 'u')
LABEL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
#: the C type CuPy writes for each dtype (cupy/_core/_scalar.pyx)
C_TYPES = {
    "bool": "bool", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
    "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
    "uint64": "unsigned long long", "float32": "float", "float64": "double",
}
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
    """A ``cupy.RawKernel`` run as one block of ``threads`` threads: its CUDA source, with ``extern
    "C"`` function ``function_name``, is written over the type placeholders of ``type_dtypes`` and
    the constant ``THREADS``, which ``code_for`` defines (one compiled kernel per dtype combination).

    The host checks run a block's threads one after another between barriers, so a
    ``__syncthreads()`` stands at the top level of the body, ``__shared__`` arrays are declared at
    its start, and there is no ``return`` (``tests/host_kernels.py`` refuses other shapes)."""

    code: str
    threads: int = 256

    kind: ClassVar[str] = "raw"

    def code_for(self, dtypes: Mapping[str, str]) -> str:
        """The source compiled for ``dtypes`` (a dtype for each type placeholder)."""
        if set(dtypes) != set(self.type_dtypes) or any(
                dtype not in self.type_dtypes[name] for name, dtype in dtypes.items()):
            raise ValueError(f"kernel {self.name} takes {dict(self.type_dtypes)}, got {dict(dtypes)}")
        typedefs = "".join(f"typedef {C_TYPES[dtypes[name]]} {name};\n" for name in sorted(dtypes))
        return f"{typedefs}#define THREADS {self.threads}\n{self.code}"

    def build(self, **dtypes: str) -> Any:
        import cupy

        return cupy.RawKernel(self.code_for(dtypes), self.function_name, options=self.options)


_ADAM_BODY = (
    "momentums = beta_1 * momentums + one_minus_beta_1 * grad;"
    "cache = beta_2 * cache + one_minus_beta_2 * (grad * grad);"
    "param += (-learning_rate * (momentums / momentum_correction))"
    " / (sqrt(cache / cache_correction) + epsilon)"
)


def _row_softmax(add_biases: bool) -> str:
    """The body of a softmax over row ``i`` of ``z`` into ``outputs``, one thread per row: the
    generic code's operations (``biases`` added to ``z`` in place first when ``add_biases``), its
    maximum NaN-propagating as ``max``, its sum added left to right."""
    bias = "z[start + column] = z[start + column] + biases[column];" if add_biases else ""
    return (
        "const long long start = i * classes;"
        "T largest = 0;"
        "for (long long column = 0; column < classes; ++column) {"
        f"  {bias}"
        "  const T value = z[start + column];"
        "  largest = column == 0 || value > largest || value != value ? value : largest;"
        "}"
        "T total = 0;"
        "for (long long column = 0; column < classes; ++column) {"
        "  const T exponential = exp(z[start + column] - largest);"
        "  outputs[start + column] = exponential;"
        "  total += exponential;"
        "}"
        "for (long long column = 0; column < classes; ++column) {"
        "  outputs[start + column] = outputs[start + column] / total;"
        "}"
    )


_ROW_SOFTMAX_DIFFERS = (
    "CUDA's exp (within 2 ulp) and each row summed left to right, where the generic code sums in "
    "CUB's order on a GPU and NumPy's pairwise order on the CPU"
)

#: a single block's sum of one term per row: thread t adds rows t, t + THREADS, ... in order, then
#: thread 0 adds the threads' sums in order (a fixed order, so the same inputs give the same bits),
#: writes the batch's sum and adds it into the running total (``running``) or starts it
_BLOCK_SUM = """
extern "C" __global__ void nnfs_gpu_{name}({parameters}, const long long rows, const long long classes,
                                          const bool running, {sum_type} *batch, {sum_type} *total) {{
    __shared__ {sum_type} partial[THREADS];
    {{
        {sum_type} sum = 0;
        for (long long row = threadIdx.x; row < rows; row += THREADS) {{
            {term}
        }}
        partial[threadIdx.x] = sum;
    }}
    __syncthreads();
    if (threadIdx.x == 0) {{
        {sum_type} sum = 0;
        for (int thread = 0; thread < THREADS; ++thread) {{
            sum += partial[thread];
        }}
        batch[0] = sum;
        total[0] = running ? total[0] + sum : sum;
    }}
}}
"""

#: ``-log`` of each row's probability at its label, clipped to [low, high] as ``Backend.clip``
#: clips (NaN stays NaN); a label outside [0, classes) gives NaN, where CuPy's indexing would
#: silently wrap it, so that the run stops at its next check instead of reading past the row
_CROSSENTROPY_TERM = """const long long label = (long long)labels[row];
            T value = label >= 0 && label < classes ? probabilities[row * classes + label] : (T)nan("");
            value = value > low || value != value ? value : low;
            value = value < high || value != value ? value : high;
            sum += -log(value);"""

#: 1 where the row's first largest output (its first NaN, as ``argmax``) is at the row's label
_ARGMAX_MATCH_TERM = """const T *values = outputs + row * classes;
            long long best = 0;
            for (long long column = 1; column < classes && values[best] == values[best]; ++column) {
                if (values[column] > values[best] || values[column] != values[column]) {
                    best = column;
                }
            }
            sum += best == (long long)labels[row] ? 1 : 0;"""


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
        ElementwiseSource("bias_relu", "T biases", "T z, T outputs",
                          "z = z + biases; outputs = z > (T)0 || z != z ? z : (T)0"),
        ElementwiseSource("softmax", "raw T z, int64 classes", "raw T outputs", _row_softmax(False),
                          agreement="reduction", differs=_ROW_SOFTMAX_DIFFERS, scalars=("classes",),
                          raw_ndim={"z": 2, "outputs": 2}),
        ElementwiseSource("bias_softmax", "raw T biases, int64 classes", "raw T z, raw T outputs",
                          _row_softmax(True), agreement="reduction", differs=_ROW_SOFTMAX_DIFFERS,
                          scalars=("classes",), raw_ndim={"biases": 2, "z": 2, "outputs": 2}),
        RawSource(
            "crossentropy_sum",
            code=_BLOCK_SUM.format(name="crossentropy_sum", sum_type="T", term=_CROSSENTROPY_TERM,
                                   parameters="const T *probabilities, const L *labels, const T low, const T high"),
            agreement="reduction",
            differs="CUDA's log (within 1 ulp in float64, 2 in float32); the batch summed in the block's "
                    "fixed order, where the generic code sums in CUB's order on a GPU, NumPy's on the CPU",
            type_dtypes={"T": FUSED_DTYPES, "L": LABEL_DTYPES},
        ),
        RawSource(
            "argmax_matches",
            code=_BLOCK_SUM.format(name="argmax_matches", sum_type="long long", term=_ARGMAX_MATCH_TERM,
                                   parameters="const T *outputs, const L *labels"),
            type_dtypes={"T": FUSED_DTYPES, "L": LABEL_DTYPES},
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
def kernel(name: str, **dtypes: str) -> Any:
    """The CuPy kernel called ``name`` (for a RawKernel: compiled for ``dtypes``), built once."""
    return KERNELS[name].build(**dtypes)
