"""vectorize runs before unroll (as in TVM): one vector statement is unrolled into copies, and a
loop marked `unroll` inside a vectorized loop is written out first, so both marks are honoured.
The simplifier's memo of shared subtrees gives what simplifying each copy alone gives."""
from __future__ import annotations

import warnings

import numpy as np

import workbench as wb
from kernels import cpu_schedules
from workbench import te
from workbench.ir import stmt as S
from workbench.ir.simplify import simplify_stmt
from workbench.ir.visitor import find_all
from workbench.lower import PASS_NAMES


def test_pass_order_vectorize_before_unroll():
    assert PASS_NAMES.index("vectorize") < PASS_NAMES.index("unroll") < PASS_NAMES.index("final_simplify")


def _loops(body):
    return find_all(body, lambda n: type(n) is S.For)


def test_unrolled_copies_of_one_vector_statement():
    A = te.placeholder((8, 64), name="A")
    B = te.compute((8, 64), lambda i, j: A[i, j] * 2.0, name="B")
    s = wb.create_schedule(B)
    jo, ji = s[B].split(B.op.axis[1], factor=16)
    s[B].unroll(jo)
    s[B].vectorize(ji)
    f = wb.lower(s, [A, B])
    assert [lp.var.name for lp in _loops(f.body)] == ["i"]           # jo unrolled, ji a vector
    assert str(f.body).count("ramp(") >= 4
    k = wb.build(s, [A, B], cache=None)
    a = np.random.default_rng(0).random((8, 64), dtype=np.float32)
    b = np.zeros_like(a)
    k(a, b)
    np.testing.assert_allclose(b, a * 2)


def test_unroll_inside_a_vectorized_loop_is_written_out_first():
    A = te.placeholder((64, 4), name="A")
    r = te.reduce_axis((0, 4), name="r")
    B = te.compute((64,), lambda i: te.sum(A[i, r], axis=r), name="B")
    s = wb.create_schedule(B)
    io, ii = s[B].split(B.op.axis[0], factor=16)
    s[B].vectorize(ii)               # not the innermost loop: r is inside, and r is unrolled
    s[B].unroll(r)
    with warnings.catch_warnings():
        warnings.simplefilter("error", wb.ScheduleWarning)       # both marks honoured
        f = wb.lower(s, [A, B])
    assert "r" not in [lp.var.name for lp in _loops(f.body)]
    assert "ramp(" in str(f.body)
    k = wb.build(s, [A, B], cache=None)
    a = np.random.default_rng(1).random((64, 4), dtype=np.float32)
    b = np.zeros(64, "float32")
    k(a, b)
    np.testing.assert_allclose(b, a.sum(1), rtol=1e-6)


def test_memo_of_shared_subtrees_matches_simplifying_each_copy(monkeypatch):
    from workbench.ir import simplify as simp
    s, args = cpu_schedules.matmul_blocked(256, 256, 256)
    f = wb.lower(s, args)
    unrolled = dict(f.history)["unroll"]
    memo_hits = []
    real = simp.post_order

    def counting(node, fn, memo=None):
        if memo:
            memo_hits.append(len(memo))
        return real(node, fn, memo)
    monkeypatch.setattr(simp, "post_order", counting)
    with_memo = simplify_stmt(unrolled)
    assert memo_hits                       # the memo was in use
    monkeypatch.setattr(simp.__dict__["_StmtSimplifier"], "mutate_expr",
                        lambda self, e: simp._simp(e, self.ranges))
    without = simplify_stmt(unrolled)
    assert str(with_memo) == str(without) == str(f.body)


def test_substitute_each_equals_one_substitution_per_value():
    from workbench.ir import expr as E
    from workbench.ir.visitor import substitute, substitute_each
    s, args = cpu_schedules.matmul_blocked(64, 64, 64)
    body = dict(wb.lower(s, args).history)["vectorize"]
    loops = _loops(body)
    for lp in loops:
        vals = [E.const(v, lp.var.dtype) for v in (0, 3, 7)]
        each = substitute_each(lp.body, lp.var, vals)
        assert [str(x) for x in each] == [str(substitute(lp.body, {lp.var: v})) for v in vals]
    # a body without the variable is the same object in every copy
    from workbench.ir.visitor import uses_var
    pack, k_loop = loops[0], loops[-1]
    assert not uses_var(pack.body, k_loop.var)
    copies = substitute_each(pack.body, k_loop.var, [E.const(1, "int32"), E.const(2, "int32")])
    assert copies[0] is copies[1] is pack.body
