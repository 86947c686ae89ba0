"""Storage flattening: multi-dimensional buffer indices become one row-major flat index."""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import simplify_expr
from ..ir.visitor import StmtMutator


def flat_index(buf, indices):
    """The row-major flat index of `indices` into `buf` (a 1-tuple)."""
    if len(indices) == 1:
        return indices
    idx, stride = None, 1
    for i, ext in zip(reversed(indices), reversed(buf.shape)):
        term = i if stride == 1 else i * stride
        idx = term if idx is None else term + idx
        stride *= ext
    return (simplify_expr(idx),)


class _Flatten(StmtMutator):
    def rewrite_expr(self, n):
        if type(n) is E.BufferLoad and len(n.indices) != 1:
            return E.BufferLoad(n.buffer, flat_index(n.buffer, n.indices))
        return None

    def visit_BufferStore(self, s):
        value = self.mutate_expr(s.value)
        idx = tuple(self.mutate_expr(i) for i in s.indices)
        if len(idx) != 1:
            idx = flat_index(s.buffer, idx)
        return S.BufferStore(s.buffer, value, idx)


def storage_flatten(s: S.Stmt) -> S.Stmt:
    return _Flatten().visit(s)
