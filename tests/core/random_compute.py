"""Random tensor programs for the differential fuzzer, written as Python source so that a failure
prints as a runnable script.

A program is a chain of 2-D stages over inputs A and B (shapes not multiples of anything): integer
pipelines with //, %, wrapping products and narrowing casts, float pipelines with exp and division,
row reductions (sum/max) read back by later stages (softmax's shape), remapped indices
(`T[i, (j + 3) % m]`, `T[n - 1 - i, j]`), conditions on values and on loop indices, and sometimes a
second output. Its source defines `make()` -> (inputs, outputs) with te and `reference(A, B)` ->
list of numpy arrays that computes the same thing with numpy's semantics (int32 wraps, // and %
floor, casts wrap).
"""
from __future__ import annotations

import random
import re

INT_DIVISORS = (2, 3, 5, 7, 16, -3, -4)


class _Expr:
    """One expression as te source (in terms of i, j and tensors) and numpy source (I, J arrays)."""

    def __init__(self, te_src: str, np_src: str):
        self.te, self.np = te_src, np_src


def _leaf(rng, tensors, dtype, n, m):
    """A read of an available tensor (maybe at a remapped index), a loop index, or a constant."""
    r = rng.random()
    if r < 0.7 and tensors:
        name, kind = rng.choice(tensors)
        if kind == "row":
            return _Expr(f"{name}[i]", f"{name}[I]")
        remap = rng.random()
        if remap < 0.6:
            return _Expr(f"{name}[i, j]", f"{name}[I, J]")
        if remap < 0.8:
            c = rng.randrange(1, m + 3)
            return _Expr(f"{name}[i, (j + {c}) % {m}]", f"{name}[I, (J + {c}) % {m}]")
        return _Expr(f"{name}[{n - 1} - i, j]", f"{name}[{n - 1} - I, J]")
    if r < 0.85:
        v = rng.choice(("i", "j", "i * 3 - j", "i * j"))
        idx = _Expr(f"({v})", f"({v.replace('i', 'I').replace('j', 'J')})")
        if dtype == "int32":
            return idx
        return _Expr(f"({idx.te}).astype('float32')", f"({idx.np}).astype('float32')")
    c = rng.randrange(-9, 10) if dtype == "int32" else rng.choice((0.5, 1.5, -2.0, 3.0))
    return _Expr(f"te.const({c!r}, {dtype!r})", f"np.{dtype}({c!r})")


def _expr(rng, tensors, dtype, n, m, depth):
    if depth <= 0 or rng.random() < 0.25:
        return _leaf(rng, tensors, dtype, n, m)
    a = _expr(rng, tensors, dtype, n, m, depth - 1)
    ops = ["+", "-", "*", "max", "min", "select_index"]
    # a float comparison of computed values could flip on a rounding difference (FMA contraction):
    # value conditions only on integers, where both sides are exact
    ops += ["//", "%", "cast8", "cast16", "//", "%", "select"] if dtype == "int32" else ["exp", "div", "abs"]
    op = rng.choice(ops)
    if op in ("+", "-", "*"):
        b = _expr(rng, tensors, dtype, n, m, depth - 1)
        return _Expr(f"({a.te} {op} {b.te})", f"({a.np} {op} {b.np})")
    if op in ("max", "min"):
        b = _expr(rng, tensors, dtype, n, m, depth - 1)
        return _Expr(f"te.{op}({a.te}, {b.te})", f"np.{op}imum({a.np}, {b.np})")
    if op in ("//", "%"):
        if rng.random() < 0.7:
            c = rng.choice(INT_DIVISORS)
            return _Expr(f"({a.te} {op} {c})", f"({a.np} {op} np.int32({c}))")
        b = _expr(rng, tensors, dtype, n, m, depth - 1)      # may be 0: x // 0 == x % 0 == 0
        return _Expr(f"({a.te} {op} {b.te})", f"_np_{'floordiv' if op == '//' else 'mod'}({a.np}, {b.np})")
    if op == "cast8":
        return _Expr(f"({a.te}).astype('int8').astype('int32')", f"({a.np}).astype('int8').astype('int32')")
    if op == "cast16":
        c = rng.choice((3, 100, -7))
        return _Expr(f"(({a.te}).astype('int16') * {c}).astype('int32')",
                     f"(({a.np}).astype('int16') * np.int16({c})).astype('int32')")
    if op == "select":
        b = _expr(rng, tensors, dtype, n, m, depth - 1)
        c = _expr(rng, tensors, dtype, n, m, depth - 1)
        return _Expr(f"te.if_then_else({a.te} > {c.te}, {b.te}, {a.te})",
                     f"np.where({a.np} > {c.np}, {b.np}, {a.np})")
    if op == "select_index":
        b = _expr(rng, tensors, dtype, n, m, depth - 1)
        k = rng.randrange(2, 5)
        return _Expr(f"te.if_then_else((i + j) % {k} < 1, {a.te}, {b.te})",
                     f"np.where((I + J) % {k} < 1, {a.np}, {b.np})")
    if op == "exp":       # bounded argument: no overflow to compare
        return _Expr(f"te.exp(te.min(te.max({a.te}, te.const(-20.0, 'float32')), te.const(20.0, 'float32')) * te.const(0.25, 'float32'))",
                     f"np.exp(np.minimum(np.maximum({a.np}, np.float32(-20.0)), np.float32(20.0)) * np.float32(0.25))")
    if op == "div":
        b = _expr(rng, tensors, dtype, n, m, depth - 1)
        return _Expr(f"({a.te} / (te.abs({b.te}) + te.const(1.0, 'float32')))",
                     f"({a.np} / (np.abs({b.np}) + np.float32(1.0)))")
    return _Expr(f"te.abs({a.te})", f"np.abs({a.np})")


def _reachable_inputs(te_lines, outs) -> list:
    """The inputs (A, B) the outputs read, through the stages defined in te_lines."""
    reads = {}
    for line in te_lines:
        m = re.match(r"\s+(\w+) = te\.compute\(", line)
        if m:
            reads[m.group(1)] = set(re.findall(r"\b([A-Z]\w*)\[", line.split("lambda", 1)[1]))
    seen, todo = set(), list(outs)
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo.extend(reads.get(t, ()))
    return [x for x in ("A", "B") if x in seen]


def random_program(rng: random.Random) -> dict:
    """-> {"source": python source, "n", "m", "dtype"}; exec the source to get make/reference."""
    dtype = "int32" if rng.random() < 0.5 else "float32"
    n, m = rng.randrange(3, 30), rng.randrange(3, 40)
    te_lines = [f"    A = te.placeholder(({n}, {m}), {dtype!r}, name='A')",
                f"    B = te.placeholder(({n}, {m}), {dtype!r}, name='B')"]
    np_lines = [f"    I = np.arange({n}, dtype='int32')[:, None]", f"    J = np.arange({m}, dtype='int32')[None, :]"]
    tensors = [("A", "full"), ("B", "full")]
    leaves: list[str] = []
    for k in range(rng.randrange(1, 5)):
        name = f"T{k}"
        if k > 0 and rng.random() < 0.35:     # a row reduction of the previous full stage
            src = next(t for t, kind in reversed(tensors) if kind == "full")
            red = rng.choice(("sum", "max"))
            te_lines.append(f"    k{k} = te.reduce_axis((0, {m}), name='k{k}')")
            te_lines.append(f"    {name} = te.compute(({n},), lambda i: te.{red}({src}[i, k{k}], axis=k{k}), name={name!r})")
            np_red = f"{src}.sum(axis=1, dtype={dtype!r})" if red == "sum" else f"{src}.max(axis=1)"
            np_lines.append(f"    {name} = {np_red}")
            tensors.append((name, "row"))
            continue
        e = _expr(rng, tensors[-3:], dtype, n, m, rng.randrange(1, 4))
        te_lines.append(f"    {name} = te.compute(({n}, {m}), lambda i, j: {e.te}, name={name!r})")
        np_lines.append(f"    {name} = np.broadcast_to(np.asarray({e.np}, {dtype!r}), ({n}, {m}))")
        tensors.append((name, "full"))
        leaves.append(name)
    if not leaves or tensors[-1][1] == "row":
        e = _expr(rng, tensors[-2:], dtype, n, m, 1)
        name = f"T{len(tensors) - 2}"
        te_lines.append(f"    {name} = te.compute(({n}, {m}), lambda i, j: {e.te}, name={name!r})")
        np_lines.append(f"    {name} = np.broadcast_to(np.asarray({e.np}, {dtype!r}), ({n}, {m}))")
        leaves.append(name)
    outs = [leaves[-1]]
    if rng.random() < 0.25:                   # a second output reading an intermediate
        e = _expr(rng, tensors[:-1], dtype, n, m, 1)
        te_lines.append(f"    U = te.compute(({n}, {m}), lambda i, j: {e.te}, name='U')")
        np_lines.append(f"    U = np.broadcast_to(np.asarray({e.np}, {dtype!r}), ({n}, {m}))")
        outs.append("U")
    used = _reachable_inputs(te_lines, outs)              # an unread input is not an argument
    if not used:                                          # read A at the end, so there is one
        te_lines.append(f"    O = te.compute(({n}, {m}), lambda i, j: {outs[0]}[i, j] + A[i, j], name='O')")
        np_lines.append(f"    O = {outs[0]} + A")
        outs[0], used = "O", ["A"]
    source = "\n".join([
        "def make():", *te_lines, f"    return [{', '.join(used)}], [{', '.join(outs)}]", "",
        "def reference(A, B):", "    with np.errstate(all='ignore'):", *["    " + x for x in np_lines],
        "        return [np.ascontiguousarray(o) for o in (" + ", ".join(outs) + ",)]", ""])
    return {"source": source, "n": n, "m": m, "dtype": dtype, "used": [("A", "B").index(x) for x in used]}


PRELUDE = '''import numpy as np
import workbench as wb
from workbench import te


def _np_floordiv(a, b):
    return np.where(b == 0, 0, np.floor_divide(a, np.where(b == 0, 1, b))).astype(a.dtype)


def _np_mod(a, b):
    return np.where(b == 0, 0, np.mod(a, np.where(b == 0, 1, b))).astype(a.dtype)

'''


def load_program(prog: dict) -> dict:
    """exec a program's source: -> namespace with make, reference."""
    ns: dict = {}
    exec(compile(PRELUDE + prog["source"], "<random program>", "exec"), ns)
    return ns


def random_inputs(prog: dict, seed: int, count: int = 2):
    """Arrays for A and B (the kernel takes those in prog["used"]; the reference takes both)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    shape = (prog["n"], prog["m"])
    if prog["dtype"] == "int32":
        big = rng.random() < 0.3                # sometimes the whole int32 range (wrap-around)
        lo, hi = (-2 ** 31, 2 ** 31 - 1) if big else (-50, 50)
        return [rng.integers(lo, hi, shape, dtype=np.int64).astype("int32") for _ in range(count)]
    return [rng.standard_normal(shape).astype("float32") * 4 for _ in range(count)]


def script(prog: dict, trace_python: str, seed: int) -> str:
    """A runnable script reproducing one fuzz case."""
    return (PRELUDE + prog["source"] + "\n"
            + "from tests.core.random_compute import random_inputs\n"
            + f"prog = {{'n': {prog['n']}, 'm': {prog['m']}, 'dtype': {prog['dtype']!r}}}\n"
            + f"used = {prog['used']!r}   # the inputs the outputs read, in kernel argument order\n"
            + "inputs, outputs = make()\n"
            + "s = wb.create_schedule(outputs)\n"
            + trace_python
            + "f = wb.build(s, inputs + outputs)\n"
            + f"arrays = random_inputs(prog, {seed})\n"
            + "got = [np.zeros(o.shape, o.dtype) for o in outputs]\n"
            + "f(*[arrays[k] for k in used], *got)\n"
            + "for g, r in zip(got, reference(*arrays)):\n"
            + "    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)\n"
            + "print('ok')\n")
