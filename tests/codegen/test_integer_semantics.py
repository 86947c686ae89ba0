"""Integers wrap at their own width, as numpy computes them; regression tests for the O3 wrong-code
finds of the fuzz campaign (issue 6, item 1.12)."""
from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench import te


def _pipeline():
    A = te.placeholder((13, 16), "int32", name="A")
    T = te.compute((13, 16), lambda i, j: (A[i, j] - 5) // 3 + (A[i, j] * 7) % 4, name="T")
    O = te.compute((13, 16), lambda i, j: T[i, j] * ((i - 3) // 2) - (j - 9) % 5, name="O")
    return A, T, O


def _pipeline_ref(a):
    i, j = np.arange(13)[:, None], np.arange(16)[None, :]
    t = (a - 5) // 3 + (a * 7) % 4
    return (t * ((i - 3) // 2) - (j - 9) % 5).astype("int32")


def _check(s, A, O, seed=0):
    f = wb.build(s, [A, O])
    rng = np.random.default_rng(seed)
    for lo, hi in ((-100, 100), (-2 ** 31, 2 ** 31 - 1)):
        a = rng.integers(lo, hi, (13, 16), dtype=np.int64).astype("int32")
        o = np.zeros((13, 16), "int32")
        f(a, o)
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(o, _pipeline_ref(a))


def test_o3_cache_write_vectorize_compute_at_chain():
    # LLVM 22's SLP "copyable elements" turned `x - 5` next to a shift into `ashr x, -5` (poison)
    A, T, O = _pipeline()
    s = wb.create_schedule(O)
    OL = s.cache_write(O, "local")
    s[O].vectorize(O.op.axis[1])
    s[OL].compute_at(s[O], O.op.axis[0])
    s[T].compute_at(s[OL], OL.op.axis[0])
    _check(s, A, O)


def test_o3_tile_parallel_unroll_variant():
    A, T, O = _pipeline()
    s = wb.create_schedule(O)
    i, j = O.op.axis
    io, jo, ii, ji = s[O].tile(i, j, 2, 4)
    s[T].compute_at(s[O], jo)
    s[O].parallel(io)
    s[O].unroll(ii)
    s[O].unroll(ji)
    _check(s, A, O)


def test_slp_copyable_elements_is_off():
    A, T, O = _pipeline()
    s = wb.create_schedule(O)
    OL = s.cache_write(O, "local")
    s[O].vectorize(O.op.axis[1])
    s[OL].compute_at(s[O], O.op.axis[0])
    s[T].compute_at(s[OL], OL.op.axis[0])
    ir = wb.build(s, [A, O]).llvm_ir
    # no shift of a vector by a negative constant amount anywhere
    for line in ir.splitlines():
        if " ashr " in line or " shl " in line or " lshr " in line:
            assert "i32 -" not in line.split(",", 1)[-1], line


# a constant that fits each dtype (a literal that does not fit is refused by te) but whose products
# with the loop index overflow it, so the comparison is only right with the dtype's wrap-around
_BIG = {"int8": 100, "int16": 30000, "int32": 1000000, "int64": 4 * 10**15}


@pytest.mark.parametrize("dtype", ["int32", "int8", "int16", "int64"])
def test_loop_index_products_wrap_like_numpy(dtype):
    n = 4096
    big = _BIG[dtype]
    Y = te.compute((n,), lambda i: te.if_then_else(i.astype(dtype) * big > 0, 1, 0), name="Y") \
        if dtype != "int32" else te.compute((n,), lambda i: te.if_then_else(i * big > 0, 1, 0), name="Y")
    s = wb.create_schedule(Y)
    f = wb.build(s, [Y])
    y = np.zeros(n, Y.dtype)
    f(y)
    with np.errstate(over="ignore"):
        ref = (np.arange(n).astype(dtype) * np.array(big).astype(dtype)) > 0
    np.testing.assert_array_equal(y, ref.astype(Y.dtype))


def test_int32_value_arithmetic_wraps():
    n = 64
    X = te.placeholder((n,), "int32", name="X")
    Y = te.compute((n,), lambda i: X[i] * 1000000 + i * 100000000 - (X[i] * X[i]) // 7, name="Y")
    s = wb.create_schedule(Y)
    io, ii = s[Y].split(Y.op.axis[0], factor=16)
    s[Y].vectorize(ii)
    f = wb.build(s, [X, Y])
    x = np.random.default_rng(3).integers(-2 ** 31, 2 ** 31 - 1, n, dtype=np.int64).astype("int32")
    y = np.zeros(n, "int32")
    f(x, y)
    i = np.arange(n, dtype="int32")
    with np.errstate(over="ignore"):
        ref = x * np.int32(1000000) + i * np.int32(100000000) - (x * x) // np.int32(7)
    np.testing.assert_array_equal(y, ref)


def test_narrowing_cast_of_loop_index_wraps():
    # codegen half of the find (the simplifier's range analysis is lowering's): a Cast to int8 of
    # a loop index is computed in 8 bits, not folded into the i64 index arithmetic
    from workbench.ir import GE, Buffer, BufferLoad, BufferStore, Cast, For, PrimFunc, Select, Var, const
    from workbench.runtime import build_func
    n = 256
    A, O = Buffer("A", (n,), "float32"), Buffer("O", (n,), "float32")
    i = Var("i")
    a_i = BufferLoad(A, (i,))
    body = For(i, const(0), const(n), "serial",
               BufferStore(O, Select(GE(Cast("int8", i), const(0, "int8")), a_i, a_i * const(-1.0)), (i,)))
    f = build_func(PrimFunc("wrap8", (A, O), body))
    a = np.arange(1, n + 1, dtype="float32")
    o = np.zeros(n, "float32")
    f(a, o)
    np.testing.assert_array_equal(o, np.where(np.arange(n).astype("int8") >= 0, a, -a))


def test_float_to_int_out_of_range_is_not_poison():
    n = 8
    X = te.placeholder((n,), "float32", name="X")
    Y = te.compute((n,), lambda i: te.if_then_else(X[i].astype("int32") == -2 ** 31, 1, 2), name="Y")
    f = wb.build(wb.create_schedule(Y), [X, Y])
    x = np.array([1e20, -1e20, np.nan, 3.0, -3.5, 0, 2 ** 31, -2 ** 31], "float32")
    y = np.zeros(n, Y.dtype)
    f(x, y)
    # a definite 1 or 2 in every lane (whatever the hardware's conversion gives), never garbage
    assert set(np.unique(y)) <= {1, 2}
    assert y[3] == 2 and y[4] == 2 and y[5] == 2 and y[7] == 1
