"""Loop partitioning: split a loop where a guard's truth changes, so the main part runs without the
guard (the tail of a split that does not divide, the border of a padded region)."""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import bounds, linear, simplify_expr, simplify_stmt
from ..ir.visitor import LoopRanges, StmtMutator, find_all, uses_var, walk

_MAX_PIECES = 64   # keeps pathological schedules from blowing up the code size


def loop_partition(s: S.Stmt, *, keep_trivial_loops: bool = False) -> S.Stmt:
    return _Partition(frozenset(), [_MAX_PIECES], keep_trivial_loops).visit(s)


class _Partition(LoopRanges, StmtMutator):
    def __init__(self, tried, budget, keep, ranges=None):
        super().__init__(ranges)
        self.tried, self.budget, self.keep = tried, budget, keep

    def visit_For(self, s):
        if type(s.min) is E.Const and type(s.extent) is E.Const and self.budget[0] > 0:
            r = _partition_for(s, self.ranges, self.tried, self.budget, self.keep)
            if r is not None:
                return r
        return self.generic(s)


def _guards(s, var, out):
    """IfThenElse guards (no else) under s whose condition is linear in var."""
    out += find_all(s, lambda n: type(n) is S.IfThenElse and n.else_case is None
                    and type(n.cond) in (E.LT, E.LE, E.GT, E.GE))
    return [g for g in out if _coef(g.cond, var) not in (None, 0)]


def _normal(cond):
    """cond as d < 0 with d linear: returns d's linear form."""
    a, b = cond.a, cond.b
    t = type(cond)
    if t is E.LT:
        d = a - b
    elif t is E.LE:
        d = a - b - 1
    elif t is E.GT:
        d = b - a
    else:
        d = b - a - 1
    return linear(simplify_expr(d))


def _coef(cond, var):
    lin = _normal(cond)
    if lin is None:
        return None
    terms, _ = lin
    for atom, c in terms.items():
        if atom is not var and uses_var(atom, var):
            return None
    return terms.get(var, 0)


def _inner_ranges(s, ranges):
    out = dict(ranges)
    def fn(n):
        if type(n) is S.For and type(n.min) is E.Const and type(n.extent) is E.Const:
            out[n.var] = (n.min.value, n.min.value + n.extent.value - 1)
    walk(s, fn)
    return out


def _partition_for(f: S.For, ranges, tried, budget, keep):
    lo, n = f.min.value, f.extent.value
    hi = lo + n                    # exclusive
    rng = _inner_ranges(f.body, ranges)
    for g in _guards(f.body, f.var, []):
        if id(g) in tried:
            continue
        terms, const = _normal(g.cond)
        a = terms.pop(f.var)
        rest = const
        rlo = rhi = const
        ok = True
        for atom, c in terms.items():
            b = bounds(atom, rng)
            if b is None:
                ok = False
                break
            rlo += min(c * b[0], c * b[1])
            rhi += max(c * b[0], c * b[1])
        if not ok:
            continue
        _ = rest
        # the guard is `a*v + rest < 0`, rest in [rlo, rhi]
        if a > 0:
            t_true = -(-(-rhi) // a)          # v < t_true: always true
            t_false = -(-(-rlo) // a)         # v >= t_false: always false
            pieces = [(lo, t_true, True), (t_true, t_false, None), (t_false, hi, False)]
        else:
            na = -a
            f_false = rlo // na + 1           # v < f_false: always false
            f_true = rhi // na + 1            # v >= f_true: always true
            pieces = [(lo, f_false, False), (f_false, f_true, None), (f_true, hi, True)]
        pieces = [(max(p, lo), min(q, hi), v) for p, q, v in pieces]
        pieces = [(p, q, v) for p, q, v in pieces if q > p]
        if len(pieces) <= 1 and (not pieces or pieces[0][2] is None):
            continue
        budget[0] -= len(pieces)
        out = []
        for p, q, verdict in pieces:
            body = _resolve(f.body, g, verdict)
            if verdict is None:
                sub_tried = tried | {id(g)}
            else:
                sub_tried = tried
            piece = S.For(f.var, E.const(p), E.const(q - p), f.kind, body, f.annotations, f.notes)
            piece = simplify_stmt(piece, ranges, keep_trivial_loops=keep)
            if not isinstance(piece, S.Evaluate):
                piece = _Partition(sub_tried, budget, keep, ranges).visit(piece)
            out.append(piece)
        return S.seq(*out)
    return None


def _resolve(s, guard, verdict):
    if verdict is None:
        return s
    def fn(n):
        return (n.then_case if verdict else S.Evaluate()) if n is guard else None
    return _replace_stmt(s, guard, fn)


def _replace_stmt(s, target, fn):
    """s with the statement object `target` replaced by fn(target) (identity, not equality)."""
    class _R(StmtMutator):
        def visit(self, n):
            return fn(n) if n is target else self.generic(n)
    return _R().visit(s)
