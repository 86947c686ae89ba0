"""The public API of DESIGN.md, used exactly as written there."""
import numpy as np
import pytest

import workbench as wb
from workbench import te


def test_design_example():
    M = N = K = 512
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    assert A.dtype == "float32"
    s = wb.create_schedule(C)
    i, j = C.op.axis
    assert C.op.reduce_axis == (k,)
    io, ii = s[C].split(i, factor=32)
    jo, ji = s[C].split(j, factor=32)
    s[C].reorder(io, jo, k, ii, ji)
    s[C].vectorize(ji)
    s[C].parallel(io)
    func = wb.lower(s, [A, B, C])
    text = str(func)
    # readable: per-dimension indices, a vector access as a slice, loop names as the trace gives them
    assert "parallel(16)" in text and "B[k, j.outer * 32:j.outer * 32 + 32]" in text
    assert "ramp(" in func.after("vectorize")
    f = wb.build(s, [A, B, C])
    a, b = np.random.rand(M, K).astype("float32"), np.random.rand(K, N).astype("float32")
    c = np.zeros((M, N), "float32")
    f(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)
    script = s.trace.to_python()
    assert "split" in script and "parallel" in script
    assert f.parallel_runtime == "libgomp"


def test_schedule_accepts_list_and_other_primitives():
    A = te.placeholder((64, 64), name="A")
    P = te.compute((64, 64), lambda i, j: A[i, j] * 2.0, name="P")
    C = te.compute((64, 64), lambda i, j: P[i, j] + 1.0, name="C")
    s = wb.create_schedule([C])
    xo, yo, xi, yi = s[C].tile(*C.op.axis, 8, 8)
    fused = s[C].fuse(xo, yo)
    s[C].unroll(yi)
    s[P].compute_at(s[C], fused)
    s[C].pragma(fused, "auto_unroll_max_step", 16)
    f = wb.build(s, [A, C])
    a = np.random.rand(64, 64).astype("float32")
    c = np.zeros_like(a)
    f(a, c)
    np.testing.assert_allclose(c, a * 2 + 1)
    s[P].compute_inline()
    s[P].compute_root()
    AL = s.cache_read(A, "local", [P])
    CL = s.cache_write(P, "local")
    assert AL.name == "A.local" and CL.name == "P.local"
    f = wb.build(s, [A, C])
    f(a, c)
    np.testing.assert_allclose(c, a * 2 + 1)


def test_kernel_argument_errors():
    A = te.placeholder((4, 5), name="A")
    B = te.compute((4, 5), lambda i, j: A[i, j] + 1.0, name="B")
    f = wb.build(wb.create_schedule(B), [A, B])
    a = np.zeros((4, 5), "float32")
    b = np.zeros((4, 5), "float32")
    with pytest.raises(TypeError):
        f(a)
    with pytest.raises(TypeError):
        f(a, b, b)
    with pytest.raises(TypeError):
        f(a.tolist(), b)
    with pytest.raises(TypeError):
        f(a.astype("float64"), b)
    with pytest.raises(ValueError):
        f(np.zeros((5, 4), "float32"), b)
    with pytest.raises(ValueError):
        f(np.zeros((8, 5), "float32")[::2], b)
    ro = np.zeros((4, 5), "float32")
    ro.setflags(write=False)
    with pytest.raises(ValueError):
        f(a, ro)
    with pytest.raises(ValueError):
        f(b, b)
    f(a, b)
    assert (b == 1).all()


def test_build_argument_errors():
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] + 1.0, name="B")
    s = wb.create_schedule(B)
    with pytest.raises(ValueError, match="missing"):
        wb.build(s, [B])
    with pytest.raises(ValueError, match="output B is missing"):
        wb.build(s, [A])
    with pytest.raises(ValueError, match="unknown target"):
        wb.build(s, [A, B], target="cuda")
    with pytest.raises(TypeError):
        wb.build(s, [A, "B"])
