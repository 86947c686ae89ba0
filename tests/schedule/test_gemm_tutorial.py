"""TVM's "How to optimize GEMM on CPU" tutorial, step by step: every schedule builds and matches
numpy. Extents checks use the extents bound inference gives (CC's column loop is 32 long after
compute_at, not 1024)."""
import pytest

import workbench as wb
from workbench import te

from .helpers import run_matmul, schedule_error

M = N = K = 128
BN = 32
KF = 4


def gemm():
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * B[k, n], axis=k), name="C")
    return A, B, C, k


def blocking():
    A, B, C, k = gemm()
    s = wb.create_schedule(C)
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], BN, BN)
    ko, ki = s[C].split(k, factor=KF)
    s[C].reorder(mo, no, ko, ki, mi, ni)
    return s, (A, B, C)


def vectorization():
    s, (A, B, C) = blocking()
    s[C].vectorize(s[C].axis("n.inner"))
    return s, (A, B, C)


def loop_permutation():
    A, B, C, k = gemm()
    s = wb.create_schedule(C)
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], BN, BN)
    ko, ki = s[C].split(k, factor=KF)
    s[C].reorder(mo, no, ko, mi, ki, ni)
    s[C].vectorize(ni)
    return s, (A, B, C)


def packed():
    """Array packing: B re-laid out as [N / bn, K, bn] so the inner loop reads it contiguously."""
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    packedB = te.compute((N // BN, K, BN), lambda x, y, z: B[y, x * BN + z], name="packedB")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * packedB[n // BN, k, n % BN], axis=k), name="C")
    return A, B, C, k, packedB


def array_packing():
    A, B, C, k, packedB = packed()
    s = wb.create_schedule(C)
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], BN, BN)
    ko, ki = s[C].split(k, factor=KF)
    s[C].reorder(mo, no, ko, mi, ki, ni)
    s[C].vectorize(ni)
    x, y, z = s[packedB].op.axis
    s[packedB].vectorize(z)
    s[packedB].parallel(x)
    return s, (A, B, C)


def write_cache(parallel=False):
    A, B, C, k, packedB = packed()
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "local")
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], BN, BN)
    s[CC].compute_at(s[C], no)
    mc, nc = s[CC].op.axis
    (kaxis,) = s[CC].op.reduce_axis
    ko, ki = s[CC].split(kaxis, factor=KF)
    s[CC].reorder(ko, mc, ki, nc)
    s[CC].unroll(ki)
    s[CC].vectorize(nc)          # CC's own column axis: N long as declared, BN after compute_at
    if parallel:
        s[C].parallel(mo)
    x, y, z = s[packedB].op.axis
    s[packedB].vectorize(z)
    s[packedB].parallel(x)
    return s, (A, B, C)


STEPS = {"blocking": blocking, "vectorization": vectorization, "loop_permutation": loop_permutation,
         "array_packing": array_packing, "write_cache": write_cache,
         "parallel": lambda: write_cache(parallel=True)}


@pytest.mark.parametrize("step", list(STEPS))
def test_tutorial_step_builds_and_matches_numpy(step):
    s, (A, B, C) = STEPS[step]()
    run_matmul(s, A, B, C)
    # the trace replays to the same loop nest
    s2 = wb.create_schedule(C if step not in ("array_packing", "write_cache", "parallel") else s.outputs)
    s.trace.replay(s2)
    assert str(wb.lower(s2, [A, B, C])) == str(wb.lower(s, [A, B, C]))


def test_write_cache_vectorizes_the_bound_extent():
    s, (A, B, C) = write_cache()
    text = str(wb.lower(s, [A, B, C]))
    assert f"ramp(" in text and f", 1, {BN})" in text


def test_too_long_vector_after_bound_inference_is_an_error_at_lowering():
    """Vectorizing CC's column loop with a 512-wide tile is accepted at the call (the extent is not
    known yet) and refused at lowering, naming primitive, stage and trace step."""
    big = 512
    A = te.placeholder((64, 64), name="A")
    B = te.placeholder((64, big), name="B")
    k = te.reduce_axis((0, 64), "k")
    C = te.compute((64, big), lambda m, n: te.sum(A[m, k] * B[k, n], axis=k), name="C")
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "local")
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], 8, big)
    s[CC].compute_at(s[C], no)
    s[CC].vectorize(s[CC].op.axis[1])
    schedule_error(lambda: wb.lower(s, [A, B, C]), r"^vectorize\(axis=n\) on stage 'C.local'",
                   "extent 512 \\(after bound inference\\)", r"trace step 3: s\['C.local'\].vectorize\('n'\)")
    # an output's extent is final, so there the check is at the call
    s2 = wb.create_schedule(C)
    schedule_error(lambda: s2[C].vectorize(C.op.axis[1]), r"vectorize\(axis=n\) on stage 'C'", "extent 512")
