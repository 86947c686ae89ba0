"""te semantics end to end (describe -> lower -> build -> run) against numpy."""
import numpy as np
import pytest

import workbench as wb
from workbench import te


def run(outs, args, *arrays):
    s = wb.create_schedule(outs)
    f = wb.build(s, args)
    results = [np.zeros(t.shape, t.dtype) for t in args[len(arrays):]]
    f(*arrays, *results)
    return results


def test_reduction_with_where():
    A = te.placeholder((6, 6), name="A")
    k = te.reduce_axis((0, 6), name="k")
    L = te.compute((6,), lambda i: te.sum(A[i, k], axis=k, where=k <= i), name="L")
    a = np.random.rand(6, 6).astype("float32")
    (got,) = run(L, [A, L], a)
    np.testing.assert_allclose(got, np.tril(a).sum(1), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "float32", "float64"])
def test_max_min_reductions_and_elementwise(dtype):
    A = te.placeholder((5, 7), dtype=dtype, name="A")
    k = te.reduce_axis((0, 7), name="k")
    M = te.compute((5,), lambda i: te.max(A[i, k], axis=k), name="M")
    N = te.compute((5,), lambda i: te.min(A[i, k], axis=k), name="N")
    E = te.compute((5,), lambda i: te.max(M[i], N[i] + te.const(1, dtype)), name="E")
    a = (np.random.rand(5, 7) * 100).astype(dtype)
    got_m, got_n, got_e = run([M, N, E], [A, M, N, E], a)
    np.testing.assert_array_equal(got_m, a.max(1))
    np.testing.assert_array_equal(got_n, a.min(1))
    np.testing.assert_array_equal(got_e, np.maximum(a.max(1), (a.min(1) + np.array(1, dtype)).astype(dtype)))


def test_python_floor_division_and_modulo():
    A = te.placeholder((9,), dtype="int32", name="A")
    B = te.placeholder((9,), dtype="int32", name="B")
    D = te.compute((9,), lambda i: A[i] // B[i], name="D")
    R = te.compute((9,), lambda i: A[i] % B[i], name="R")
    a = np.array([7, -7, 7, -7, 0, 5, -5, 1, -1], "int32")
    b = np.array([2, 2, -2, -2, 3, 0, 0, -3, 3], "int32")
    d, r = run([D, R], [A, B, D, R], a, b)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(d, a // b)   # numpy gives 0 for x // 0, as we do
        np.testing.assert_array_equal(r, a % b)


def test_int8_wraps_like_numpy():
    A = te.placeholder((4,), dtype="int8", name="A")
    B = te.compute((4,), lambda i: A[i] * te.const(3, "int8") + te.const(100, "int8"), name="B")
    a = np.array([50, -50, 127, -128], "int8")
    (got,) = run(B, [A, B], a)
    np.testing.assert_array_equal(got, a * np.int8(3) + np.int8(100))


def test_math_casts_and_conditions():
    A = te.placeholder((3, 8), name="A")
    F = te.compute((3, 8), lambda i, j: te.if_then_else(
        te.any(i == 0, j >= 6),
        te.sigmoid(A[i, j]) + te.tanh(A[i, j]),
        te.sqrt(te.abs(A[i, j])) + te.log(te.exp(A[i, j]) + 1.0)), name="F")
    C = te.compute((3, 8), lambda i, j: (A[i, j] * 10.0).astype("int32") + i * j, name="C")
    a = np.random.randn(3, 8).astype("float32")
    f, c = run([F, C], [A, F, C], a)
    ii, jj = np.meshgrid(np.arange(3), np.arange(8), indexing="ij")
    cond = (ii == 0) | (jj >= 6)
    expected = np.where(cond, 1 / (1 + np.exp(-a)) + np.tanh(a), np.sqrt(np.abs(a)) + np.log(np.exp(a) + 1))
    np.testing.assert_allclose(f, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(c, (a * 10).astype("int32") + ii * jj)


def test_padding_reads_stay_in_bounds():
    # the guarded side of a select is never evaluated: a[-1] / a[n] are not read
    A = te.placeholder((16,), name="A")
    P = te.compute((18,), lambda i: te.if_then_else(te.all(i >= 1, i < 17), A[i - 1], -1.0), name="P")
    a = np.arange(16, dtype="float32")
    (got,) = run(P, [A, P], a)
    np.testing.assert_array_equal(got, np.concatenate([[-1], a, [-1]]))


def test_two_outputs_share_an_intermediate():
    A = te.placeholder((32,), name="A")
    T = te.compute((32,), lambda i: A[i] * 2.0, name="T")
    X = te.compute((32,), lambda i: T[i] + 1.0, name="X")
    Y = te.compute((32,), lambda i: T[i] - 1.0, name="Y")
    a = np.random.rand(32).astype("float32")
    x, y = run([X, Y], [A, X, Y], a)
    np.testing.assert_allclose(x, a * 2 + 1)
    np.testing.assert_allclose(y, a * 2 - 1)
