"""A numpy interpreter of the loop IR: runs the output of any lowering pass, so a wrong answer can
be pinned on the pass that introduced it (the tests check every pass against the te reference).

Semantics follow codegen: each dtype computes with its own wrap-around, `//` and `%` floor,
Select evaluates only the taken side, an AssertStmt that fails raises IndexError(message). Unlike
compiled code it checks every access: an index outside its buffer raises IndexError naming the
access, and Allocate fills float buffers with NaN so a read before a write shows up in the result.
It is slow (pure Python per statement): meant for small shapes.

    from workbench.ir import interp
    interp.run(func, [a, b, c])                       # the final IR; writes c in place
    interp.run(func, [a, b, c], func.body_after("unroll"))
"""
from __future__ import annotations

import numpy as np

from . import dtype as dt
from . import expr as E
from . import stmt as S
from .visitor import fold

_MATH = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "abs": np.abs,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "fabs": np.abs, "floor": np.floor, "ceil": np.ceil}

_BINARY = {E.Add: np.add, E.Sub: np.subtract, E.Mul: np.multiply, E.Div: np.true_divide,
           E.FloorDiv: np.floor_divide, E.FloorMod: np.mod, E.Min: np.minimum, E.Max: np.maximum,
           E.LT: np.less, E.LE: np.less_equal, E.GT: np.greater, E.GE: np.greater_equal,
           E.EQ: np.equal, E.NE: np.not_equal, E.And: np.logical_and, E.Or: np.logical_or,
           E.ShiftLeft: np.left_shift, E.ShiftRight: np.right_shift}


def _np_dtype(dtype: str):
    return np.dtype("bool") if dt.is_bool(dtype) else np.dtype(dt.base(dtype))


def run(func: S.PrimFunc, arrays, body=None) -> None:
    """Execute `body` (default func.body) with `arrays` bound to func.params, in place."""
    if len(arrays) != len(func.params):
        raise ValueError(f"{func.name} takes {len(func.params)} arrays, got {len(arrays)}")
    mem = {}
    for buf, a in zip(func.params, arrays):
        if not isinstance(a, np.ndarray) or a.dtype != _np_dtype(buf.dtype) or a.size != buf.size:
            raise ValueError(f"array for {buf.name} must be {buf.dtype} with {buf.size} elements")
        if not a.flags.c_contiguous:
            raise ValueError(f"array for {buf.name} must be C-contiguous")
        mem[buf] = a.reshape(-1)          # a view: stores reach the caller's array
    with np.errstate(all="ignore"):       # wrap-around and inf/nan are the semantics, not errors
        _Interp(mem).stmt(func.body if body is None else body)


class _Interp:
    def __init__(self, mem):
        self.mem = mem
        self.env: dict = {}

    # -- statements ------------------------------------------------------------------------------
    def stmt(self, s):
        t = type(s)
        if t is S.SeqStmt:
            for x in s.stmts:
                self.stmt(x)
        elif t is S.For:
            lo, ext = int(self.expr(s.min)), int(self.expr(s.extent))
            saved = self.env.get(s.var)
            for v in range(lo, lo + ext):
                self.env[s.var] = v
                self.stmt(s.body)
            if saved is None:
                self.env.pop(s.var, None)
            else:
                self.env[s.var] = saved
        elif t is S.BufferStore:
            value = self.expr(s.value)
            arr, idx = self._addr(s.buffer, [self.expr(i) for i in s.indices])
            arr[idx] = value
        elif t is S.IfThenElse:
            if bool(self.expr(s.cond)):
                self.stmt(s.then_case)
            elif s.else_case is not None:
                self.stmt(s.else_case)
        elif t is S.Allocate:
            b = s.buffer
            fill = np.nan if dt.is_float(b.dtype) else 0
            self.mem[b] = np.full(b.size, fill, _np_dtype(b.dtype))
            self.stmt(s.body)
            del self.mem[b]
        elif t is S.AssertStmt:
            if not bool(self.expr(s.cond)):
                raise IndexError(s.message)
            self.stmt(s.body)
        elif t is S.Evaluate:
            pass
        else:
            raise NotImplementedError(f"the interpreter cannot run {t.__name__}")

    def _addr(self, buf, values):
        """(flat array, flat index) of an access; `values` are the evaluated indices."""
        arr = self.mem.get(buf)
        if arr is None:
            raise RuntimeError(f"buffer {buf.name} is neither a parameter nor allocated here")
        idx = [np.asarray(v).astype(np.int64) for v in values]
        if len(idx) == 1:
            flat = idx[0]
            bad = (flat < 0) | (flat >= buf.size)
        else:
            if len(idx) != len(buf.shape):
                raise RuntimeError(f"{buf.name} has {len(buf.shape)} dimensions, accessed with {len(idx)}")
            bad = np.zeros(np.broadcast(*idx).shape, bool)
            flat = np.zeros_like(bad, dtype=np.int64)
            for i, ext in zip(idx, buf.shape):
                bad = bad | (i < 0) | (i >= ext)
                flat = flat * ext + i
        if np.any(bad):
            shown = ", ".join(str(np.asarray(i).tolist()) for i in idx)
            raise IndexError(f"interpreter: access {buf.name}[{shown}] is out of bounds (shape {list(buf.shape)})")
        return arr, flat

    # -- expressions -----------------------------------------------------------------------------
    def expr(self, e):
        return fold(e, self._node, self._leaf)

    def _leaf(self, e):
        t = type(e)
        if t is E.Var:
            v = self.env.get(e)
            if v is None:
                raise RuntimeError(f"variable {e.name} has no value here")
            return np.array(v, _np_dtype(e.dtype))[()]
        if t is E.Const:
            return np.array(e.value, _np_dtype(e.dtype))[()]
        if t is E.Select:                   # only the taken side runs (it may load out of range)
            c = self.expr(e.cond)
            if np.ndim(c) == 0:
                return self.expr(e.t) if bool(c) else self.expr(e.f)
            return np.where(c, self.expr(e.t), self.expr(e.f))
        return None

    def _node(self, e, k):
        t = type(e)
        fn = _BINARY.get(t)
        if fn is not None:
            a, b = k
            if t in (E.FloorDiv, E.FloorMod) and np.any(b == 0):
                raise ZeroDivisionError(f"`{e}` divides by zero")
            r = fn(a, b)
            return r if dt.is_bool(e.dtype) else np.asarray(r).astype(_np_dtype(e.dtype))[()]
        if t is E.Not:
            return np.logical_not(k[0])
        if t is E.Cast:
            return np.asarray(k[0]).astype(_np_dtype(e.dtype))[()]
        if t is E.Call:
            f = _MATH.get(e.name)
            if f is None:
                raise NotImplementedError(f"the interpreter has no intrinsic {e.name!r}")
            return np.asarray(f(*k)).astype(_np_dtype(e.dtype))[()]
        if t is E.BufferLoad:
            arr, idx = self._addr(e.buffer, k)
            return arr[idx]
        if t is E.Ramp:
            return (k[0] + np.arange(e.lanes, dtype=np.int64) * e.stride).astype(_np_dtype(e.base.dtype))
        if t is E.Broadcast:
            return np.full(e.lanes, k[0], _np_dtype(e.value.dtype))
        raise NotImplementedError(f"the interpreter cannot evaluate {t.__name__} (`{e}`)")
