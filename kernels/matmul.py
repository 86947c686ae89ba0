"""matmul: C[i, j] = sum_k A[i, k] * B[k, j] with A (M, K) and B (K, N).

Stages: the placeholders "A", "B" and the reduction "C"."""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import out_dtype_of


def compute(A: te.Tensor, B: te.Tensor, out_dtype: str | None = None, name: str = "C") -> te.Tensor:
    """The (M, N) product of A (M, K) and B (K, N); inputs are cast to out_dtype (default: A's)
    before multiplying, so int8 inputs can accumulate in int32."""
    (M, K), (K2, N) = A.shape, B.shape
    if K != K2:
        raise ValueError(f"matmul: inner dimensions differ: A is {A.shape}, B is {B.shape}")
    out_dtype = out_dtype_of(A.dtype, out_dtype)
    k = te.reduce_axis((0, K), name="k")
    return te.compute((M, N), lambda i, j: te.sum(A[i, k].astype(out_dtype) * B[k, j].astype(out_dtype),
                                                  axis=k), name=name)


def make(M: int, N: int, K: int, dtype: str = "float32", out_dtype: str | None = None):
    """Placeholders A (M, K), B (K, N) and the output C: returns ([A, B], C)."""
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    return [A, B], compute(A, B, out_dtype)


def reference(a: np.ndarray, b: np.ndarray, out_dtype: str | None = None) -> np.ndarray:
    """Just `a @ b` (BLAS sgemm for float32, the numpy baseline benchmarks compare against);
    integer inputs are first widened to out_dtype."""
    out_dtype = np.dtype(out_dtype or a.dtype)
    if a.dtype != out_dtype or b.dtype != out_dtype:
        a, b = a.astype(out_dtype), b.astype(out_dtype)
    return a @ b


def flops(M: int, N: int, K: int, **_) -> int:
    return 2 * M * N * K
