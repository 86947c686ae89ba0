"""TVM's "How to optimize GEMM on CPU" tutorial, step by step: every schedule builds and matches
numpy. Extents checks use the extents bound inference gives (CC's column loop is 32 long after
compute_at, not 1024)."""
import pytest

import workbench as wb
from workbench import te

from kernels import gemm_tutorial

from .helpers import run_matmul, schedule_error

M = N = K = 128
BN = 32


@pytest.mark.parametrize("step", gemm_tutorial.STEPS)
def test_tutorial_step_builds_and_matches_numpy(step):
    s, (A, B, C) = gemm_tutorial.schedule(step, M, N, K, BN)
    run_matmul(s, A, B, C)
    # the trace replays to the same loop nest
    s2 = wb.create_schedule(s.outputs)
    s.trace.replay(s2)
    assert str(wb.lower(s2, [A, B, C])) == str(wb.lower(s, [A, B, C]))


def test_write_cache_vectorizes_the_bound_extent():
    s, (A, B, C) = gemm_tutorial.schedule("write_cache", M, N, K, BN)
    text = wb.lower(s, [A, B, C]).after("final_simplify")      # flat: vectors print as ramps
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
