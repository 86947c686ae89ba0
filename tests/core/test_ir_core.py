"""The IR core: iterative traversal, structural equality, the pass manager, the verifier, loop
kinds and notes, ScheduleWarning, the unroll limit, bounds checks and narrowing casts."""
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest

import workbench as wb
from workbench import te
from workbench.ir import expr as E
from workbench.ir import stmt as S
from workbench.ir import interp
from workbench.lower import PHASES, PassContext, Pipeline

from .test_golden_ir import CASES as GOLDEN_CASES
from .test_golden_ir import matmul


def blocked(m=16, n=16, k=16):
    A, B, C = matmul(m, n, k)
    s = wb.create_schedule(C)
    i, j = C.op.axis
    io, ii = s[C].split(i, factor=4)
    jo, ji = s[C].split(j, factor=8)
    s[C].reorder(io, jo, C.op.reduce_axis[0], ii, ji)
    s[C].vectorize(ji)
    s[C].parallel(io)
    return s, [A, B, C]


# -- traversal -------------------------------------------------------------------------------------
def test_deep_sum_lowers_and_builds():
    """A te.sum body of 400 added terms (RecursionError in visitor.post_order before)."""
    A = te.placeholder((4, 404), name="A")
    k = te.reduce_axis((0, 4), name="k")

    def body(i):
        e = A[i, k]
        for t in range(1, 400):
            e = e + A[i, k + t]
        return e
    C = te.compute((4,), lambda i: te.sum(body(i), axis=k), name="C")
    s = wb.create_schedule(C)
    func = wb.lower(s, [A, C], verify=True)
    assert "A[i, k + 399]" in str(func)
    assert wb.ir.structural_equal(func, wb.lower(s, [A, C]))
    hash(wb.ir.structural_hash(func))
    a = np.random.rand(4, 404).astype("float32")
    want = np.array([sum(a[i, kk:kk + 400].sum() for kk in range(4)) for i in range(4)])
    got = np.zeros(4, "float32")
    wb.build(s, [A, C])(a, got)
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_visitor_and_mutator_track_loops():
    s, args = blocked()
    func = wb.lower(s, args)

    class Depth(wb.ir.StmtVisitor):
        def __init__(self):
            super().__init__()
            self.max = 0

        def visit_BufferStore(self, st):
            self.max = max(self.max, len(self.loops))
    assert Depth()(func.body).max == 4          # i.outer, j.outer, k, i.inner (j.inner is a vector)

    class Ranges(wb.ir.LoopRanges, wb.ir.StmtVisitor):
        seen = []

        def visit_BufferStore(self, st):
            self.seen.append(dict(self.ranges))
    Ranges()(func.body)
    assert all(all(lo <= hi for lo, hi in r.values()) for r in Ranges.seen)
    assert wb.ir.contains(func.body, lambda n: type(n) is E.Ramp)
    assert not wb.ir.contains(func.body, lambda n: type(n) is E.TensorRead)


def test_for_kind_enum_keeps_string_compatibility():
    v = E.Var("i")
    f = S.For(v, E.const(0), E.const(4), "parallel", S.Evaluate())
    assert f.kind is S.ForKind.parallel and f.kind == "parallel"
    assert {"parallel": 1}[f.kind] == 1 and str(f.kind) == "parallel"
    with pytest.raises(ValueError, match="unknown loop kind"):
        S.For(v, E.const(0), E.const(4), "paralel", S.Evaluate())


# -- structural equality ---------------------------------------------------------------------------
def test_two_lowerings_are_structurally_equal():
    s1, a1 = blocked()
    s2, a2 = blocked()
    f1, f2 = wb.lower(s1, a1), wb.lower(s2, a2)
    assert f1.body is not f2.body and wb.ir.structural_equal(f1, f2)
    assert wb.ir.structural_hash(f1) == wb.ir.structural_hash(f2)
    s3, a3 = blocked(n=24)
    f3 = wb.lower(s3, a3)
    assert not wb.ir.structural_equal(f1, f3)
    assert wb.ir.structural_hash(f1) != wb.ir.structural_hash(f3)


def test_structural_equal_maps_variables_consistently():
    x, y, z = E.Var("x"), E.Var("y"), E.Var("z")
    assert wb.ir.structural_equal(x + 1, y + 1)
    assert not wb.ir.structural_equal(x + x, y + z)       # one variable cannot map to two
    assert not wb.ir.structural_equal(x + y, z + z)
    assert not wb.ir.structural_equal(x + 1, E.Var("w", "int64") + E.const(1, "int64"))
    assert not E.structural_equal(x + 1, y + 1)            # the passes' version: by identity


# -- pass manager ------------------------------------------------------------------------------------
def test_stop_after_and_history():
    s, args = blocked()
    func = wb.lower(s, args, stop_after="storage_flatten")
    assert [n for n, _ in func.history][-1] == "storage_flatten"
    assert "C[i.outer * 64" in func.after("storage_flatten")      # flat, as the IR holds it
    full = wb.lower(s, args)
    assert "ramp(" in full.after("vectorize") and "C[i.outer * 4 + i.inner, j.outer * 8:" in str(full)
    with pytest.raises(ValueError, match="names no pass"):
        wb.lower(s, args, stop_after="nosuchpass")
    with pytest.raises(TypeError, match="unknown lowering option"):
        wb.lower(s, args, unrol_limit=3)


def test_backend_passes_run_at_their_phase():
    seen = []

    def spy(tag):
        def run(func, ctx):
            seen.append((tag, ctx.target, "storage_flatten" in [n for n, _ in func.history]))
            return func
        return run

    pipe = Pipeline.default()
    for ph in PHASES:
        pipe = pipe.with_passes(ph, [(f"spy_{ph}", spy(ph))])
    pipe = pipe.with_passes("before_flatten", [("spy_second", spy("second"))])
    s, args = blocked()
    func = wb.lower(s, args, pipeline=pipe, ctx=PassContext(target="vta-env"))
    assert [t for t, *_ in seen] == ["schedule", "before_flatten", "second", "after_flatten", "before_codegen"]
    assert all(t == "vta-env" for _, t, _ in seen)
    assert [f for *_, f in seen] == [False, False, False, True, True]
    assert "spy_before_codegen" in [n for n, _ in func.history]
    with pytest.raises(ValueError, match="unknown phase"):
        pipe.with_passes("late", [("x", spy("x"))])
    with pytest.raises(ValueError, match="already in the pipeline"):
        pipe.with_passes("schedule", [("unroll", spy("x"))])
    # the default pipeline is untouched: nothing global was registered
    assert "spy_schedule" not in Pipeline.default().pass_names


def test_a_failing_pass_is_named():
    def broken(func, ctx):
        raise RuntimeError("boom")
    s, args = blocked()
    with pytest.raises(RuntimeError, match="lowering pass 'my_pass': boom"):
        wb.lower(s, args, pipeline=Pipeline.default().with_passes("after_flatten", [("my_pass", broken)]))


def test_verifier_catches_malformed_ir():
    def bad_var(func, ctx):
        stray = E.Var("stray")
        body = S.seq(func.body, S.BufferStore(func.params[2], E.const(0.0), (stray,)))
        return replace(func, body=body)

    def bad_dtype(func, ctx):
        return replace(func, body=S.seq(func.body, S.BufferStore(func.params[2], E.const(1), (E.const(0),))))
    s, args = blocked()
    for fn, msg in ((bad_var, "stray is used outside"), (bad_dtype, "store of a int32 value")):
        pipe = Pipeline.default().with_passes("before_codegen", [("bad", fn)])
        with pytest.raises(wb.ir.IRVerifyError, match=f"after pass 'bad'.*{msg}"):
            wb.lower(s, args, pipeline=pipe, verify=True)
        wb.lower(s, args, pipeline=pipe, verify=False)        # only checked when asked


def test_keep_trivial_loops():
    A = te.placeholder((1, 8), name="A")
    B = te.compute((1, 8), lambda i, j: A[i, j] * 2.0, name="B")
    s = wb.create_schedule(B)
    assert "for i in range(1)" not in str(wb.lower(s, [A, B]))
    kept = wb.lower(s, [A, B], keep_trivial_loops=True)
    assert "for i in range(1)" in str(kept)
    a, b = np.random.rand(1, 8).astype("float32"), np.zeros((1, 8), "float32")
    interp.run(kept, [a, b])
    np.testing.assert_allclose(b, a * 2)


# -- ScheduleWarning ---------------------------------------------------------------------------------
def test_unhonoured_vectorize_warns():
    A = te.placeholder((4, 64), name="A")
    D = te.compute((8, 8), lambda i, j: A[i % 4, j] + 1.0, name="D")
    s = wb.create_schedule(D)
    s[D].vectorize(D.op.axis[0])
    with pytest.warns(wb.ScheduleWarning, match=r"vectorize\(axis=i\) on stage 'D' is not honoured: loop j"):
        wb.lower(s, [A, D])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wb.lower(s, [A, D], warnings=False)


# -- unroll limit ------------------------------------------------------------------------------------
def test_full_unroll_of_a_large_matmul_fails_fast():
    A, B, C = matmul(64, 64, 64)
    s = wb.create_schedule(C)
    for ax in (*C.op.axis, *C.op.reduce_axis):
        s[C].unroll(ax)
    t0 = time.perf_counter()
    with pytest.raises(wb.ScheduleError, match=r"unroll\(axis=j\) on stage 'C': unrolling 64 iterations .* "
                                               r"would write out 4160 statements, over the limit of 4096"):
        wb.lower(s, [A, B, C])
    assert time.perf_counter() - t0 < 30       # generous on a loaded machine; typically ~0.1 s
    s2 = wb.create_schedule(C)
    s2[C].unroll(C.op.reduce_axis[0])
    wb.lower(s2, [A, B, C])                    # 64 statements: fine
    with pytest.raises(wb.ScheduleError, match="over the limit of 32"):
        wb.lower(s2, [A, B, C], unroll_limit=32)


def test_no_loop_keeps_kind_unrolled():
    A, B, C = matmul(8, 8, 8)
    s = wb.create_schedule(C)
    s[C].unroll(C.op.reduce_axis[0])
    s[C].pragma(C.op.axis[0], "auto_unroll_max_step", 100000)
    func = wb.lower(s, [A, B, C])
    assert not wb.ir.contains(func.body, lambda n: type(n) is S.For and n.kind == "unrolled")


# -- bounds --------------------------------------------------------------------------------------------
def test_provably_out_of_bounds_is_an_error_at_lowering():
    A = te.placeholder((8,), name="A")
    for fn, rng in ((lambda i: A[i + 1000000], r"\[1000000, 1000007\]"), (lambda i: A[i + 1], r"\[1, 8\]")):
        B = te.compute((8,), fn, name="B")
        with pytest.raises(wb.BoundsError, match=r"out-of-bounds access A\[i \+ 10*1?\] in stage 'B'.*" + rng
                           + r".*extent 8") as ei:
            wb.lower(wb.create_schedule(B), [A, B])
        assert isinstance(ei.value, IndexError)


def test_gather_is_checked_at_run_time_once_per_element():
    X = te.placeholder((10, 4), name="X")
    I = te.placeholder((6,), name="I", dtype="int32")
    G = te.compute((6, 4), lambda i, j: X[I[i], j], name="G")
    s = wb.create_schedule(G)
    func = wb.lower(s, [X, I, G])
    text = str(func)
    assert text.count("assert") == 1 and "assert I[i] >= 0 and I[i] < 10" in text
    # the check sits outside the j loop: once per gathered row, not per element
    assert text.index("assert") < text.index("for j")
    f = wb.build(s, [X, I, G])
    x, g = np.random.rand(10, 4).astype("float32"), np.zeros((6, 4), "float32")
    idx = np.array([0, 3, 9, 2, 1, 5], "int32")
    f(x, idx, g)
    np.testing.assert_array_equal(g, x[idx])
    idx[2] = 10
    with pytest.raises(IndexError, match=r"X\[I\[i\], j\]"):
        f(x, idx, g)
    assert "assert" not in str(wb.lower(s, [X, I, G], bounds_checks=False))


def test_unprovable_guarded_access_is_checked_and_hoisted():
    A = te.placeholder((8, 16), name="A")
    B = te.compute((8, 16), lambda i, j: te.if_then_else(i * i < 40, A[i + 1, j], 0.0), name="B")
    s = wb.create_schedule(B)
    text = str(wb.lower(s, [A, B]))
    assert text.count("assert") == 1 and text.index("assert") < text.index("for j")
    a, b = np.random.rand(8, 16).astype("float32"), np.zeros((8, 16), "float32")
    wb.build(s, [A, B])(a, b)
    want = np.where((np.arange(8) ** 2 < 40)[:, None], np.vstack([a[1:], np.zeros((1, 16))]), 0)
    np.testing.assert_allclose(b, want)


def test_ordinary_schedules_carry_no_checks():
    from kernels import cpu_schedules
    s, args = cpu_schedules.matmul_blocked(64, 64, 64)
    assert "assert" not in str(wb.lower(s, args))
    for name, make in GOLDEN_CASES.items():
        s, args = make()
        assert "assert" not in str(wb.lower(s, args)), name


# -- narrowing casts --------------------------------------------------------------------------------
def test_narrowing_cast_is_not_folded_away():
    A = te.placeholder((256,), name="A")
    O = te.compute((256,), lambda i: te.if_then_else(i.astype("int8") >= 0, A[i], -A[i]), name="O")
    s = wb.create_schedule(O)
    func = wb.lower(s, [A, O])
    assert "select(" in str(func)
    a, o = np.random.rand(256).astype("float32"), np.zeros(256, "float32")
    want = np.where(np.arange(256).astype("int8") >= 0, a, -a)
    interp.run(func, [a, o])
    np.testing.assert_array_equal(o, want)
    o[:] = 0
    wb.build(s, [A, O])(a, o)
    np.testing.assert_array_equal(o, want)


def test_narrow_arithmetic_wraps_in_range_analysis():
    from workbench.ir.simplify import bounds, simplify_expr
    i = E.Var("i")
    r = {i: (0, 100)}
    assert bounds(i.astype("int8"), r) == (0, 100)
    assert bounds(i.astype("int8") + E.const(100, "int8"), r) is None        # 200 wraps in int8
    assert bounds((i + 200).astype("int8"), r) == (-128, 127)
    ge = simplify_expr(i.astype("int8") + E.const(100, "int8") >= E.const(0, "int8"), r)
    assert type(ge) is not E.Const                                             # not folded to True
