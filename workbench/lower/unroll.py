"""Unrolling: loops marked `unroll`, and loops under an `auto_unroll_max_step` pragma whose total
number of iterations (including inner loops) is at most its value, are replaced by copies of their
body with the loop variable set to each value."""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.visitor import map_children, substitute

MAX_UNROLL = 1024   # an explicit unroll of a longer loop stays a loop (code size), as in TVM


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
    if t in (S.IfThenElse, S.Allocate):
        parts = [s.then_case, s.else_case] if t is S.IfThenElse else [s.body]
        vals = [_steps(p) for p in parts if p is not None]
        return None if any(v is None for v in vals) else max(vals)
    return 1


def _unroll_loop(f: S.For) -> S.Stmt:
    lo = f.min
    return S.seq(*[substitute(f.body, {f.var: E.const(lo.value + i)}) for i in range(f.extent.value)])


def unroll(s: S.Stmt, max_step: int = 0) -> S.Stmt:
    def rec(n, limit):
        if type(n) is S.For:
            here = dict(n.annotations).get("auto_unroll_max_step", limit)
            body = rec(n.body, here)
            n = S.For(n.var, n.min, n.extent, n.kind, body, n.annotations)
            const = type(n.min) is E.Const and type(n.extent) is E.Const
            # copies are not simplified here: final_simplify does it once for the whole body
            if const and n.kind == "unrolled" and n.extent.value <= MAX_UNROLL:
                return _unroll_loop(n)
            if const and n.kind == "serial" and limit and not n.annotations:
                steps = _steps(n)
                if steps is not None and steps <= limit:
                    return _unroll_loop(n)
            return n
        if isinstance(n, S.Stmt):
            return map_children(n, lambda c: rec(c, limit) if isinstance(c, S.Stmt) else c)
        return n
    return rec(s, max_step)
