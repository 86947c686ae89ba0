"""Generic traversal: `post_order` rebuilds a tree bottom-up through a callback, `walk` visits.

Children are found from dataclass fields once per node class and cached, so passes stay short:
they handle the node types they care about and let everything else be rebuilt generically.
"""
from __future__ import annotations

from dataclasses import fields
from functools import lru_cache

from . import expr as E
from . import stmt as S

_NODE = (E.Expr, S.Stmt)


@lru_cache(maxsize=None)
def _all_fields(cls) -> tuple:
    return tuple(f.name for f in fields(cls))


@lru_cache(maxsize=None)
def _child_fields(cls) -> tuple:
    return tuple(f.name for f in fields(cls) if f.name not in ("dtype", "name", "combiner", "kind",
                                                                "buffer", "tensor", "annotations"))


def _map_value(v, fn):
    if isinstance(v, _NODE):
        return fn(v)
    if isinstance(v, tuple):
        new = tuple(_map_value(x, fn) for x in v)
        return v if all(a is b for a, b in zip(new, v)) else new
    return v


def map_children(node, fn):
    """Apply fn to each direct child node; rebuild only if a child changed."""
    if isinstance(node, E.Var) or isinstance(node, E.Const) or not hasattr(node, "__dataclass_fields__"):
        return node
    changes = {}
    for name in _child_fields(type(node)):
        v = getattr(node, name)
        nv = _map_value(v, fn)
        if nv is not v:
            changes[name] = nv
    if not changes:
        return node
    kw = {name: changes[name] if name in changes else getattr(node, name) for name in _all_fields(type(node))}
    return type(node)(**kw)


def post_order(node, fn):
    """Rebuild bottom-up: fn(new_node) is called on each node after its children were rebuilt;
    fn returns a replacement or None to keep the node."""
    def rec(n):
        n2 = map_children(n, rec)
        r = fn(n2)
        return n2 if r is None else r
    return rec(node)


def walk(node, fn):
    """Call fn on every node, pre-order."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, tuple):
            stack.extend(reversed(n))
            continue
        if not isinstance(n, _NODE):
            continue
        fn(n)
        t = type(n)
        if t is E.Var or t is E.Const:
            continue
        kids = [getattr(n, name) for name in _child_fields(t)]
        stack.extend(reversed(kids))


def substitute(node, vmap: dict):
    """Replace variables by expressions (vmap keys are Var objects)."""
    if not vmap:
        return node
    def rec(n):
        if type(n) is E.Var:
            return vmap.get(n, n)
        return map_children(n, rec)
    return rec(node)


def free_vars(node) -> set:
    out = set()
    def fn(n):
        if type(n) is E.Var:
            out.add(n)
    walk(node, fn)
    return out


def uses_var(node, var) -> bool:
    found = []
    def fn(n):
        if n is var:
            found.append(1)
    walk(node, fn)
    return bool(found)
