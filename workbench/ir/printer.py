"""Prints expressions and loop nests as readable Python-like text (used in golden-file tests).

Loop variables keep the names the schedule gave them (`i.outer`, `i.j.fused`), as TVM prints them.
`str(func)` shows accesses with one index per dimension (`C[i, j]`): a flat index that storage
flattening produced is split back into per-dimension indices when range analysis proves every inner
index stays within its dimension (otherwise the flat index is printed, so the text never lies).
`func.after("storage_flatten")` prints the flat form as it is.
"""
from __future__ import annotations

from . import expr as E
from . import stmt as S

_BIN = {E.Add: ("+", 4), E.Sub: ("-", 4), E.Mul: ("*", 5), E.Div: ("/", 5), E.FloorDiv: ("//", 5),
        E.FloorMod: ("%", 5), E.LT: ("<", 3), E.LE: ("<=", 3), E.GT: (">", 3), E.GE: (">=", 3),
        E.EQ: ("==", 3), E.NE: ("!=", 3),
        E.ShiftLeft: ("<<", 3.5), E.ShiftRight: (">>", 3.5), E.And: ("and", 2), E.Or: ("or", 1)}
_ATOM = 10


def _const(c: E.Const) -> str:
    if isinstance(c.value, bool):
        return str(c.value)
    if isinstance(c.value, float):
        r = repr(c.value)
        return r if c.dtype == "float32" else f"{c.dtype}({r})"
    return str(c.value) if c.dtype in ("int32", "int64") else f"{c.dtype}({c.value})"


class _Printer:
    def __init__(self, names: dict | None = None, unflatten: bool = False):
        self.names = names or {}
        self.unflatten = unflatten
        self.ranges: dict = {}

    def var(self, v) -> str:
        return self.names.get(v, v.name)

    # -- expressions: iterative, so any depth prints ----------------------------------------------
    def expr(self, e) -> str:
        from .visitor import fold
        return fold(e, self._node, self._leaf)[0]

    def _leaf(self, e):
        t = type(e)
        if t is E.Const:
            return (_const(e), _ATOM)
        if t is E.Var:
            return (self.var(e), _ATOM)
        if t is E.BufferLoad and self.unflatten:
            return (self.access(e.buffer, e.indices), _ATOM)
        return None

    def _node(self, e, kids):
        t = type(e)
        if t in _BIN:
            op, p = _BIN[t]
            (a, pa), (b, pb) = kids
            # left-associative: the right operand needs parentheses at equal precedence
            return (f"{a if pa >= p else f'({a})'} {op} {b if pb > p else f'({b})'}", p)
        k = [s for s, _ in kids]
        if t is E.Min or t is E.Max:
            return (f"{t.__name__.lower()}({k[0]}, {k[1]})", _ATOM)
        if t is E.Not:
            a, pa = kids[0]
            return (f"not {a if pa >= 6 else f'({a})'}", 6)
        if t is E.Select:
            return (f"select({k[0]}, {k[1]}, {k[2]})", _ATOM)
        if t is E.Cast:
            return (f"{e.dtype}({k[0]})", _ATOM)
        if t is E.Call:
            return (f"{e.name}({', '.join(k)})", _ATOM)
        if t is E.TensorRead:
            return (f"{e.tensor.name}[{', '.join(k)}]", _ATOM)
        if t is E.BufferLoad:
            return (f"{e.buffer.name}[{', '.join(k)}]", _ATOM)
        if t is E.Ramp:
            return (f"ramp({k[0]}, {e.stride}, {e.lanes})", _ATOM)
        if t is E.Broadcast:
            return (f"broadcast({k[0]}, {e.lanes})", _ATOM)
        if t is E.Reduce:
            axes = ", ".join(iv.var.name for iv in e.axis)
            where = f", where={k[1]}" if e.condition is not None else ""
            return (f"{e.combiner}({k[0]}, axis=[{axes}]{where})", _ATOM)
        return (repr(e), _ATOM)

    # -- accesses ---------------------------------------------------------------------------------
    def access(self, buf, indices) -> str:
        if len(indices) == 1 and len(buf.shape) > 1:
            dims = unflatten_index(buf.shape, indices[0], self.ranges)
            if dims is not None:
                return f"{buf.name}[{', '.join(self._dim(d) for d in dims)}]"
        return f"{buf.name}[{', '.join(self.expr(i) for i in indices)}]"

    def _dim(self, d) -> str:
        if isinstance(d, tuple):      # a vector of `lanes` consecutive elements along this dimension
            lo, lanes = d
            from .simplify import simplify_expr
            return f"{self.expr(lo)}:{self.expr(simplify_expr(E.binary(E.Add, lo, lanes)))}"
        return self.expr(d)

    # -- statements -------------------------------------------------------------------------------
    def _range(self, f: S.For) -> str:
        lo, ext = f.min, f.extent
        if isinstance(lo, E.Const) and lo.value == 0:
            args = self.expr(ext)
        elif isinstance(ext, E.Const) and isinstance(lo, E.Const):
            args = f"{lo.value}, {lo.value + ext.value}"
        else:
            args = f"{self.expr(lo)}, {self.expr(E.binary(E.Add, lo, ext))}"
        kind = {"serial": "range", "parallel": "parallel", "vectorized": "vectorized",
                "unrolled": "unrolled"}[f.kind]
        return f"{kind}({args})"

    def lines(self, s, ind: int, out: list):
        pad = "    " * ind
        t = type(s)
        if t is S.SeqStmt:
            for x in s.stmts:
                self.lines(x, ind, out)
        elif t is S.For:
            ann = "".join(f"  # {k}={v}" for k, v in s.annotations)
            ann += "".join(f"  # {k.replace('_', ' ')}: {v}" for k, v in s.notes)
            out.append(f"{pad}for {self.var(s.var)} in {self._range(s)}:{ann}")
            from .visitor import loop_range
            saved = self.ranges.get(s.var)
            r = loop_range(s, self.ranges)
            if r is not None:
                self.ranges[s.var] = r
            self.lines(s.body, ind + 1, out)
            if saved is None:
                self.ranges.pop(s.var, None)
            else:
                self.ranges[s.var] = saved
        elif t is S.IfThenElse:
            out.append(f"{pad}if {self.expr(s.cond)}:")
            self.lines(s.then_case, ind + 1, out)
            if s.else_case is not None:
                out.append(f"{pad}else:")
                self.lines(s.else_case, ind + 1, out)
        elif t is S.AssertStmt:
            out.append(f"{pad}assert {self.expr(s.cond)}, {s.message!r}")
            self.lines(s.body, ind, out)
        elif t is S.BufferStore:
            target = self.access(s.buffer, s.indices) if self.unflatten else \
                f"{s.buffer.name}[{', '.join(self.expr(i) for i in s.indices)}]"
            out.append(f"{pad}{target} = {self.expr(s.value)}")
        elif t is S.Allocate:
            b = s.buffer
            out.append(f"{pad}{b.name} = allocate({list(b.shape)}, \"{b.dtype}\", scope=\"{b.scope}\")")
            self.lines(s.body, ind, out)
        elif t is S.Evaluate:
            out.append(f"{pad}pass")
        else:
            out.append(f"{pad}{s!r}")


def unflatten_index(shape, flat, ranges: dict):
    """Per-dimension indices whose row-major flattening is `flat`, or None when that cannot be
    proven (every dimension but the first must provably stay in [0, extent)). A Ramp with a unit
    stride in some dimension becomes (start, lanes) for that dimension."""
    from .simplify import _lin_bounds, from_linear, linear
    lanes, stride = 1, None
    if type(flat) is E.Ramp:
        flat, stride, lanes = flat.base, flat.stride, flat.lanes
    lin = linear(flat)
    if lin is None:
        return None
    terms, const = lin
    n = len(shape)
    strides = [1] * n
    for k in range(n - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    vec_dim = None
    if stride is not None:
        vec_dim = next((k for k in range(n) if strides[k] == stride), None)
        if vec_dim is None:
            return None
    dim_terms = [dict() for _ in range(n)]
    for atom, c in terms.items():
        k = next(k for k in range(n) if c % strides[k] == 0)   # strides[-1] == 1 always divides
        dim_terms[k][atom] = c // strides[k]
    consts = _split_const(const, shape, strides, dim_terms, ranges, lanes, vec_dim)
    if consts is None:
        return None
    dims: list = [None] * n
    for k in range(n):
        e = from_linear(dim_terms[k], consts[k], flat.dtype)
        dims[k] = (e, lanes) if k == vec_dim else e
    return dims


def _split_const(const, shape, strides, dim_terms, ranges, lanes, vec_dim) -> list | None:
    """Constant offset per dimension, summing to `const` in row-major units. Where range analysis
    proves every dimension but the first in [0, extent), the unique such split; otherwise, if each
    dimension's variable part spans less than twice its extent (an index guarded by a select, e.g. an
    inlined padding read `A[i - 1, j - 1]`), the split nearest zero in each dimension, which
    flattens to the same address and reads as the source did; else None (print it flat)."""
    from .simplify import _lin_bounds
    n = len(shape)
    out, rest = [0] * n, const
    for k in range(n - 1, -1, -1):
        unit = strides[k]
        if k == 0:
            r = rest // unit
        else:
            b = _lin_bounds(dim_terms[k], 0, ranges)
            period = shape[k]
            q = (rest // unit) % period               # r must be congruent to this mod the extent
            hi_extra = lanes - 1 if k == vec_dim else 0
            r = None
            if b is not None:
                lo_r, hi_r = -b[0], shape[k] - 1 - b[1] - hi_extra
                r = q + ((lo_r - q + period - 1) // period) * period
                if r > hi_r:
                    r = None
            if r is None:
                # a guarded read strays past the extent by its padding, less than one extent;
                # a fused variable covers several extents: that one is no index of this dimension
                if b is None or b[1] - b[0] + hi_extra >= 2 * period:
                    return None
                return _split_const_nearest_zero(const, strides)
        rest -= r * unit
        out[k] = r
    return out


def _split_const_nearest_zero(const, strides) -> list:
    out, rest = [], const
    for unit in strides:
        q = abs(rest) // unit * (1 if rest >= 0 else -1)   # truncating division
        out.append(q)
        rest -= q * unit
    return out


def expr_str(e, prec: int = 0) -> str:
    return _Printer().expr(e)


def stmt_str(s) -> str:
    out: list = []
    _Printer().lines(s, 0, out)
    return "\n".join(out)


def _distinct_names(body) -> dict:
    """Loop variable -> printed name; a variable sharing its name with another (two stages both
    split an axis called j) gets a suffix, so the printed IR is unambiguous."""
    from .visitor import walk
    seen: dict = {}
    names: dict = {}
    def fn(n):
        if type(n) is S.For and n.var not in names:
            name = n.var.name
            if name in seen and seen[name] is not n.var:
                k = 1
                while f"{name}_{k}" in seen:
                    k += 1
                name = f"{name}_{k}"
            seen[name] = n.var
            names[n.var] = name
    walk(body, fn)
    return names


def func_str(f: S.PrimFunc, body=None, unflatten: bool = True) -> str:
    body = f.body if body is None else body
    p = _Printer(_distinct_names(body), unflatten)
    params = ", ".join(f"{b.name}: {b.dtype}[{', '.join(map(str, b.shape))}]" for b in f.params)
    out = [f"def {f.name}({params}):"]
    p.lines(body, 1, out)
    return "\n".join(out)


