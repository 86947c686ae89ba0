"""Structural equality and hashing of IR (expressions, statements, PrimFuncs).

`structural_equal(a, b)` maps free variables and buffers positionally: the first variable met in
`a` corresponds to the first met in `b` at the same place, and so on, consistently everywhere
(names are ignored; dtypes, shapes and scopes must agree). So two lowerings of one schedule are
equal although each made fresh Var objects, and `structural_hash` agrees with it: equal implies
equal hashes. With map_free_vars=False, variables must be the same objects (what the simplifier
needs when it compares index terms). Both walk iteratively, so expression depth does not matter.
"""
from __future__ import annotations

from dataclasses import fields
from enum import Enum

_SKIP_FIELDS = {"history", "loop_stage"}      # bookkeeping, not structure
_NAME_FIELDS = {"name"}                       # names of identity objects are not structure


def _identity(x) -> bool:
    return getattr(type(x), "_identity", False)


_FIELDS: dict = {}


def _fields_of(cls):
    f = _FIELDS.get(cls)
    if f is None:
        names = [x.name for x in fields(cls) if x.name not in _SKIP_FIELDS]
        if _identity_cls(cls):
            names = [n for n in names if n not in _NAME_FIELDS]
        f = _FIELDS[cls] = tuple(names)
    return f


def _identity_cls(cls) -> bool:
    return getattr(cls, "_identity", False)


def structural_equal(a, b, map_free_vars: bool = True) -> bool:
    fwd: dict = {}
    back: dict = {}
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        tx = type(x)
        if tx is not type(y):
            return False
        if _identity_cls(tx):
            if not map_free_vars:
                if x is not y:
                    return False
                continue
            mx, my = fwd.get(id(x)), back.get(id(y))
            if mx is None and my is None:
                fwd[id(x)], back[id(y)] = y, x
                stack.extend((getattr(x, n), getattr(y, n)) for n in _fields_of(tx)
                             if hasattr(tx, "__dataclass_fields__"))
                continue
            if mx is not y or my is not x:
                return False
            continue
        if x is y:
            continue
        if tx is tuple or tx is list:
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
            continue
        if hasattr(tx, "__dataclass_fields__"):
            for n in _fields_of(tx):
                stack.append((getattr(x, n), getattr(y, n)))
            continue
        if x != y:
            return False
    return True


def structural_hash(node, map_free_vars: bool = True) -> int:
    """A hash consistent with structural_equal (free variables numbered by first occurrence)."""
    ids: dict = {}
    acc = []
    stack = [node]
    keep = []
    while stack:
        x = stack.pop()
        tx = type(x)
        if _identity_cls(tx):
            if not map_free_vars:
                acc.append(("id", id(x)))
                continue
            k = ids.get(id(x))
            if k is not None:
                acc.append(("ref", k))
                continue
            ids[id(x)] = len(ids)
            keep.append(x)
            acc.append(("def", tx.__name__))
            if hasattr(tx, "__dataclass_fields__"):
                stack.extend(getattr(x, n) for n in reversed(_fields_of(tx)))
            continue
        if tx is tuple or tx is list:
            acc.append(("seq", len(x)))
            stack.extend(reversed(x))
            continue
        if hasattr(tx, "__dataclass_fields__"):
            acc.append(tx.__name__)
            stack.extend(getattr(x, n) for n in reversed(_fields_of(tx)))
            continue
        if isinstance(x, Enum):
            acc.append(x.value)
        elif isinstance(x, (int, float, str, bool, type(None))):
            acc.append((tx.__name__, x))
        else:
            acc.append((tx.__name__, repr(x)))
    return hash(tuple(acc))


def assert_structural_equal(a, b):
    """Raise AssertionError showing both sides when they differ."""
    if not structural_equal(a, b):
        raise AssertionError(f"not structurally equal:\n--- left\n{a}\n--- right\n{b}")
