"""Splitting one emitted module into compilation units that LLVM optimizes and compiles on
separate threads (engine.CodeLibrary compiles each unit in its own LLVM context).

A unit is a set of function groups: the entry function's group, and one group per parallel region
(its sub-range worker and libgomp task, parallel.py). Groups only call each other through those
noinline workers, so splitting there costs no inlining. Helpers (group None: the math functions)
are copied into every unit that calls them. A function called from another unit loses its
`internal` linkage (the JIT links the units' objects into one library) and is declared there.
"""
from __future__ import annotations

import re

_REF = re.compile(r"@([A-Za-z0-9_.$]+)")


def partition(functions, max_units: int) -> list[tuple[list[str], list[str]]]:
    """[(function texts, extra declarations)] per unit; at most `max_units` units, balanced by
    IR size (largest group first into the lightest unit). One group or max_units 1: one unit."""
    groups: dict[str, list] = {}
    helpers = {}
    for f in functions:
        if f.group is None:
            helpers[f.name] = f
        else:
            groups.setdefault(f.group, []).append(f)
    n = min(max_units, len(groups))
    if n <= 1:
        return [([f.text for f in functions], [])]
    home = {f.name: g for g, fns in groups.items() for f in fns}
    by_name = {f.name: f for f in functions}
    calls = {f.name: set(_REF.findall(f.text)) & by_name.keys() - {f.name} for f in functions}
    size = {g: sum(len(f.text) for f in fns) for g, fns in groups.items()}
    units: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for g in sorted(groups, key=lambda g: -size[g]):
        k = load.index(min(load))
        units[k].append(g)
        load[k] += size[g]
    unit_of = {g: k for k, gs in enumerate(units) for g in gs}
    # functions called across units become external
    exported = {c for f in functions if f.group is not None for c in calls[f.name]
                if c in home and unit_of[home[c]] != unit_of[f.group]}
    out = []
    for k, gs in enumerate(units):
        own = [f for g in gs for f in groups[g]]
        needed, stack = set(), [c for f in own for c in calls[f.name] if c in helpers]
        while stack:                       # helpers reachable from this unit's functions
            h = stack.pop()
            if h not in needed:
                needed.add(h)
                stack.extend(c for c in calls[h] if c in helpers)
        texts = [_external(f.text) if f.name in exported else f.text for f in own]
        texts += [helpers[h].text for h in helpers if h in needed]
        extern = sorted({by_name[c].decl for f in own for c in calls[f.name]
                         if c in home and unit_of[home[c]] != k})
        out.append((texts, extern))
    return out


def _external(text: str) -> str:
    return text.replace("define internal ", "define ", 1)
