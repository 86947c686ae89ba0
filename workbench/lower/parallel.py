"""A parallel loop inside another parallel loop runs serially (one OpenMP team at a time): make it
a serial loop here, with a note, so the printed IR says what will run."""
from __future__ import annotations

from dataclasses import replace

from ..ir import stmt as S
from ..ir.visitor import StmtMutator


class _Serialize(StmtMutator):
    def __init__(self, on_note=None):
        super().__init__()
        self.on_note = on_note

    def visit_For(self, f):
        outer = next((lp for lp in self.loops if lp.kind == S.ForKind.parallel), None)
        if f.kind == S.ForKind.parallel and outer is not None:
            why = f"inside parallel loop {outer.var.name}"
            if self.on_note is not None:
                self.on_note("parallel", f.var, why)
            f = replace(f, kind=S.ForKind.serial, notes=f.notes + (("not_parallel", why),))
        return self.generic(f)


def serialize_nested_parallel(s: S.Stmt, on_note=None) -> S.Stmt:
    """`on_note(primitive, loop_var, why)` hears about every loop made serial."""
    return _Serialize(on_note).visit(s)
