"""s.rfactor(tensor, axis, factor_axis=0) with TVM's semantics, checked against numpy."""
import numpy as np
import pytest

import workbench as wb
from workbench import te

from .helpers import matmul, run_matmul, schedule_error


def row_sum(M=8, K=100, combiner="sum"):
    A = te.placeholder((M, K), name="A")
    k = te.reduce_axis((0, K), "k")
    red = {"sum": te.sum, "max": te.max, "min": te.min}[combiner]
    C = te.compute((M,), lambda i: red(A[i, k], axis=k), name="C")
    return A, C


def check(s, A, C, fn):
    a = np.random.default_rng(3).standard_normal(A.shape).astype("float32")
    c = np.zeros(C.shape, "float32")
    wb.build(s, [A, C])(a, c)
    np.testing.assert_allclose(c, fn(a), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("K,factor", [(128, 16), (100, 16)])      # 100: a tail becomes CF's where
@pytest.mark.parametrize("on", ["inner", "outer"])
@pytest.mark.parametrize("factor_axis", [0, 1])
def test_rfactor_after_split(K, factor, on, factor_axis):
    A, C = row_sum(8, K)
    s = wb.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=factor)
    CF = s.rfactor(C, ki if on == "inner" else ko, factor_axis=factor_axis)
    fext = (ki if on == "inner" else ko).extent
    assert CF.shape == ((fext, 8) if factor_axis == 0 else (8, fext))
    assert s[C].op.reduce_axis[0].extent == fext and s[C].relations == []
    # the factored axis is a data axis now: it can be vectorized / parallelized
    fa = s[CF].op.axis[factor_axis]
    if on == "inner":
        s[CF].vectorize(fa)
    else:
        s[CF].parallel(fa)
    check(s, A, C, lambda a: a.sum(axis=1))
    s2 = wb.create_schedule(C)
    wb.Trace.from_json(s.trace.to_json()).replay(s2)
    assert str(wb.lower(s2, [A, C])) == str(wb.lower(s, [A, C]))
    assert "s.rfactor('C', " in s.trace.to_python()


def test_rfactor_unsplit_axis_and_max():
    A, C = row_sum(8, 50, "max")
    s = wb.create_schedule(C)
    CF = s.rfactor(C, C.op.reduce_axis[0])      # the only reduction loop: CF is elementwise
    assert not CF.op.reduce_axis
    s[CF].compute_at(s[C], C.op.axis[0])
    check(s, A, C, lambda a: a.max(axis=1))


def test_rfactor_matmul_with_two_reduce_roots_and_compute_at():
    N = 16
    X = te.placeholder((N, 6, 10), name="X")
    r1 = te.reduce_axis((0, 6), "r1")
    r2 = te.reduce_axis((0, 10), "r2")
    Y = te.compute((N,), lambda i: te.sum(X[i, r1, r2] * 2.0, axis=[r1, r2]), name="Y")
    s = wb.create_schedule(Y)
    r2o, r2i = s[Y].split(r2, factor=4)
    YF = s.rfactor(Y, r2i)
    assert [iv.name for iv in YF.op.reduce_axis] == ["r1", "r2.outer"]
    s[YF].compute_at(s[Y], Y.op.axis[0])
    x = np.random.rand(N, 6, 10).astype("float32")
    y = np.zeros(N, "float32")
    wb.build(s, [X, Y])(x, y)
    np.testing.assert_allclose(y, 2 * x.sum(axis=(1, 2)), rtol=1e-5)


def test_rfactor_matmul():
    A, B, C = matmul(32, 32, 64)
    s = wb.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=8)
    CF = s.rfactor(C, ko, factor_axis=2)
    assert CF.shape == (32, 32, 8)
    s[CF].parallel(s[CF].op.axis[0])
    run_matmul(s, A, B, C)


def test_rfactor_errors():
    A, C = row_sum(8, 64)
    s = wb.create_schedule(C)
    i, = C.op.axis
    k, = C.op.reduce_axis
    schedule_error(lambda: s.rfactor(C, i), r"^rfactor\(axis=i\) on stage 'C'", "data axis")
    schedule_error(lambda: s.rfactor(A, k), r"rfactor\(tensor=A\)", "not a reduction")
    schedule_error(lambda: s.rfactor(C, k, factor_axis=3), r"factor_axis=3", "0..1")
    ko, ki = s[C].split(k, factor=8)
    schedule_error(lambda: s.rfactor(C, k), "was split; use its leaves")
    s[C].unroll(ki)
    schedule_error(lambda: s.rfactor(C, ko), "k.inner is unrolled")
    s2 = wb.create_schedule(C)
    s2[C].split(i, factor=2)
    schedule_error(lambda: s2.rfactor(C, k), "data axis i was split")
    D = te.compute((8,), lambda i: A[i, 0] + 1.0, name="D")
    schedule_error(lambda: wb.create_schedule(D).rfactor(D, D.op.axis[0]), "not a reduction")
    # the old error message now points at a primitive that exists
    schedule_error(lambda: s2[C].parallel(k), "s.rfactor")
