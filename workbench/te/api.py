"""The tensor-expression language: placeholder, compute, reduce_axis, reducers and math."""
from __future__ import annotations

import builtins
import inspect
import math
from numbers import Integral

from ..ir import dtype as dt
from ..ir import expr as E
from ..ir.visitor import walk
from .tensor import ComputeOp, IterVar, PlaceholderOp, Tensor, make_thread_axis, make_tensor, to_expr


def _shape(shape, what: str) -> tuple:
    if isinstance(shape, Integral):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"{what}: shape must be a non-empty tuple of positive ints, got {shape!r}")
    out = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, Integral):
            raise TypeError(f"{what}: shape entries must be ints, got {d!r} in {tuple(shape)}")
        if d <= 0:
            raise ValueError(f"{what}: shape entries must be positive, got {d} in {tuple(shape)}")
        out.append(int(d))
    return tuple(out)


def placeholder(shape, dtype: str = "float32", name: str = "placeholder") -> Tensor:
    """An input tensor of the given shape and dtype."""
    return make_tensor(PlaceholderOp(name, _shape(shape, f"placeholder {name}"), dt.check(dtype)))


def reduce_axis(dom, name: str = "rv") -> IterVar:
    """A reduction axis over range(dom) or range(lo, hi) given as (lo, hi)."""
    if isinstance(dom, Integral):
        lo, hi = 0, int(dom)
    else:
        lo, hi = dom
    if not builtins.all(isinstance(v, Integral) for v in (lo, hi)) or hi <= lo:
        raise ValueError(f"reduce_axis {name}: domain must be (lo, hi) ints with lo < hi, got {dom!r}")
    return IterVar(E.Var(name), int(lo), int(hi - lo), "reduce")


def compute(shape, fcompute, name: str = "compute", tag: str = "") -> Tensor:
    """A tensor whose element at each index is fcompute(*index)."""
    shape = _shape(shape, f"compute {name}")
    params = list(inspect.signature(fcompute).parameters.values())
    if len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL or not params:
        names = [f"i{d}" for d in range(len(shape))]
    else:
        names = [p.name for p in params]
        if len(names) != len(shape):
            raise ValueError(f"compute {name}: fcompute takes {len(names)} indices but shape has "
                             f"{len(shape)} dimensions")
    axis = tuple(IterVar(E.Var(n), 0, ext, "data") for n, ext in zip(names, shape))
    body = to_expr(fcompute(*[iv.var for iv in axis]))
    if not isinstance(body, E.Expr):
        raise TypeError(f"compute {name}: fcompute returned {body!r}, not an expression")
    reduce_axes: tuple = ()
    if isinstance(body, E.Reduce):
        reduce_axes = body.axis
        _check_no_nested_reduce(body.source, name)
        if body.condition is not None:
            _check_no_nested_reduce(body.condition, name)
    else:
        _check_no_nested_reduce(body, name)
    _check_free_vars(body, axis, reduce_axes, name)
    return make_tensor(ComputeOp(name, axis, reduce_axes, body, tag))


def _check_no_nested_reduce(e, name):
    def fn(n):
        if isinstance(n, E.Reduce):
            raise ValueError(f"compute {name}: a reduction (sum/max/min over an axis) must be the whole "
                             f"body, not part of it; compute it as its own tensor first")
    walk(e, fn)


def _check_free_vars(body, axis, reduce_axes, name):
    allowed = {iv.var for iv in axis} | {iv.var for iv in reduce_axes}
    def fn(n):
        if type(n) is E.Var and n not in allowed:
            raise ValueError(f"compute {name}: variable {n.name} is not an index of this compute nor "
                             f"one of its reduction axes (a reduce_axis must be used inside te.sum/max/min)")
    walk(body, fn)


def thread_axis(dom=None, tag: str = "", name: str = "") -> IterVar:
    """A thread axis to bind a loop to: `te.thread_axis("cthread")` (TVM's signature; the tag may be
    given first). Its extent is the extent of the loop it is bound to, unless `dom` fixes it."""
    if isinstance(dom, str) and not tag:
        dom, tag = None, dom
    return make_thread_axis(dom, tag, name)


# -- reductions --------------------------------------------------------------------------------
def _axes(axis) -> tuple:
    if isinstance(axis, IterVar):
        axis = (axis,)
    axis = tuple(axis)
    for a in axis:
        if not isinstance(a, IterVar) or a.kind != "reduce":
            raise TypeError(f"reduction axis must be made by te.reduce_axis, got {a!r}")
    if len({id(a) for a in axis}) != len(axis):
        raise ValueError("the same reduction axis is listed twice")
    return axis


def _reduce(combiner, expr, axis, where):
    src = to_expr(expr)
    cond = None if where is None else E.as_bool(to_expr(where))
    return E.Reduce(combiner, src, _axes(axis), cond)


def sum(expr, axis, where=None) -> E.Reduce:  # noqa: A001 - TVM's name
    """Sum of expr over the reduction axis (or axes), optionally only where `where` holds."""
    return _reduce("sum", expr, axis, where)


def _is_axis_arg(b) -> bool:
    return isinstance(b, IterVar) and b.kind == "reduce" or (
        isinstance(b, (list, tuple)) and b and builtins.all(isinstance(x, IterVar) for x in b))


def _max_or_min(combiner, cls, a, b, axis, where):
    if axis is None and _is_axis_arg(b):
        axis, b = b, None
    if axis is not None:
        return _reduce(combiner, a, axis, where)
    if b is None:
        raise TypeError(f"te.{combiner} needs either axis=... (a reduction) or two expressions "
                        "(elementwise)")
    return E.binary(cls, to_expr(a), to_expr(b))


def max(a, b=None, axis=None, where=None):  # noqa: A001
    """max over a reduction axis (`te.max(A[i, k], axis=k)`), or elementwise (`te.max(x, y)`)."""
    return _max_or_min("max", E.Max, a, b, axis, where)


def min(a, b=None, axis=None, where=None):  # noqa: A001
    """min over a reduction axis, or elementwise with two expressions."""
    return _max_or_min("min", E.Min, a, b, axis, where)


# -- scalars, conditions, math -----------------------------------------------------------------
def const(value, dtype: str | None = None) -> E.Const:
    """A typed constant; an integer must fit its dtype (te.const(300, "int8") is an error)."""
    if dtype is not None:
        dtype = dt.check(dtype)
        if dt.is_int(dtype) and isinstance(value, Integral) and not isinstance(value, bool):
            E.check_int_fits(int(value), dt.base(dtype))
    return E.const(value, dtype)


def if_then_else(cond, t, f) -> E.Expr:
    """t where cond holds, else f. Only the chosen side is evaluated, so reads guarded by the
    condition (padding) never touch memory out of bounds."""
    cond = E.as_bool(to_expr(cond))
    if not isinstance(t, (E.Expr, IterVar)) and not isinstance(f, (E.Expr, IterVar)):
        t = to_expr(t)
    if isinstance(t, (E.Expr, IterVar)):
        t = to_expr(t)
        f = to_expr(f, t.dtype)
    else:
        f = to_expr(f)
        t = to_expr(t, f.dtype)
    if t.dtype != f.dtype:
        target = dt.promote(t.dtype, f.dtype)
        t, f = t.astype(target), f.astype(target)
    return E.Select(cond, t, f)


def _fold(cls, identity: bool, conds) -> E.Expr:
    if len(conds) == 1 and isinstance(conds[0], (list, tuple)):
        conds = tuple(conds[0])
    if not conds:
        return E.const(identity)
    out = E.as_bool(to_expr(conds[0]))
    for c in conds[1:]:
        out = E.logical(cls, out, to_expr(c))
    return out


def all(*conds) -> E.Expr:  # noqa: A001
    """Logical and of conditions (Python's `and` cannot be used on expressions)."""
    return _fold(E.And, True, conds)


def any(*conds) -> E.Expr:  # noqa: A001
    """Logical or of conditions."""
    return _fold(E.Or, False, conds)


def _float_math(name):
    def fn(x):
        x = to_expr(x)
        if not dt.is_float(x.dtype):
            raise TypeError(f"te.{name} needs a float expression, got {x} of dtype {x.dtype}; "
                            "cast it with .astype('float32')")
        return E.Call(name, (x,), x.dtype)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} of a float expression."
    return fn


exp = _float_math("exp")
log = _float_math("log")
sqrt = _float_math("sqrt")
tanh = _float_math("tanh")
sigmoid = _float_math("sigmoid")


def abs(x) -> E.Expr:  # noqa: A001
    """Absolute value (ints and floats)."""
    x = to_expr(x)
    return E.Call("abs", (x,), x.dtype)


def reduce_identity(combiner: str, dtype: str):
    """The value a reduction starts from: 0 for sum, the lowest/highest value for max/min."""
    if combiner == "sum":
        return E.const(0, dtype)
    if dt.is_float(dtype):
        return E.const(-math.inf if combiner == "max" else math.inf, dtype)
    import numpy as np
    info = np.iinfo(dt.base(dtype))
    return E.const(int(info.min) if combiner == "max" else int(info.max), dtype)



