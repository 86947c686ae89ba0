"""Bounds checking: every buffer access, dimension by dimension, against the loop ranges.

- provably in bounds (range analysis of the index over the enclosing loops, tightened by the
  `if`/`select` conditions guarding it): nothing to do, which is the case for ordinary schedules;
- provably out of bounds (an access every loop iteration reaches, whose index is exact in the
  loop variables and leaves the dimension): `BoundsError` at lowering, naming tensor, index, ranges;
- otherwise (data-dependent gathers such as X[I[i]], guards the analysis cannot use): a run-time
  `AssertStmt`; the kernel stops and runtime.Kernel raises IndexError(message). The check is hoisted
  out of every loop it can be: over a loop whose variable enters the index linearly, the index's
  minimum and maximum are checked once, before the loop, instead of once per iteration.

PassContext(bounds_checks=False) drops the run-time checks (provable errors are still raised).
"""
from __future__ import annotations

from ..ir import dtype as dt
from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import _lin_bounds, bounds, linear, simplify_expr
from ..ir.visitor import LoopRanges, StmtMutator, StmtVisitor, contains, find_all, substitute, uses_var


class BoundsError(IndexError):
    """An access that is provably out of bounds, found at lowering."""


def bounds_check(s: S.Stmt, loop_stage: dict | None = None, checks: bool = True) -> S.Stmt:
    c = _Collect(loop_stage or {}, checks)
    c.stored = {n.buffer for n in find_all(s, lambda n: type(n) is S.BufferStore)}
    c.visit(s)
    if not c.placed:
        return s
    out = _Insert(c.placed).visit(s)
    top = c.placed.get(None)
    return _wrap(out, top) if top else out


# ------------------------------------------------------------------------------------------------
def _conjuncts(cond) -> list:
    out, stack = [], [cond]
    while stack:
        c = stack.pop()
        if type(c) is E.And:
            stack += [c.b, c.a]
        else:
            out.append(c)
    return out


def _tighten(ranges: dict, conds) -> dict:
    """Narrow loop-variable ranges with guards of the form `a*v + k <op> 0` (one variable)."""
    out = None
    for cond in conds:
        for c in _conjuncts(cond):
            t = type(c)
            if t not in (E.LT, E.LE, E.GT, E.GE, E.EQ) or not dt.is_int(c.a.dtype):
                continue
            lin = linear(simplify_expr(c.a - c.b))
            if lin is None or len(lin[0]) != 1:
                continue
            (v, a), k = next(iter(lin[0].items())), lin[1]
            if type(v) is not E.Var or v not in ranges:
                continue
            forms = {E.LT: [(a, k + 1)], E.LE: [(a, k)], E.GT: [(-a, -k + 1)], E.GE: [(-a, -k)],
                     E.EQ: [(a, k), (-a, -k)]}[t]
            lo, hi = (out or ranges)[v]
            for a2, k2 in forms:          # a2*v + k2 <= 0
                if a2 > 0:
                    hi = min(hi, (-k2) // a2)
                elif a2 < 0:
                    lo = max(lo, -((-k2) // (-a2)))
            if out is None:
                out = dict(ranges)
            out[v] = (lo, hi)
    return ranges if out is None else out


def _index_bounds(idx, ranges, conds=()):
    lin = linear(idx)
    b = _lin_bounds(lin[0], lin[1], ranges) if lin is not None else None
    if b is None:
        b = bounds(idx, ranges)
    if b is None or lin is None:
        return b
    # a guard on the index itself (`i.outer * 4 + i.inner < 10` around C[i.outer * 4 + i.inner])
    lo, hi = b
    for cond in conds:
        for c in _conjuncts(cond):
            if type(c) not in (E.LT, E.LE, E.GT, E.GE) or not dt.is_int(c.a.dtype):
                continue
            g = linear(simplify_expr(c.a - c.b))
            if g is None or not g[0] or set(map(id, g[0])) != set(map(id, lin[0])):
                continue
            for s in (1, -1):
                if all(lin[0][a] == s * k for a, k in g[0].items()):
                    off = lin[1] - s * g[1]          # idx = s * g + off
                    # g < 0 | g <= 0 | g > 0 | g >= 0, as g <= gmax or g >= gmin
                    gmax = {E.LT: -1, E.LE: 0}.get(type(c))
                    gmin = {E.GT: 1, E.GE: 0}.get(type(c))
                    if gmax is not None:
                        hi, lo = (min(hi, gmax + off), lo) if s == 1 else (hi, max(lo, -gmax + off))
                    if gmin is not None:
                        lo, hi = (max(lo, gmin + off), hi) if s == 1 else (lo, min(hi, -gmin + off))
    return lo, hi


class _Collect(LoopRanges, StmtVisitor):
    def __init__(self, loop_stage, checks):
        super().__init__()
        self.loop_stage, self.checks = loop_stage, checks
        self.if_conds: list = []
        self.exact: list = []           # per enclosing loop: constant min and extent
        self.stmt = None                # the statement being checked
        self.placed: dict = {}          # id(For) | id(stmt) | None -> [(cond, message)]
        self.stored: set = set()        # buffers the function writes
        self.seen: set = set()

    # -- traversal ---------------------------------------------------------------------------------
    def enter_loop(self, f):
        super().enter_loop(f)
        self.exact.append(type(f.min) is E.Const and type(f.extent) is E.Const and f.extent.value > 0)

    def exit_loop(self, f):
        self.exact.pop()
        super().exit_loop(f)

    def visit_IfThenElse(self, s):
        self.visit_expr(s.cond)
        self.if_conds.append(s.cond)
        self.visit(s.then_case)
        self.if_conds.pop()
        if s.else_case is not None:
            self.if_conds.append(E.Not(s.cond))
            self.visit(s.else_case)
            self.if_conds.pop()

    def visit_BufferStore(self, s):
        self.stmt = s
        self.visit_expr(s.value)
        for i in s.indices:
            self.visit_expr(i)
        self._access(s.buffer, s.indices, ())
        self.stmt = None

    def visit_expr(self, e):
        stack = [(e, ())]
        while stack:
            n, conds = stack.pop()
            t = type(n)
            if t is E.Select:
                stack += [(n.cond, conds), (n.t, conds + (n.cond,)), (n.f, conds + (E.Not(n.cond),))]
                continue
            if t is E.BufferLoad:
                self._access(n.buffer, n.indices, conds)
            if t is E.Var or t is E.Const:
                continue
            from ..ir.visitor import children
            stack += [(c, conds) for c in children(n)]

    # -- one access ----------------------------------------------------------------------------------
    def _access(self, buf, indices, select_conds):
        if len(indices) != len(buf.shape):
            return                        # flat already (a backend's own buffers): not ours to check
        conds = tuple(self.if_conds) + tuple(select_conds)
        usable = [c for c in conds if type(c) is not E.Not]
        ranges = _tighten(self.ranges, usable) if usable else self.ranges
        for d, (idx, ext) in enumerate(zip(indices, buf.shape)):
            b = _index_bounds(idx, ranges, usable)
            if b is not None and 0 <= b[0] and b[1] < ext:
                continue
            if b is not None and not conds and all(self.exact) and self._exact(idx):
                self._provable_error(buf, indices, d, idx, ext, b)
            if self.checks:
                self._runtime_check(buf, indices, d, idx, ext, conds)

    def _exact(self, idx) -> bool:
        """Interval bounds of idx are attained: linear, each term a loop variable of a constant loop."""
        lin = linear(idx)
        if lin is None:
            return False
        loop_vars = {lp.var for lp in self.loops}
        return all(type(a) is E.Var and a in loop_vars for a in lin[0])

    def _where(self) -> str:
        for lp in reversed(self.loops):
            st = self.loop_stage.get(lp.var)
            if st:
                return f" in stage {st!r}"
        return ""

    def _provable_error(self, buf, indices, d, idx, ext, b):
        access = f"{buf.name}[{', '.join(str(i) for i in indices)}]"
        used = [lp for lp in self.loops if uses_var(idx, lp.var)]
        over = ", ".join(f"{lp.var.name} in [{self.ranges[lp.var][0]}, {self.ranges[lp.var][1]}]"
                         for lp in used if lp.var in self.ranges)
        raise BoundsError(f"out-of-bounds access {access}{self._where()}: index {d} is `{idx}`, which "
                          f"ranges over [{b[0]}, {b[1]}]{' for ' + over if over else ''}, but dimension {d} "
                          f"of {buf.name} has extent {ext} (valid indices 0..{ext - 1})")

    def _runtime_check(self, buf, indices, d, idx, ext, conds):
        lo_e = hi_e = idx
        guard = list(conds)
        place = None
        # a check that loads from a buffer the function writes must run where the access does;
        # one that loads only inputs (a gather's index array) hoists like any other
        written = lambda n: type(n) is E.BufferLoad and n.buffer in self.stored  # noqa: E731
        if contains(idx, written) or any(contains(c, written) for c in guard):
            place = id(self.stmt) if self.stmt is not None else None
            anchor = "stmt"
        else:
            anchor = "loop"
            for lp, exact in zip(reversed(self.loops), reversed(self.exact)):
                v = lp.var
                in_guard = any(uses_var(c, v) for c in guard)
                if not in_guard and not uses_var(lo_e, v) and not uses_var(hi_e, v):
                    continue
                moved = None if in_guard or not exact else _extreme(lo_e, hi_e, v, lp)
                if moved is None:
                    place = id(lp)
                    break
                lo_e, hi_e = moved
        cond = E.And(simplify_expr(lo_e) >= 0, simplify_expr(hi_e) < ext)
        if guard:
            g = guard[0]
            for c in guard[1:]:
                g = E.And(g, c)
            cond = E.Or(E.Not(g), cond)
        cond = simplify_expr(cond)
        if type(cond) is E.Const and cond.value:
            return
        access = f"{buf.name}[{', '.join(str(i) for i in indices)}]"
        msg = (f"index out of bounds{self._where()}: {access}: index {d} (`{idx}`) must lie in "
               f"[0, {ext - 1}]")
        if anchor == "loop" and place is None and type(cond) is E.Const:
            # every variable was hoisted out and the check is decided now: it fails
            if not guard:
                raise BoundsError(f"out-of-bounds access {access}{self._where()}: index {d} (`{idx}`) "
                                  f"leaves [0, {ext - 1}]")
        key = (place, str(cond))
        if key in self.seen:
            return
        self.seen.add(key)
        self.placed.setdefault(place, []).append((cond, msg))


def _extreme(lo_e, hi_e, v, lp):
    """(lo_e, hi_e) with v replaced by the loop's end that minimises / maximises each, when v enters
    both linearly; None otherwise."""
    out = []
    for e, want_min in ((lo_e, True), (hi_e, False)):
        lin = linear(e)
        if lin is None:
            return None
        terms = lin[0]
        c = terms.get(v, 0)
        if any(a is not v and uses_var(a, v) for a in terms):
            return None
        first, last = lp.min.value, lp.min.value + lp.extent.value - 1
        at = (first if c > 0 else last) if want_min else (last if c > 0 else first)
        out.append(substitute(e, {v: E.const(at, v.dtype)}) if c else e)
    return tuple(out)


class _Insert(StmtMutator):
    def __init__(self, placed):
        super().__init__()
        self.placed = placed

    def visit_For(self, f):
        new = self.generic(f)
        checks = self.placed.get(id(f))
        if checks:
            new = S.For(new.var, new.min, new.extent, new.kind, _wrap(new.body, checks), new.annotations, new.notes)
        return new

    def visit_BufferStore(self, s):
        checks = self.placed.get(id(s))
        return _wrap(s, checks) if checks else s


def _wrap(body, checks):
    for cond, msg in reversed(checks):
        body = S.AssertStmt(cond, msg, body)
    return body
