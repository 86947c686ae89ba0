"""A parallel loop inside another parallel loop runs serially (one OpenMP team at a time): make it
a serial loop here, with a note, so the printed IR says what will run."""
from __future__ import annotations

from ..ir import stmt as S
from ..ir.visitor import map_children


def serialize_nested_parallel(s: S.Stmt) -> S.Stmt:
    def rec(n, outer):
        if type(n) is S.For:
            if n.kind == "parallel" and outer is not None:
                note = ("not_parallel", f"inside parallel loop {outer}")
                return S.For(n.var, n.min, n.extent, "serial", rec(n.body, outer), n.annotations + (note,))
            inner = n.var.name if n.kind == "parallel" else outer
            return S.For(n.var, n.min, n.extent, n.kind, rec(n.body, inner), n.annotations)
        if isinstance(n, S.Stmt):
            return map_children(n, lambda c: rec(c, outer) if isinstance(c, S.Stmt) else c)
        return n
    return rec(s, None)
