"""Prints expressions and loop nests as readable Python-like text (used in golden-file tests)."""
from __future__ import annotations

from . import expr as E
from . import stmt as S

_BIN = {E.Add: ("+", 4), E.Sub: ("-", 4), E.Mul: ("*", 5), E.Div: ("/", 5), E.FloorDiv: ("//", 5),
        E.FloorMod: ("%", 5), E.LT: ("<", 3), E.LE: ("<=", 3), E.GT: (">", 3), E.GE: (">=", 3),
        E.EQ: ("==", 3), E.NE: ("!=", 3),
        E.ShiftLeft: ("<<", 3.5), E.ShiftRight: (">>", 3.5), E.And: ("and", 2), E.Or: ("or", 1)}


def _name(n: str) -> str:
    # axis names follow TVM ("i.outer"); printed IR should read as Python, so dots become "_"
    return n.replace(".", "_")


def _const(c: E.Const) -> str:
    if isinstance(c.value, bool):
        return str(c.value)
    if isinstance(c.value, float):
        r = repr(c.value)
        return r if c.dtype == "float32" else f"{c.dtype}({r})"
    return str(c.value) if c.dtype in ("int32", "int64") else f"{c.dtype}({c.value})"


def expr_str(e, prec: int = 0) -> str:
    t = type(e)
    if t in _BIN:
        op, p = _BIN[t]
        # left-associative: the right operand needs parentheses at equal precedence
        s = f"{expr_str(e.a, p)} {op} {expr_str(e.b, p + 1)}"
        return f"({s})" if p < prec else s
    if t is E.Const:
        return _const(e)
    if t is E.Var:
        return _name(e.name)
    if t is E.Min or t is E.Max:
        return f"{t.__name__.lower()}({expr_str(e.a)}, {expr_str(e.b)})"
    if t is E.Not:
        return f"not {expr_str(e.a, 6)}"
    if t is E.Select:
        return f"select({expr_str(e.cond)}, {expr_str(e.t)}, {expr_str(e.f)})"
    if t is E.Cast:
        return f"{e.dtype}({expr_str(e.value)})"
    if t is E.Call:
        return f"{e.name}({', '.join(expr_str(a) for a in e.args)})"
    if t is E.TensorRead:
        return f"{_name(e.tensor.name)}[{', '.join(expr_str(i) for i in e.indices)}]"
    if t is E.BufferLoad:
        return f"{_name(e.buffer.name)}[{', '.join(expr_str(i) for i in e.indices)}]"
    if t is E.Ramp:
        return f"ramp({expr_str(e.base)}, {e.stride}, {e.lanes})"
    if t is E.Broadcast:
        return f"broadcast({expr_str(e.value)}, {e.lanes})"
    if t is E.Reduce:
        axes = ", ".join(iv.var.name for iv in e.axis)
        where = f", where={expr_str(e.condition)}" if e.condition is not None else ""
        return f"{e.combiner}({expr_str(e.source)}, axis=[{axes}]{where})"
    return repr(e)


def _range(f: S.For) -> str:
    lo, ext = f.min, f.extent
    if isinstance(lo, E.Const) and lo.value == 0:
        args = expr_str(ext)
    else:
        args = f"{expr_str(lo)}, {expr_str(E.binary(E.Add, lo, ext))}" if not isinstance(ext, E.Const) \
            or not isinstance(lo, E.Const) else f"{lo.value}, {lo.value + ext.value}"
    kind = {"serial": "range", "parallel": "parallel", "vectorized": "vectorized", "unrolled": "unrolled"}[f.kind]
    return f"{kind}({args})"


def _lines(s, ind: int, out: list):
    pad = "    " * ind
    t = type(s)
    if t is S.SeqStmt:
        for x in s.stmts:
            _lines(x, ind, out)
    elif t is S.For:
        ann = "".join(f"  # {k.replace('_', ' ')}: {v}" if k.startswith("not_") else f"  # {k}={v}"
                      for k, v in s.annotations)
        out.append(f"{pad}for {_name(s.var.name)} in {_range(s)}:{ann}")
        _lines(s.body, ind + 1, out)
    elif t is S.IfThenElse:
        out.append(f"{pad}if {expr_str(s.cond)}:")
        _lines(s.then_case, ind + 1, out)
        if s.else_case is not None:
            out.append(f"{pad}else:")
            _lines(s.else_case, ind + 1, out)
    elif t is S.BufferStore:
        idx = ", ".join(expr_str(i) for i in s.indices)
        out.append(f"{pad}{_name(s.buffer.name)}[{idx}] = {expr_str(s.value)}")
    elif t is S.Allocate:
        b = s.buffer
        out.append(f"{pad}{_name(b.name)} = allocate({list(b.shape)}, \"{b.dtype}\", scope=\"{b.scope}\")")
        _lines(s.body, ind, out)
    elif t is S.AssertStmt:
        out.append(f"{pad}assert {expr_str(s.cond)}, {s.message!r}")
        _lines(s.body, ind, out)
    elif t is S.Evaluate:
        out.append(f"{pad}pass")
    else:
        out.append(f"{pad}{s!r}")


def stmt_str(s) -> str:
    out: list = []
    _lines(s, 0, out)
    return "\n".join(out)


def _distinct_names(body):
    """Rename loop variables that share a printed name with another variable (two stages both
    split an axis called j), so the printed IR is unambiguous."""
    from .visitor import substitute, walk
    seen: dict = {}
    vmap: dict = {}
    def fn(n):
        if type(n) is S.For and n.var not in vmap:
            name = _name(n.var.name)
            if name in seen and seen[name] is not n.var:
                k = 1
                while f"{name}_{k}" in seen:
                    k += 1
                vmap[n.var] = E.Var(f"{name}_{k}", n.var.dtype)
                seen[f"{name}_{k}"] = vmap[n.var]
            else:
                seen[name] = n.var
    walk(body, fn)
    return substitute(body, vmap)


def func_str(f: S.PrimFunc) -> str:
    body = _distinct_names(f.body)
    params = ", ".join(f"{_name(b.name)}: {b.dtype}[{', '.join(map(str, b.shape))}]" for b in f.params)
    out = [f"def {f.name}({params}):"]
    _lines(body, 1, out)
    return "\n".join(out)
