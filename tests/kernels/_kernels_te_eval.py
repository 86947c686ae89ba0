"""A tiny numpy interpreter for te graphs, used only by the kernels tests.

It lets the catalog's compute descriptions be checked against their numpy references without the
compiler: each compute is evaluated over its whole index space at once (data axes and reduction
axes become broadcast dimensions). Tensor reads are bounds-checked: a read outside its tensor is
an error unless a te.if_then_else on the path did not select it (so a missing padding guard is
caught, exactly what the compiled code would turn into an out-of-bounds access).
"""
from __future__ import annotations

import numpy as np

from workbench.ir import expr as E
from workbench.te import ComputeOp, PlaceholderOp

_BIN = {E.Add: np.add, E.Sub: np.subtract, E.Mul: np.multiply, E.Div: np.true_divide,
        E.FloorDiv: np.floor_divide, E.FloorMod: np.mod, E.Min: np.minimum, E.Max: np.maximum,
        E.LT: np.less, E.LE: np.less_equal, E.GT: np.greater, E.GE: np.greater_equal,
        E.EQ: np.equal, E.NE: np.not_equal, E.And: np.logical_and, E.Or: np.logical_or}
_CALL = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "abs": np.abs,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x))}


class OutOfBounds(AssertionError):
    pass


def evaluate(out, feeds: dict) -> np.ndarray:
    """Value of te tensor `out` given numpy arrays for its placeholders ({tensor: array})."""
    cache: dict = {id(t.op): np.asarray(a) for t, a in feeds.items()}
    return _tensor(out, cache)


def _tensor(t, cache):
    key = id(t.op)
    if key in cache:
        return cache[key]
    op = t.op
    if isinstance(op, PlaceholderOp):
        raise KeyError(f"no value fed for placeholder {op.name}")
    assert isinstance(op, ComputeOp)
    nd, nr = len(op.axis), len(op.reduce_axis)
    env = {}
    for d, iv in enumerate(list(op.axis) + list(op.reduce_axis)):
        shape = [1] * (nd + nr)
        shape[d] = iv.extent
        env[iv.var] = (np.arange(iv.extent, dtype=np.int64) + iv.min).reshape(shape)
    full = (*op.shape, *(iv.extent for iv in op.reduce_axis))
    body = op.body
    if isinstance(body, E.Reduce):
        mask = np.ones(full, bool)
        if body.condition is not None:
            mask = mask & np.broadcast_to(_eval(body.condition, env, cache, mask), full)
        src = np.broadcast_to(_eval(body.source, env, cache, mask), full)
        raxes = tuple(range(nd, nd + nr))
        if body.combiner == "sum":
            val = np.where(mask, src, 0).sum(axis=raxes)
        else:
            ident = (-np.inf if body.combiner == "max" else np.inf) if src.dtype.kind == "f" else (
                np.iinfo(src.dtype).min if body.combiner == "max" else np.iinfo(src.dtype).max)
            fn = np.max if body.combiner == "max" else np.min
            val = fn(np.where(mask, src, ident), axis=raxes)
    else:
        val = np.broadcast_to(_eval(body, env, cache, np.ones(full, bool)), full)
    val = np.ascontiguousarray(val).astype(_np_dtype(op.dtype))
    cache[key] = val
    return val


def _np_dtype(dtype: str):
    return np.dtype(bool) if dtype == "bool" else np.dtype(dtype)


def _eval(e, env, cache, mask):
    """mask: where this value is actually used (reads outside it may be out of bounds)."""
    t = type(e)
    if t is E.Const:
        return np.array(e.value, _np_dtype(e.dtype))
    if t is E.Var:
        return env[e]
    if t in _BIN:
        a, b = _eval(e.a, env, cache, mask), _eval(e.b, env, cache, mask)
        if t is E.Div and np.asarray(a).dtype.kind != "f":
            raise TypeError("integer true division in a te graph")
        with np.errstate(divide="ignore", invalid="ignore"):
            r = _BIN[t](a, b)
        return np.asarray(r).astype(_np_dtype(e.dtype), copy=False)
    if t is E.Not:
        return np.logical_not(_eval(e.a, env, cache, mask))
    if t is E.Select:
        c = _eval(e.cond, env, cache, mask)
        tv = _eval(e.t, env, cache, mask & c)
        fv = _eval(e.f, env, cache, mask & ~c)
        return np.where(c, tv, fv)
    if t is E.Cast:
        return np.asarray(_eval(e.value, env, cache, mask)).astype(_np_dtype(e.dtype))
    if t is E.Call:
        with np.errstate(all="ignore"):
            return np.asarray(_CALL[e.name](*[_eval(a, env, cache, mask) for a in e.args])).astype(
                _np_dtype(e.dtype))
    if t is E.TensorRead:
        arr = _tensor(e.tensor, cache)
        idx = [np.asarray(_eval(i, env, cache, mask)) for i in e.indices]
        shape = np.broadcast_shapes(mask.shape, *(i.shape for i in idx))
        m = np.broadcast_to(mask, shape)
        safe = []
        for d, (i, n) in enumerate(zip(idx, arr.shape)):
            bad = m & ((np.broadcast_to(i, shape) < 0) | (np.broadcast_to(i, shape) >= n))
            if bad.any():
                raise OutOfBounds(f"read of {e.tensor.name} dimension {d} (size {n}) at index "
                                  f"{np.broadcast_to(i, shape)[bad].ravel()[:5]} is out of bounds")
            safe.append(np.clip(i, 0, n - 1))
        return arr[tuple(safe)]
    raise NotImplementedError(f"te evaluator: {t.__name__}")


def stages(out) -> list:
    """All operations of the graph ending at `out`, producers first."""
    seen, order = set(), []

    def visit(t):
        if id(t.op) in seen:
            return
        seen.add(id(t.op))
        for inp in t.op.input_tensors:
            visit(inp)
        order.append(t.op)
    visit(out)
    return order


def assert_matches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-4, atol: float = 1e-4):
    """Same shape and dtype; integers exactly, floats within rtol/atol (fp32 defaults)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
