"""Index simplification: constant folding, linear canonical forms of integer expressions, and
range-aware rules for //, %, comparisons, min and max (what split/fuse/compute_at produce).

`bounds(e, ranges)` is interval arithmetic over integer expressions; `ranges` maps loop variables
to inclusive (lo, hi) pairs and is filled by `simplify_stmt` from the enclosing loops.
"""
from __future__ import annotations



from . import dtype as dt
from . import expr as E
from . import stmt as S
from .visitor import LoopRanges, StmtMutator, fold, post_order, substitute

_ARITH = (E.Add, E.Sub, E.Mul)


# -- interval arithmetic -----------------------------------------------------------------------
def int_range(dtype: str):
    """Inclusive range of an integer dtype."""
    b = dt.bits(dtype)
    return (-(1 << (b - 1)), (1 << (b - 1)) - 1) if dt.is_signed(dtype) else (0, (1 << b) - 1)


def _fits(r, dtype) -> bool:
    lo, hi = int_range(dtype)
    return lo <= r[0] and r[1] <= hi


def bounds(e, ranges: dict):
    """Inclusive (lo, hi) integer bounds of e, or None when unbounded / not an integer expression.

    Integer arithmetic wraps at its dtype's width: an Add/Sub/Mul whose interval leaves the dtype
    gives None (the machine result could be anywhere), and a narrowing Cast of a value that may not
    fit gives the whole target range (int8(i) over i in [0, 255] is [-128, 127], not [0, 255])."""
    def skip(n):
        t = type(n)
        if t is E.Const:
            v = n.value
            return (v, v) if isinstance(v, int) and not isinstance(v, bool) else _NONE
        if t is E.Var:
            return ranges.get(n, _NONE)
        if t not in _BOUNDED:
            return _NONE
        return None
    r = fold(e, _bounds_node, skip)
    return None if r is _NONE else r


_NONE = ("unbounded",)   # fold's skip() needs a non-None marker for "no bounds"
_BOUNDED = (E.Add, E.Sub, E.Mul, E.Min, E.Max, E.FloorDiv, E.FloorMod, E.Select, E.Cast)


def _bounds_node(e, kids):
    t = type(e)
    if t is E.Select:
        a, b = kids[1], kids[2]
        return _NONE if a is _NONE or b is _NONE else (min(a[0], b[0]), max(a[1], b[1]))
    if t is E.Cast:
        if not (dt.is_int(e.dtype) and dt.is_int(e.value.dtype)) or dt.lanes(e.dtype) != 1:
            return _NONE
        a = kids[0]
        if a is _NONE or not _fits(a, e.dtype):
            return int_range(e.dtype)
        return a
    a, b = kids
    if t is E.FloorMod:
        if b is _NONE or b[0] <= 0:
            return _NONE
        if a is not _NONE and a[0] >= 0 and a[1] < b[0]:
            return a
        return (0, b[1] - 1)
    if a is _NONE or b is _NONE:
        return _NONE
    if t is E.Add:
        r = (a[0] + b[0], a[1] + b[1])
    elif t is E.Sub:
        r = (a[0] - b[1], a[1] - b[0])
    elif t is E.Mul:
        c = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
        r = (min(c), max(c))
    elif t is E.Min:
        return (min(a[0], b[0]), min(a[1], b[1]))
    elif t is E.Max:
        return (max(a[0], b[0]), max(a[1], b[1]))
    else:  # FloorDiv
        if b[0] <= 0:
            return _NONE
        c = [a[0] // b[0], a[0] // b[1], a[1] // b[0], a[1] // b[1]]
        return (min(c), max(c))
    if dt.is_int(e.dtype) and not _fits(r, e.dtype):
        return _NONE
    return r


# -- linear forms ------------------------------------------------------------------------------
def linear(e):
    """e as ({atom: coef}, const) where atoms are Vars or non-linear subexpressions; None if e is
    not an integer expression."""
    if not dt.is_int(e.dtype) or dt.lanes(e.dtype) != 1:
        return None
    terms: dict = {}
    const = _lin(e, 1, terms)
    return {a: c for a, c in terms.items() if c != 0}, const


def _lin(e, k, terms) -> int:
    """Accumulate k * e into terms; returns the constant part. Iterative (Add chains are deep)."""
    const = 0
    stack = [(e, k)]
    while stack:
        e, k = stack.pop()
        t = type(e)
        if t is E.Const:
            const += k * e.value
        elif t is E.Add:
            stack.append((e.b, k)); stack.append((e.a, k))
        elif t is E.Sub:
            stack.append((e.b, -k)); stack.append((e.a, k))
        elif t is E.Mul and type(e.b) is E.Const:
            stack.append((e.a, k * e.b.value))
        elif t is E.Mul and type(e.a) is E.Const:
            stack.append((e.b, k * e.a.value))
        else:
            _add_term(terms, e, k)
    return const


def _add_term(terms, atom, k):
    for key in terms:
        if key is atom or (type(key) is type(atom) and type(atom) is not E.Var and E.structural_equal(key, atom)):
            terms[key] += k
            return
    terms[atom] = k


def from_linear(terms: dict, const: int, dtype: str = "int32") -> E.Expr:
    out = None
    for atom, c in terms.items():
        if c == 0:
            continue
        if out is None:
            out = atom if c == 1 else (E.Sub(E.Const(0, dtype), atom) if c == -1 else E.Mul(atom, E.Const(c, dtype)))
        elif c > 0:
            out = E.Add(out, atom if c == 1 else E.Mul(atom, E.Const(c, dtype)))
        else:
            out = E.Sub(out, atom if c == -1 else E.Mul(atom, E.Const(-c, dtype)))
    if out is None:
        return E.Const(const, dtype)
    if const > 0:
        out = E.Add(out, E.Const(const, dtype))
    elif const < 0:
        out = E.Sub(out, E.Const(-const, dtype))
    return out


def _merge_divmod(terms: dict) -> dict:
    """x // c * c + x % c -> x (what fusing two loops and splitting the result back produces)."""
    for atom, k in list(terms.items()):
        if type(atom) is E.FloorDiv and type(atom.b) is E.Const and atom in terms:
            c = atom.b.value
            if c == 0 or k % c:     # x // 0 (== 0, as numpy) after unrolling: nothing to merge
                continue
            for other, k2 in list(terms.items()):
                if type(other) is E.FloorMod and E.structural_equal(other.a, atom.a) \
                        and type(other.b) is E.Const and other.b.value == c and k2 * c == k:
                    del terms[atom], terms[other]
                    x_terms, x_const = linear(atom.a)
                    merged = dict(terms)
                    for a2, c2 in x_terms.items():
                        _add_term(merged, a2, c2 * k2)
                    if x_const:
                        _add_term(merged, E.Const(1, atom.a.dtype), x_const * k2)
                    return _merge_divmod({a: v for a, v in merged.items() if v})
    return terms


def _lin_bounds(terms, const, ranges):
    lo = hi = const
    for atom, c in terms.items():
        b = bounds(atom, ranges)
        if b is None:
            return None
        lo += min(c * b[0], c * b[1])
        hi += max(c * b[0], c * b[1])
    return lo, hi


# -- expression simplification -----------------------------------------------------------------
def _fold(t, a, b, dtype):
    if t is E.Add: v = a + b
    elif t is E.Sub: v = a - b
    elif t is E.Mul: v = a * b
    elif t is E.Div: v = a / b if b != 0 else None
    elif t is E.FloorDiv: v = a // b if b != 0 else None
    elif t is E.FloorMod: v = a % b if b != 0 else None
    elif t is E.Min: v = min(a, b)
    elif t is E.Max: v = max(a, b)
    elif t is E.ShiftLeft or t is E.ShiftRight:
        if isinstance(a, bool) or not 0 <= b < dt.bits(dtype):
            return None          # out-of-range shift amounts are left for the machine, never folded
        v = a << b if t is E.ShiftLeft else a >> b
    elif t is E.LT: v = a < b
    elif t is E.LE: v = a <= b
    elif t is E.GT: v = a > b
    elif t is E.GE: v = a >= b
    elif t is E.EQ: v = a == b
    elif t is E.NE: v = a != b
    elif t is E.And: v = bool(a) and bool(b)
    elif t is E.Or: v = bool(a) or bool(b)
    else: return None
    if v is None:
        return None
    if dt.is_int(dtype):
        bits = dt.bits(dtype)
        v = int(v)
        # wrap like the machine does, so folding never changes a result
        v &= (1 << bits) - 1
        if dt.is_signed(dtype) and v >= 1 << (bits - 1):
            v -= 1 << bits
    elif dt.is_float(dtype):
        v = float(v)
        if dtype == "float32":
            import numpy as np
            v = float(np.float32(v))
    return E.Const(v, dtype)


def simplify_expr(e, ranges: dict | None = None):
    ranges = ranges if ranges is not None else {}
    return _simp(e, ranges)


def _simp(e, ranges, memo=None):
    t = type(e)
    if t is E.Const or t is E.Var:
        return e
    return post_order(e, lambda n: _simp_node(n, ranges), memo)


def _simp_node(e, ranges):
    """One rewrite of e, whose children are already simplified; None keeps e."""
    t = type(e)
    if t is E.Const or t is E.Var:
        return None
    if isinstance(e, E.BinOp):
        a, b = e.a, e.b
        if type(a) is E.Const and type(b) is E.Const and dt.lanes(a.dtype) == 1:
            r = _fold(t, a.value, b.value, e.dtype)
            if r is not None:
                return r
        if dt.is_int(a.dtype) and dt.lanes(a.dtype) == 1 and not dt.is_bool(a.dtype):
            return _simp_int(e, ranges)
        if dt.is_float(a.dtype):
            if t is E.Mul and type(b) is E.Const and b.value == 1.0:
                return a
            if t is E.Mul and type(a) is E.Const and a.value == 1.0:
                return b
            if t in (E.Add, E.Sub) and type(b) is E.Const and b.value == 0.0:
                return a
        if t in (E.And, E.Or):
            return _simp_logic(e)
        return None
    if t is E.Not and type(e.a) is E.Const:
        return E.Const(not e.a.value, e.dtype)
    if t is E.Select and type(e.cond) is E.Const:
        return e.t if e.cond.value else e.f
    if t is E.Cast and type(e.value) is E.Const and dt.lanes(e.dtype) == 1:
        v = e.value.value
        if dt.is_int(e.dtype) and not dt.is_float(e.value.dtype):
            return _fold(E.Add, int(v), 0, e.dtype)
        if dt.is_float(e.dtype):
            return _fold(E.Add, float(v), 0.0, e.dtype)
    return None


def _simp_logic(e):
    a, b = e.a, e.b
    if type(e) is E.And:
        if type(a) is E.Const:
            return b if a.value else a
        if type(b) is E.Const:
            return a if b.value else b
    else:
        if type(a) is E.Const:
            return a if a.value else b
        if type(b) is E.Const:
            return b if b.value else a
    return e


def _simp_int(e, ranges):
    t = type(e)
    dtype = e.a.dtype
    if t in _ARITH:
        terms, const = linear(e)
        return from_linear(_merge_divmod(terms), const, dtype)
    if t in (E.FloorDiv, E.FloorMod) and type(e.b) is E.Const and e.b.value > 0 \
            and (dt.bits(dtype) >= 32 or bounds(e.a, ranges) is not None):
        # (narrow integers wrap, so the linear rules below need the operand to provably fit)
        c = e.b.value
        terms, const = linear(e.a)
        if c == 1:
            return e.a if t is E.FloorDiv else E.Const(0, dtype)
        q_terms = {a: k // c for a, k in terms.items() if k % c == 0}
        r_terms = {a: k for a, k in terms.items() if k % c != 0}
        q0, r0 = divmod(const, c)
        rb = _lin_bounds(r_terms, r0, ranges)
        if rb is not None and 0 <= rb[0] and rb[1] < c:
            if t is E.FloorDiv:
                return from_linear(q_terms, q0, dtype)
            return from_linear(r_terms, r0, dtype)
        if t is E.FloorMod:
            return E.FloorMod(from_linear(r_terms, r0, dtype), e.b) if q_terms or q0 else e
        return e
    if t in (E.Min, E.Max):
        ba, bb = bounds(e.a, ranges), bounds(e.b, ranges)
        if ba is not None and bb is not None:
            if ba[1] <= bb[0]:
                return e.a if t is E.Min else e.b
            if bb[1] <= ba[0]:
                return e.b if t is E.Min else e.a
        return e
    if isinstance(e, E.CmpOp) and t not in (E.And, E.Or):
        if dt.bits(dtype) < 32 and (bounds(e.a, ranges) is None or bounds(e.b, ranges) is None):
            return e     # a narrow operand may wrap: the linear form's verdict would be wrong
        terms, const = linear(E.Sub(e.a, e.b))
        d = _lin_bounds(terms, const, ranges)
        if d is not None:
            lo, hi = d
            verdict = {E.LT: (hi < 0, lo >= 0), E.LE: (hi <= 0, lo > 0), E.GT: (lo > 0, hi <= 0),
                       E.GE: (lo >= 0, hi < 0), E.EQ: (lo == hi == 0, lo > 0 or hi < 0),
                       E.NE: (lo > 0 or hi < 0, lo == hi == 0)}[t]
            if verdict[0]:
                return E.Const(True, "bool")
            if verdict[1]:
                return E.Const(False, "bool")
        return e
    return e


# -- statements --------------------------------------------------------------------------------
def simplify_stmt(s, ranges: dict | None = None, *, keep_trivial_loops: bool = False):
    """Simplify every expression with the ranges of the enclosing loops; drop empty loops and
    branches decided by range analysis; substitute extent-1 loops unless keep_trivial_loops."""
    return _StmtSimplifier(ranges, keep_trivial_loops).visit(s)


class _StmtSimplifier(LoopRanges, StmtMutator):
    def __init__(self, ranges, keep_trivial_loops):
        super().__init__(ranges)
        self.keep_trivial = keep_trivial_loops
        self.memo: dict = {}      # results of subtrees met before under the same loop ranges

    def mutate_expr(self, e):
        return _simp(e, self.ranges, self.memo)

    def enter_loop(self, f):
        super().enter_loop(f)
        self.memo = {}

    def exit_loop(self, f):
        super().exit_loop(f)
        self.memo = {}

    def visit_For(self, s):
        lo, ext = self.mutate_expr(s.min), self.mutate_expr(s.extent)
        if type(ext) is E.Const and ext.value <= 0:
            return S.Evaluate()
        if type(ext) is E.Const and ext.value == 1 and not self.keep_trivial:
            return self.visit(substitute(s.body, {s.var: lo}))
        f = S.For(s.var, lo, ext, s.kind, s.body, s.annotations, s.notes)
        self.enter_loop(f)
        try:
            body = self.visit(s.body)
        finally:
            self.exit_loop(f)
        if isinstance(body, S.Evaluate):
            return body
        return S.For(s.var, lo, ext, s.kind, body, s.annotations, s.notes)

    def visit_IfThenElse(self, s):
        cond = self.mutate_expr(s.cond)
        if type(cond) is E.Const:
            if cond.value:
                return self.visit(s.then_case)
            return self.visit(s.else_case) if s.else_case is not None else S.Evaluate()
        then = self.visit(s.then_case)
        other = self.visit(s.else_case) if s.else_case is not None else None
        if isinstance(other, S.Evaluate):
            other = None
        if isinstance(then, S.Evaluate) and other is None:
            return then
        return S.IfThenElse(cond, then, other)

    def visit_AssertStmt(self, s):
        cond = self.mutate_expr(s.cond)
        body = self.visit(s.body)
        if type(cond) is E.Const and cond.value:
            return body
        return S.AssertStmt(cond, s.message, body)

    def visit_Allocate(self, s):
        body = self.visit(s.body)
        return body if isinstance(body, S.Evaluate) else S.Allocate(s.buffer, body)
