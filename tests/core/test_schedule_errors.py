"""Illegal primitives raise ScheduleError naming the primitive, the argument and the reason."""
import re

import pytest

import workbench as wb
from workbench import te

from .test_golden_ir import matmul, padded_conv


def err(fn, *parts):
    with pytest.raises(wb.ScheduleError) as info:
        fn()
    msg = str(info.value)
    for p in parts:
        assert re.search(p, msg), f"{p!r} not in {msg!r}"
    return info.value


@pytest.fixture
def mm():
    A, B, C = matmul()
    return wb.create_schedule(C), A, B, C


def test_split_bad_factor(mm):
    s, A, B, C = mm
    e = err(lambda: s[C].split(C.op.axis[0], factor=0), r"^split\(factor=0\) on stage 'C'", "positive int")
    assert (e.primitive, e.stage) == ("split", "C")
    err(lambda: s[C].split(C.op.axis[0], factor=2.5), r"split\(factor=2.5\)")
    err(lambda: s[C].split(C.op.axis[0]), "exactly one of factor= or nparts=")
    err(lambda: s[C].split(C.op.axis[0], factor=2, nparts=2), "exactly one")


def test_split_non_leaf(mm):
    s, A, B, C = mm
    i = C.op.axis[0]
    s[C].split(i, factor=4)
    err(lambda: s[C].split(i, factor=2), r"split\(axis=i\)", "was split; use its leaves i.outer, i.inner")
    err(lambda: s[C].split("nope", factor=2), "no such axis; leaf axes are")


def test_axis_of_other_stage():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    err(lambda: s[Y].split(P.op.axis[0], factor=2), r"split\(axis=y\) on stage 'Y'", "belongs to stage 'pad'")


def test_fuse_not_adjacent(mm):
    s, A, B, C = mm
    i, j = C.op.axis
    k = C.op.reduce_axis[0]
    s[C].reorder(i, k, j)
    err(lambda: s[C].fuse(i, j), r"fuse\(axes\[1\]=j\)", "adjacent")
    s2 = wb.create_schedule(C)
    err(lambda: s2[C].fuse(j, i), "outermost first")
    err(lambda: s2[C].fuse(j, k), "reduction axis with a data-parallel")


def test_reorder_twice(mm):
    s, A, B, C = mm
    i, j = C.op.axis
    err(lambda: s[C].reorder(i, i), r"reorder\(axes\[1\]=i\)", "listed twice")


def test_vectorize_and_parallel_reduce_axis(mm):
    s, A, B, C = mm
    k = C.op.reduce_axis[0]
    err(lambda: s[C].vectorize(k), r"vectorize\(axis=k\)", "reduction axis")
    err(lambda: s[C].parallel(k), r"parallel\(axis=k\)", "several threads")


def test_vectorize_too_long():
    A = te.placeholder((1024,), name="A")
    B = te.compute((1024,), lambda i: A[i] + 1.0, name="B")
    s = wb.create_schedule(B)
    err(lambda: s[B].vectorize(B.op.axis[0]), "too long to vectorize", "split it first")


def test_conflicting_kinds(mm):
    s, A, B, C = mm
    s[C].parallel(C.op.axis[0])
    err(lambda: s[C].vectorize(C.op.axis[0]), "already parallel")


def test_pragma_checks(mm):
    s, A, B, C = mm
    err(lambda: s[C].pragma(C.op.axis[0], "bogus", 1), r"pragma\(key='bogus'\)", "unknown pragma")
    err(lambda: s[C].pragma(C.op.axis[0], "auto_unroll_max_step", -1), "non-negative int")


def test_compute_at_checks():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    err(lambda: s[Y].compute_at(s[P], P.op.axis[0]), "output stage cannot be computed at")
    err(lambda: s[P].compute_at(s[Y], P.op.axis[0]), r"compute_at\(axis=y\)", "belongs to stage 'pad'")
    err(lambda: s[X].compute_at(s[Y], Y.op.axis[0]), "placeholder")
    yo, yi = s[Y].split(Y.op.axis[0], factor=2)
    err(lambda: s[P].compute_at(s[Y], Y.op.axis[0]), "was split; use its leaves")
    # a stage read by two readers cannot live in one reader's loop
    A = te.placeholder((8,), name="A")
    T = te.compute((8,), lambda i: A[i] * 2.0, name="T")
    U = te.compute((8,), lambda i: T[i] + 1.0, name="U")
    V = te.compute((8,), lambda i: T[i] + U[i], name="V")
    s2 = wb.create_schedule(V)
    err(lambda: s2[T].compute_at(s2[U], U.op.axis[0]), "also read by")
    err(lambda: s2[U].compute_at(s2[T], T.op.axis[0]), "does not read")


def test_inline_checks(mm):
    s, A, B, C = mm
    err(lambda: s[C].compute_inline(), "output stage cannot be inlined")
    err(lambda: s[A].compute_inline(), "placeholder")
    A2 = te.placeholder((8, 8), name="A")
    k = te.reduce_axis((0, 8), name="k")
    R = te.compute((8,), lambda i: te.sum(A2[i, k], axis=k), name="R")
    O = te.compute((8,), lambda i: R[i] * 2.0, name="O")
    s2 = wb.create_schedule(O)
    err(lambda: s2[R].compute_inline(), "reduction cannot be inlined")


def test_inlined_stage_has_no_loops():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    s[P].compute_inline()
    err(lambda: s[P].split(P.op.axis[0], factor=2), "inlined", "compute_root")


def test_cache_errors(mm):
    s, A, B, C = mm
    err(lambda: s.cache_read(A, "local", [A]), r"cache_read\(readers\[0\]=A\)", "does not read")
    s[C].split(C.op.axis[0], factor=2)
    err(lambda: s.cache_write(C, "local"), r"cache_write\(tensor=C\)", "before any split")
    err(lambda: s.cache_write(A, "local"), "placeholder")


def test_errors_leave_the_trace_unchanged(mm):
    s, A, B, C = mm
    before = s.trace
    with pytest.raises(wb.ScheduleError):
        s[C].split(C.op.axis[0], factor=-1)
    assert s.trace == before


def test_expression_as_bool_hint():
    A = te.placeholder((4,), name="A")
    with pytest.raises(TypeError, match="te.if_then_else"):
        te.compute((4,), lambda i: A[i] if A[i] > 0 else 0.0)
    with pytest.raises(TypeError, match="use `//`"):
        te.compute((4,), lambda i: i / 2)


def test_bad_te_input():
    with pytest.raises(ValueError, match="positive"):
        te.placeholder((0, 3))
    with pytest.raises(TypeError, match="unsupported dtype"):
        te.placeholder((3,), dtype="complex64")
    A = te.placeholder((4, 4), name="A")
    with pytest.raises(IndexError, match="2 dimensions"):
        te.compute((4,), lambda i: A[i])
    Ai = te.placeholder((4,), dtype="int32", name="Ai")
    te.compute((4,), lambda i: A[Ai[i], 0])      # a gather: allowed, checked at run time (test_bounds)
    k = te.reduce_axis((0, 4), name="k")
    with pytest.raises(ValueError, match="whole body"):
        te.compute((4,), lambda i: te.sum(A[i, k], axis=k) * 2.0)
