"""batch_matmul: C[b, i, j] = sum_k A[b, i, k] * B[b, k, j] with A (batch, M, K), B (batch, K, N).

(TVM topi's batch_matmul defaults to B transposed, (batch, N, K); here B is (batch, K, N) like
numpy's `a @ b`.) Stages: "A", "B" and the reduction "batch_matmul"."""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import acc_dtype, out_dtype_of


def compute(A: te.Tensor, B: te.Tensor, out_dtype: str | None = None,
            name: str = "batch_matmul") -> te.Tensor:
    (bA, M, K), (bB, K2, N) = A.shape, B.shape
    if bA != bB or K != K2:
        raise ValueError(f"batch_matmul: shapes do not match: A is {A.shape}, B is {B.shape}")
    out_dtype = out_dtype_of(A.dtype, out_dtype)
    k = te.reduce_axis((0, K), name="k")
    return te.compute((bA, M, N), lambda b, i, j: te.sum(
        A[b, i, k].astype(out_dtype) * B[b, k, j].astype(out_dtype), axis=k), name=name)


def make(batch: int, M: int, N: int, K: int, dtype: str = "float32", out_dtype: str | None = None):
    A = te.placeholder((batch, M, K), dtype, name="A")
    B = te.placeholder((batch, K, N), dtype, name="B")
    return [A, B], compute(A, B, out_dtype)


def reference(a: np.ndarray, b: np.ndarray, out_dtype: str | None = None) -> np.ndarray:
    acc = acc_dtype(a.dtype, b.dtype)
    return np.matmul(a.astype(acc), b.astype(acc)).astype(out_dtype or a.dtype)


def flops(batch: int, M: int, N: int, K: int, **_) -> int:
    return 2 * batch * M * N * K


def cpu_template(cfg, batch: int, M: int, N: int, K: int, dtype: str = "float32"):
    """CPU tuning template: `_tuning.tile_reduction` on C[b, i, j]. Knobs: tile_b, tile_i,
    tile_j ([-1, middle, inner] of each output axis; inner j is vectorized), tile_k ([-1, inner]),
    unroll_inner, parallel (the fused outer tiles), auto_unroll_max_step. -> (s, [A, B, C])."""
    import workbench as wb

    from ._tuning import tile_reduction
    (A, B), C = make(batch, M, N, K, dtype)
    cfg.add_flop(flops(batch, M, N, K))
    s = wb.create_schedule(C)
    tile_reduction(cfg, s, C)
    return s, [A, B, C]
