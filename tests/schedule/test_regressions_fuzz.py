"""Regressions from the independent fuzz campaign (issue 6, item 1.12) in schedule/te."""
import numpy as np

import workbench as wb
from workbench import te

from .helpers import schedule_error


def elementwise(M=256, N=257):
    A = te.placeholder((M, N), name="A")
    C = te.compute((M, N), lambda i, j: A[i, j] * 2.0, name="C")
    return A, C


def check(s, A, C):
    a = np.random.rand(*A.shape).astype("float32")
    c = np.zeros(C.shape, "float32")
    wb.build(s, [A, C])(a, c)
    np.testing.assert_allclose(c, a * 2)


def test_vectorize_then_fuse_is_refused_not_an_abort():
    A, C = elementwise()
    s = wb.create_schedule(C)
    i, j = C.op.axis
    # 256 lanes are accepted on i, but the fused axis would have 65,792
    s[C].vectorize(i)
    schedule_error(lambda: s[C].fuse(i, j), r"^fuse\(axes\[0\]=i\) on stage 'C'", "already vectorized",
                   "fuse first, then mark the fused axis")
    assert len(s.trace) == 1
    s2 = wb.create_schedule(C)
    s2[C].unroll(j)
    schedule_error(lambda: s2[C].fuse(i, j), r"fuse\(axes\[1\]=j\)", "already unrolled")


def test_parallel_outer_survives_fuse():
    A, C = elementwise(64, 33)
    s = wb.create_schedule(C)
    i, j = C.op.axis
    s[C].parallel(i)
    f = s[C].fuse(i, j)
    assert s[C].kinds[f] == "parallel"
    check(s, A, C)
    s2 = wb.create_schedule(C)
    s2[C].parallel(j)
    schedule_error(lambda: s2[C].fuse(i, j), "already parallel")


def test_fuse_then_vectorize_split_is_fine():
    A, C = elementwise(16, 33)
    s = wb.create_schedule(C)
    f = s[C].fuse(*C.op.axis)
    fo, fi = s[C].split(f, factor=16)
    s[C].vectorize(fi)
    check(s, A, C)


def test_cache_read_after_compute_at_is_rejected_at_the_call():
    A = te.placeholder((64,), name="A")
    B = te.compute((64,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((64,), lambda i: B[i] * 2.0, name="C")
    s = wb.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], factor=8)
    s[B].compute_at(s[C], io)
    e = schedule_error(lambda: s.cache_read(B, "local", [C]), r"^cache_read\(readers=\[C\]\)",
                       "computed at C.i.outer", "before compute_at")
    assert e.primitive == "cache_read"
    # in the other order it is legal and computes what numpy does
    s = wb.create_schedule(C)
    BL = s.cache_read(B, "local", [C])
    io, ii = s[C].split(C.op.axis[0], factor=8)
    s[BL].compute_at(s[C], io)
    s[B].compute_at(s[BL], s[BL].op.axis[0])
    a = np.random.rand(64).astype("float32")
    c = np.zeros(64, "float32")
    wb.build(s, [A, C])(a, c)
    np.testing.assert_allclose(c, (a + 1) * 2)
