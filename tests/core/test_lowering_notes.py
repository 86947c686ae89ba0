"""When a requested loop kind cannot be honoured, the printed IR says why (and the code is right)."""
import numpy as np
import pytest

import workbench as wb
from workbench import te


def _check(s, args, expected_fn):
    f = wb.build(s, args)
    arrays = [np.random.rand(*t.shape).astype(t.dtype) for t in args[:-1]]
    out = np.zeros(args[-1].shape, args[-1].dtype)
    f(*arrays, out)
    np.testing.assert_allclose(out, expected_fn(*arrays), rtol=1e-5)


def test_vectorize_outer_loop_is_explained():
    A = te.placeholder((8, 8), name="A")
    B = te.compute((8, 8), lambda i, j: A[i, j] + 1.0, name="B")
    s = wb.create_schedule(B)
    s[B].vectorize(B.op.axis[0])
    text = str(wb.lower(s, [A, B]))
    assert "# not vectorized: loop j is inside it" in text
    _check(s, [A, B], lambda a: a + 1)


def test_vectorize_lane_dependence_is_explained():
    A = te.placeholder((16,), name="A")
    B = te.compute((16,), lambda i: A[15 - i] * 2.0, name="B")
    C = te.compute((16,), lambda i: B[i] + B[(i + 1) % 16], name="C")
    s = wb.create_schedule(C)
    s[B].compute_inline()
    s[C].vectorize(C.op.axis[0])
    text = str(wb.lower(s, [A, C]))
    assert "not vectorized" in text and "no constant stride" in text
    _check(s, [A, C], lambda a: a[::-1] * 2 + np.roll(a[::-1] * 2, -1))


def test_nested_parallel_runs_serially_and_says_so():
    A = te.placeholder((4, 64), name="A")
    B = te.compute((4, 64), lambda i, j: A[i, j] * 3.0, name="B")
    C = te.compute((4, 64), lambda i, j: B[i, j] + 1.0, name="C")
    s = wb.create_schedule(C)
    s[B].compute_at(s[C], C.op.axis[0])
    s[C].parallel(C.op.axis[0])
    s[B].parallel(B.op.axis[1])
    with pytest.warns(wb.ScheduleWarning, match=r"parallel\(axis=j\) on stage 'B' is not honoured: inside "
                                                r"parallel loop i"):
        text = str(wb.lower(s, [A, C]))
    assert "# not parallel: inside parallel loop i" in text
    _check(s, [A, C], lambda a: a * 3 + 1)
