"""AssertStmt: a failed run-time check stops the kernel and the call raises IndexError(message),
also from inside parallel loops and with heap buffers live; nothing crashes the interpreter."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from codegen_helpers import build, buf, load, loop, store  # noqa: E402

from workbench.ir import LT, Allocate, AssertStmt, Var, const, seq  # noqa: E402


def _gather(kind="serial", n=64, m=16, scratch=0):
    """out[i] = A[I[i]] with the check 0 <= I[i] < m before the read."""
    A, Ix, O = buf("A", m), buf("I", n, "int32"), buf("O", n)
    i = Var("i")
    idx = load(Ix, i)
    read = store(O, i, load(A, idx))
    if scratch:
        T = buf("T", scratch)
        read = Allocate(T, seq(store(T, const(0), load(A, idx)), store(O, i, load(T, const(0)))))
    check = AssertStmt(_in_range(idx, m), f"index I[i] of A out of range [0, {m})", read)
    return build("gather", [A, Ix, O], loop(i, n, check, kind=kind))


def _in_range(idx, m):
    from workbench.ir import GE, And
    return And(GE(idx, const(0, "int32")), LT(idx, const(m, "int32")))


@pytest.mark.parametrize("kind", ["serial", "parallel"])
@pytest.mark.parametrize("scratch", [0, 20000])      # no buffer / a heap buffer live at the failure
def test_failed_check_raises_index_error(kind, scratch):
    f = _gather(kind, scratch=scratch)
    a = np.arange(16, dtype="float32")
    good = np.random.default_rng(0).integers(0, 16, 64).astype("int32")
    o = np.zeros(64, "float32")
    for threads in (1, 2):
        f.num_threads = threads
        f(a, good, o)
        np.testing.assert_array_equal(o, a[good])
        for bad_value, where in ((16, 5), (-1, 63), (1_000_000, 0)):
            bad = good.copy()
            bad[where] = bad_value
            with pytest.raises(IndexError, match=r"gather\(\): index I\[i\] of A out of range \[0, 16\)"):
                f(a, bad, o)
        f(a, good, o)             # the kernel is usable after a failure
        np.testing.assert_array_equal(o, a[good])


def test_many_failures_do_not_leak_or_crash():
    f = _gather("parallel", scratch=20000)
    a = np.arange(16, dtype="float32")
    bad = np.full(64, 99, "int32")
    o = np.zeros(64, "float32")
    for _ in range(200):
        with pytest.raises(IndexError):
            f(a, bad, o)


def test_time_refuses_a_failing_kernel():
    f = _gather()
    with pytest.raises(IndexError):
        f.time(np.zeros(16, "float32"), np.full(64, 16, "int32"), np.zeros(64, "float32"))


def test_two_checks_report_their_own_message():
    A, O = buf("A", 8), buf("O", 8)
    i = Var("i")
    body = loop(i, 8, AssertStmt(LT(load(A, i), const(100.0)), "A too large",
                                 AssertStmt(LT(const(-100.0), load(A, i)), "A too small",
                                            store(O, i, load(A, i)))))
    f = build("two", [A, O], body)
    o = np.zeros(8, "float32")
    with pytest.raises(IndexError, match="A too large"):
        f(np.full(8, 200, "float32"), o)
    with pytest.raises(IndexError, match="A too small"):
        f(np.full(8, -200, "float32"), o)
    f(np.ones(8, "float32"), o)
    assert f.module.messages == ("A too large", "A too small")


def test_constant_true_check_costs_nothing():
    A, O = buf("A", 8), buf("O", 8)
    i = Var("i")
    f = build("ok", [A, O], loop(i, 8, AssertStmt(LT(i, const(8)), "never", store(O, i, load(A, i)))))
    assert "check_fail" in f.unoptimized_ir     # emitted, and folded away by LLVM (i < 8 in the loop)
    assert "ret i32 1" not in f.llvm_ir
