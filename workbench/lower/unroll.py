"""Unrolling: loops marked `unroll`, and loops under an `auto_unroll_max_step` pragma whose total
number of iterations (including inner loops) is at most its value, are replaced by copies of their
body with the loop variable set to each value.

Code size is bounded: an unroll may expand to at most `unroll_limit` statements (PassContext,
default DEFAULT_UNROLL_LIMIT = 4096), counted as the statements the expansion writes out (a loop
left rolled inside counts its body once, an unrolled one counts it extent times). An explicit
`unroll` over the limit is a ScheduleError naming the stage, the axis and the count, raised before
anything is expanded; an auto_unroll_max_step pragma simply leaves such loops rolled. A loop that
stays rolled never keeps kind "unrolled" (codegen would ask LLVM to unroll it fully).
"""
from __future__ import annotations

from dataclasses import replace

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.visitor import StmtMutator, substitute_each
from ..schedule.errors import ScheduleError

DEFAULT_UNROLL_LIMIT = 4096
# codegen's guard against asking LLVM for a huge full unroll; after this pass no loop keeps kind
# "unrolled", so the guard only matters for IR that skipped the pass
MAX_UNROLL = DEFAULT_UNROLL_LIMIT


def _steps(s) -> int | None:
    """Innermost statements executed by s; None if a loop extent is not constant."""
    t = type(s)
    if t is S.For:
        if type(s.extent) is not E.Const:
            return None
        inner = _steps(s.body)
        if inner is None:
            return None
        return inner if s.kind == "vectorized" else s.extent.value * inner
    if t is S.SeqStmt:
        total = 0
        for x in s.stmts:
            v = _steps(x)
            if v is None:
                return None
            total += v
        return total
    if t in (S.IfThenElse, S.Allocate, S.AssertStmt):
        parts = [s.then_case, s.else_case] if t is S.IfThenElse else [s.body]
        vals = [_steps(p) for p in parts if p is not None]
        return None if any(v is None for v in vals) else max(vals)
    return 1


def code_size(s) -> int:
    """Statements written out in s (a rolled loop counts its body once)."""
    t = type(s)
    if t is S.SeqStmt:
        return sum(code_size(x) for x in s.stmts)
    if t is S.For:
        return 1 + code_size(s.body)
    if t is S.IfThenElse:
        return 1 + code_size(s.then_case) + (code_size(s.else_case) if s.else_case is not None else 0)
    if t in (S.Allocate, S.AssertStmt):
        return 1 + code_size(s.body)
    return 0 if t is S.Evaluate else 1


def _unroll_loop(f: S.For) -> S.Stmt:
    lo = f.min
    return S.seq(*substitute_each(f.body, f.var, [E.const(lo.value + i, f.var.dtype)
                                                  for i in range(f.extent.value)]))


class _Unroll(StmtMutator):
    def __init__(self, max_step, limit, origin):
        super().__init__()
        self.auto = [max_step]
        self.limit, self.origin = limit, origin

    def visit_For(self, f):
        here = dict(f.annotations).get("auto_unroll_max_step")
        if here is not None:
            self.auto.append(here)
        try:
            n = self.generic(f)
        finally:
            if here is not None:
                self.auto.pop()
        const = type(n.min) is E.Const and type(n.extent) is E.Const
        limit = self.auto[-1]
        # copies are not simplified here: final_simplify does it once for the whole body
        if n.kind == S.ForKind.unrolled:
            if not const:
                return replace(n, kind=S.ForKind.serial,
                               notes=n.notes + (("not_unrolled", "its extent is not a constant"),))
            size = n.extent.value * code_size(n.body)
            if size > self.limit:
                stage = self.origin.get(n.var)
                raise ScheduleError(
                    "unroll", f"axis={n.var.name}",
                    f"unrolling {n.extent.value} iterations of a body of {code_size(n.body)} statements "
                    f"would write out {size} statements, over the limit of {self.limit} "
                    "(PassContext.unroll_limit); unroll a shorter or inner loop, or split it first", stage)
            return _unroll_loop(n)
        if const and n.kind == S.ForKind.serial and limit and not n.annotations:
            steps = _steps(n)
            if steps is not None and steps <= limit and n.extent.value * code_size(n.body) <= self.limit:
                return _unroll_loop(n)
        return n


def unroll(s: S.Stmt, max_step: int = 0, *, limit: int = DEFAULT_UNROLL_LIMIT, origin=None) -> S.Stmt:
    """`origin` maps loop variables to the name of the stage they belong to (for errors)."""
    return _Unroll(max_step, limit, origin or {}).visit(s)
