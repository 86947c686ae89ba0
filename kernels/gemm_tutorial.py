"""TVM's tutorial "How to optimize GEMM on CPU", step by step, as schedules of this workbench.

Each step returns (schedule, [A, B, C]); they are what the tutorial writes, with its names (bn=32
blocking, k split by 4, the packed B of shape [N / bn, K, bn], the `local` write cache computed at
the tile's column loop and vectorized on its own column axis). Used by tests/schedule (every step
builds and matches numpy) and benchmarks/gemm_tutorial.py (speed against numpy).
"""
from __future__ import annotations

import workbench as wb
from workbench import te

STEPS = ("blocking", "vectorization", "loop_permutation", "array_packing", "write_cache", "parallel")


def _plain(M, N, K):
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * B[k, n], axis=k), name="C")
    return A, B, C, k, None


def _packed(M, N, K, bn):
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    packedB = te.compute((N // bn, K, bn), lambda x, y, z: B[y, x * bn + z], name="packedB")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * packedB[n // bn, k, n % bn], axis=k), name="C")
    return A, B, C, k, packedB


def schedule(step: str, M: int = 1024, N: int = 1024, K: int = 1024, bn: int = 32, kfactor: int = 4):
    """The tutorial's schedule after `step` (one of STEPS)."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    if N % bn:
        raise ValueError(f"N={N} must be a multiple of bn={bn}")
    packing = STEPS.index(step) >= STEPS.index("array_packing")
    A, B, C, k, packedB = _packed(M, N, K, bn) if packing else _plain(M, N, K)
    s = wb.create_schedule(C)
    if step in ("write_cache", "parallel"):
        CC = s.cache_write(C, "local")
        mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
        s[CC].compute_at(s[C], no)
        mc, nc = s[CC].op.axis
        ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
        s[CC].reorder(ko, mc, ki, nc)
        s[CC].unroll(ki)
        s[CC].vectorize(nc)     # CC's own column axis: N long as declared, bn after compute_at
        if step == "parallel":
            s[C].parallel(mo)
    else:
        mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
        ko, ki = s[C].split(k, factor=kfactor)
        if step == "blocking" or step == "vectorization":
            s[C].reorder(mo, no, ko, ki, mi, ni)
        else:
            s[C].reorder(mo, no, ko, mi, ki, ni)
        if step != "blocking":
            s[C].vectorize(ni)
    if packedB is not None:
        x, y, z = s[packedB].op.axis
        s[packedB].vectorize(z)
        s[packedB].parallel(x)
    return s, [A, B, C]
