"""Storage flattening: multi-dimensional buffer indices become one row-major flat index."""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import simplify_expr
from ..ir.visitor import post_order


def _flat(buf, indices):
    if len(indices) == 1:
        return indices
    idx, stride = None, 1
    for i, ext in zip(reversed(indices), reversed(buf.shape)):
        term = i if stride == 1 else i * stride
        idx = term if idx is None else term + idx
        stride *= ext
    return (simplify_expr(idx),)


def storage_flatten(s: S.Stmt) -> S.Stmt:
    def fn(n):
        if type(n) is E.BufferLoad and len(n.indices) != 1:
            return E.BufferLoad(n.buffer, _flat(n.buffer, n.indices))
        if type(n) is S.BufferStore and len(n.indices) != 1:
            return S.BufferStore(n.buffer, n.value, _flat(n.buffer, n.indices))
        return None
    return post_order(s, fn)
