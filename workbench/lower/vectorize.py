"""Explicit vectorization: an innermost loop marked `vectorize` whose body is straight-line stores
becomes one vector statement (Ramp indices, Broadcast scalars). Where that would change the result
(lane-dependent branches, inner loops, a store that lanes would share, a read of a stored buffer at
another index) the loop stays scalar and LLVM's own vectorizer gets a chance."""
from __future__ import annotations

from dataclasses import replace

from ..ir import dtype as dt
from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import from_linear, linear, simplify_expr
from ..ir.visitor import StmtMutator, find, uses_var, walk
from .unroll import DEFAULT_UNROLL_LIMIT, unroll


class _NotVectorizable(Exception):
    """Why a loop marked `vectorize` stays a scalar loop (shown in the printed IR)."""


def vectorize(s: S.Stmt, on_note=None, *, unroll_limit: int = DEFAULT_UNROLL_LIMIT, origin=None) -> S.Stmt:
    """`on_note(primitive, loop_var, why)` hears about every marked loop left scalar. Loops marked
    `unroll` inside a vectorized loop are unrolled first (`unroll_limit`, `origin`: as for unroll)."""
    return _Vectorize(on_note, unroll_limit, origin).visit(s)


class _Vectorize(StmtMutator):
    def __init__(self, on_note, unroll_limit, origin):
        super().__init__()
        self.on_note = on_note
        self.unroll_options = {"limit": unroll_limit, "origin": origin}

    def visit_For(self, f):
        n = self.generic(f)
        if n.kind != S.ForKind.vectorized:
            return n
        try:
            return _vectorize_loop(n, self.unroll_options)
        except _NotVectorizable as why:
            msg = str(why) or "not a straight-line body"
            if self.on_note is not None:
                self.on_note("vectorize", n.var, msg)
            return replace(n, kind=S.ForKind.serial, notes=n.notes + (("not_vectorized", msg),))


def _vectorize_loop(f: S.For, unroll_options) -> S.Stmt:
    if type(f.extent) is not E.Const or f.extent.value < 2:
        raise _NotVectorizable("extent is not a constant of at least 2")
    lanes = f.extent.value
    body = f.body
    # vectorize runs before unroll (as in TVM: one vector statement is unrolled, not many scalar
    # loops vectorized); loops marked `unroll` inside this one are written out here first
    if find(body, lambda n: type(n) is S.For and n.kind == S.ForKind.unrolled) is not None:
        body = unroll(body, **unroll_options)
    _check_dependences(body, f.var)
    return _Vec(f.var, f.min, lanes).stmt(body)


def _check_dependences(body, var):
    """Every buffer written in the loop may only be read at exactly the written index."""
    stores: dict = {}
    loads: list = []
    def fn(n):
        t = type(n)
        if t is E.BufferLoad:
            loads.append(n)
        elif t is S.For:
            raise _NotVectorizable(f"loop {n.var.name} is inside it (vectorize the innermost loop)")
        elif t is S.Allocate:
            raise _NotVectorizable(f"buffer {n.buffer.name} is allocated inside it")
        elif t is S.BufferStore:
            if n.buffer in stores and not E.structural_equal(stores[n.buffer], n.indices):
                raise _NotVectorizable(f"{n.buffer.name} is written at two different indices")
            stores[n.buffer] = n.indices
    walk(body, fn)      # one pass: loads are checked against every store, wherever it comes
    for n in loads:
        if n.buffer in stores and not E.structural_equal(stores[n.buffer], n.indices):
            raise _NotVectorizable(f"{n.buffer.name} is read at another index than it is written "
                                   "(a dependence between lanes)")


class _Vec:
    def __init__(self, var, lo, lanes):
        self.var, self.lo, self.lanes = var, lo, lanes

    def stmt(self, s):
        t = type(s)
        if t is S.SeqStmt:
            return S.seq(*[self.stmt(x) for x in s.stmts])
        if t is S.IfThenElse:
            if uses_var(s.cond, self.var):
                raise _NotVectorizable(f"a condition depends on the lane ({s.cond})")
            return S.IfThenElse(s.cond, self.stmt(s.then_case),
                                None if s.else_case is None else self.stmt(s.else_case))
        if t is S.BufferStore:
            idx = self.index(s.indices[0])
            if idx is None:
                raise _NotVectorizable(f"every lane would write the same element of {s.buffer.name} "
                                       "(a reduction)")
            return S.BufferStore(s.buffer, self.broadcast(self.expr(s.value)), (idx,))
        if t is S.AssertStmt:
            if uses_var(s.cond, self.var):
                raise _NotVectorizable(f"a run-time check depends on the lane ({s.message})")
            return S.AssertStmt(s.cond, s.message, self.stmt(s.body))
        if t is S.Evaluate:
            return s
        raise _NotVectorizable(f"cannot vectorize {type(s).__name__}")

    def index(self, e):
        """A Ramp for an index linear in the loop variable, None if it does not use it."""
        lin = linear(e)
        if lin is None:
            raise _NotVectorizable(f"index {e} is not an integer expression")
        terms, _ = lin
        coef = terms.get(self.var, 0)
        for atom in terms:
            if type(atom) is not E.Var and uses_var(atom, self.var):
                raise _NotVectorizable(f"index {e} has no constant stride across lanes")
        if not coef:
            return None
        rest = {a: c for a, c in terms.items() if a is not self.var}
        base = from_linear(rest, lin[1], e.dtype)   # e at the first lane: the rest + coef * lo
        if not (type(self.lo) is E.Const and self.lo.value == 0):
            base = simplify_expr(base + self.lo * coef)
        return E.Ramp(base, coef, self.lanes)

    def broadcast(self, e):
        return e if dt.lanes(e.dtype) == self.lanes else E.Broadcast(e, self.lanes)

    def expr(self, e):
        """e with the loop variable as a Ramp; returns e itself when e does not use it."""
        t = type(e)
        if t is E.Var:
            return E.Ramp(self.lo, 1, self.lanes) if e is self.var else e
        if t is E.Const:
            return e
        if t is E.BufferLoad:
            idx = self.index(e.indices[0])
            return E.BufferLoad(e.buffer, (idx,)) if idx is not None else e
        if isinstance(e, E.BinOp) or t is E.Not:
            kids = (e.a, e.b) if isinstance(e, E.BinOp) else (e.a,)
            parts = [self.expr(c) for c in kids]
            if all(p is c for p, c in zip(parts, kids)):
                return e
            return t(*[self.broadcast(p) for p in parts])
        if t is E.Select:
            kids = (e.cond, e.t, e.f)
            parts = [self.expr(c) for c in kids]
            if all(p is c for p, c in zip(parts, kids)):
                return e
            # a lane-invariant condition (e.g. the padding test of a pool whose channel lanes are
            # vectorized) is fine: codegen branches on it, so the unchosen side's loads never run
            if parts[0] is not e.cond and find(e, lambda n: type(n) is E.BufferLoad) is not None:
                raise _NotVectorizable("a lane-dependent select reads memory on both sides")
            return E.Select(*[self.broadcast(p) for p in parts])
        if t is E.Cast:
            v = self.expr(e.value)
            return e if v is e.value else E.Cast(dt.with_lanes(e.dtype, self.lanes), self.broadcast(v))
        if t is E.Call:
            args = [self.expr(a) for a in e.args]
            if all(a is b for a, b in zip(args, e.args)):
                return e
            return E.Call(e.name, tuple(self.broadcast(a) for a in args), dt.with_lanes(e.dtype, self.lanes))
        if uses_var(e, self.var):
            raise _NotVectorizable(f"cannot vectorize {type(e).__name__}")
        return e
