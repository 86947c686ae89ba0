"""exp, log, tanh, sigmoid (polynomials in LLVM IR) and sqrt on float32 vectorize and stay within a
few ulp of numpy over the whole float32 range, special values included."""
from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench import te

N = 1 << 15
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40, 1.17549435e-38,
           3.4e38, -3.4e38, 88.72, 88.7228, 88.73, 89.0, -87.3, -103.9, -104.5, -200.0, 0.625,
           -0.625, 0.6249, 1e-8, -1e-8, 9.0, -9.0, 20.0, 1.0, 0.5, 2.0, 0.70710677]
MAX_ULP = {"exp": 2, "log": 2, "tanh": 3, "sigmoid": 3, "sqrt": 0}


def _inputs(name):
    rng = np.random.default_rng(7)
    parts = [rng.uniform(-120, 100, N // 4),                       # the whole exp range
             rng.uniform(-1, 1, N // 4),                           # tanh's polynomial branch
             np.exp(rng.uniform(-103, 88, N // 4)),                # positive, denormal to huge (log)
             rng.standard_normal(N // 4 - len(SPECIAL)) * 10.0, SPECIAL]
    x = np.concatenate(parts).astype("float32")
    return x


def _reference(name, x):
    with np.errstate(all="ignore"):
        x64 = x.astype("float64")
        if name == "sigmoid":
            return (1.0 / (1.0 + np.exp(-x64))).astype("float32")
        return getattr(np, name)(x64).astype("float32")


def _ulp_error(got, ref):
    both_nan = np.isnan(got) & np.isnan(ref)
    assert not np.any(np.isnan(got) != np.isnan(ref)), "NaN where numpy has none, or the reverse"
    gi, ri = got.view("int32").astype(np.int64), ref.view("int32").astype(np.int64)
    # map the float order onto the integers (negative floats count down from -0)
    gi = np.where(gi < 0, -(gi & 0x7FFFFFFF), gi)
    ri = np.where(ri < 0, -(ri & 0x7FFFFFFF), ri)
    return np.where(both_nan, 0, np.abs(gi - ri))


@pytest.mark.parametrize("lanes", [1, 16])
@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "sqrt"])
def test_math_within_a_few_ulp(name, lanes):
    X = te.placeholder((N,), name="X")
    Y = te.compute((N,), lambda i: getattr(te, name)(X[i]), name="Y")
    s = wb.create_schedule(Y)
    if lanes > 1:
        _, inner = s[Y].split(Y.op.axis[0], factor=lanes)
        s[Y].vectorize(inner)
    f = wb.build(s, [X, Y])
    x = _inputs(name)
    y = np.zeros(N, "float32")
    f(x, y)
    ref = _reference(name, x)
    err = _ulp_error(y, ref)
    worst = int(np.argmax(err))
    assert err.max() <= MAX_ULP[name], (name, x[worst], y[worst], ref[worst], err.max())
    # special values exactly as numpy (signed zeros too)
    sp = slice(N - len(SPECIAL), N)
    np.testing.assert_array_equal(np.signbit(y[sp]) | np.isnan(y[sp]), np.signbit(ref[sp]) | np.isnan(ref[sp]))
    if lanes > 1:
        assert "<16 x float>" in f.llvm_ir
    # no libm calls: the polynomial is inline vector code (sqrt is an instruction)
    assert "@expf" not in f.llvm_ir and "@logf" not in f.llvm_ir and "@tanhf" not in f.llvm_ir


def test_float64_math_still_uses_libm_correctly():
    X = te.placeholder((64,), "float64", name="X")
    Y = te.compute((64,), lambda i: te.exp(X[i]) + te.tanh(X[i]) + te.sigmoid(X[i]), name="Y")
    f = wb.build(wb.create_schedule(Y), [X, Y])
    x = np.linspace(-30, 30, 64)
    y = np.zeros(64)
    f(x, y)
    np.testing.assert_allclose(y, np.exp(x) + np.tanh(x) + 1 / (1 + np.exp(-x)), rtol=1e-14)


def test_softmax_hand_schedule_matches_numpy_and_is_vector_code():
    from kernels import cpu_schedules, softmax
    s, args = cpu_schedules.softmax_rows(64, 256)
    f = wb.build(s, args)
    x = np.random.default_rng(0).standard_normal((64, 256)).astype("float32") * 20
    y = np.zeros_like(x)
    for threads in (1, 2):
        f.num_threads = threads
        f(x, y)
        np.testing.assert_allclose(y, softmax.reference(x), rtol=1e-5, atol=1e-8)
    ir = f.llvm_ir
    assert "fadd reassoc" in ir and "<16 x float>" in ir        # the sum reduction is vector code
    assert "@llvm.maximum.v" in ir                              # ... and so is the max


@pytest.mark.parametrize("reducer", ["max", "min", "sum"])
def test_float_reductions_propagate_nan_like_numpy(reducer):
    X = te.placeholder((8, 100), name="X")
    k = te.reduce_axis((0, 100), name="k")
    Y = te.compute((8,), lambda i: getattr(te, reducer)(X[i, k], axis=k), name="Y")
    f = wb.build(wb.create_schedule(Y), [X, Y])
    x = np.random.default_rng(1).standard_normal((8, 100)).astype("float32")
    x[3, 50] = np.nan
    x[5, 0] = np.nan
    x[6, 99] = np.nan
    y = np.zeros(8, "float32")
    f(x, y)
    np.testing.assert_allclose(y, getattr(np, reducer)(x, axis=1), rtol=1e-5)
