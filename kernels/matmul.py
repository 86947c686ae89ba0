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


def cpu_template(cfg, M: int, N: int, K: int, dtype: str = "float32"):
    """AutoTVM-style CPU tuning template (TVM's x86 dense_pack recipe). Knobs:

    - tile_y [-1, rows]: rows of the register block (divisors of M up to 16);
    - tile_x [-1, vecs, lanes]: the block's columns, vecs x lanes (lanes vectorized); with pack_b
      this is also the width of B's packed column panels (at most 256);
    - tile_k [-1, kb]: the reduction unrolled by kb inside the block (1: not split);
    - pack_b 0/1: pack B into (N/panel, K, panel) panels so the block's loads are contiguous;
    - unroll_block 0/1: unroll the block's rows and vector columns (accumulators in registers).

    tile_y=[-1, 4], tile_x=[-1, 4, 16], tile_k=[-1, 1], pack_b=1, unroll_block=1 is exactly
    cpu_schedules.matmul_blocked (the near-peak hand schedule). Returns (schedule, [A, B, C])."""
    import workbench as wb

    cfg.define_split("tile_y", M, num_outputs=2, max_factor=16)
    cfg.define_split("tile_x", N, num_outputs=3, max_factor=64,
                     filter=lambda e: e.size[1] * e.size[2] <= 256)
    cfg.define_split("tile_k", K, num_outputs=2, max_factor=16)
    cfg.define_knob("pack_b", [1, 0])
    cfg.define_knob("unroll_block", [1, 0])
    cfg.add_flop(flops(M, N, K))
    rows = cfg["tile_y"].size[1]
    _, vecs, lanes = cfg["tile_x"].size
    panel, kb = vecs * lanes, cfg["tile_k"].size[1]
    pack = cfg["pack_b"].val
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    k = te.reduce_axis((0, K), name="k")
    if pack:
        packed = te.compute((N // panel, K, panel), lambda x, y, z: B[y, x * panel + z], name="packedB")
        C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * packed[j // panel, k, j % panel], axis=k),
                       name="C")
    else:
        C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = wb.create_schedule(C)
    CL = s.cache_write(C, "local")
    i, j = C.op.axis
    jo, ji = s[C].split(j, factor=panel)
    io, ii = s[C].split(i, factor=rows)
    s[C].reorder(jo, io, ii, ji)
    s[C].vectorize(ji)
    s[C].parallel(jo)
    s[CL].compute_at(s[C], io)
    ic, jc = s[CL].op.axis
    (kc,) = s[CL].op.reduce_axis
    jco, jci = s[CL].split(jc, factor=lanes)
    if kb > 1:
        kco, kci = s[CL].split(kc, factor=kb)
        s[CL].reorder(kco, kci, ic, jco, jci)
        s[CL].unroll(kci)
    else:
        s[CL].reorder(kc, ic, jco, jci)
    if cfg["unroll_block"].val:
        s[CL].unroll(ic)
        s[CL].unroll(jco)
    s[CL].vectorize(jci)
    if pack:
        x, _, z = packed.op.axis
        s[packed].vectorize(z)
        s[packed].parallel(x)
    return s, [A, B, C]


def _template_reference(inputs, M, N, K, dtype="float32"):
    return [reference(*inputs)]


cpu_template.reference = _template_reference     # tuning checks candidates against numpy (fast)
