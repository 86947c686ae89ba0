"""Tensor intrinsics: a small compute (what a hardware instruction or a hand-written micro-kernel
does) paired with a function that emits its implementation, as TVM's `te.decl_tensor_intrin`.

`s[C].tensorize(axis, intrin)` checks that the loop nest under `axis` computes exactly the
intrinsic's compute (up to renaming and an offset into each tensor) and, at lowering, replaces that
sub-nest by `lower_fn(ins, outs)`: ins/outs are `BufferView`s addressing the region of each buffer
one call covers. lower_fn returns a loop-IR statement, or for a reduction that is split around the
sub-nest a triple `(body, reset, update)` as in TVM: `reset` initialises the output region,
`update` accumulates into it, `body` (may be None) does both at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Callable

from ..ir import expr as E
from ..ir import stmt as S
from .tensor import ComputeOp, PlaceholderOp, Tensor


@dataclass(frozen=True, eq=False)
class TensorIntrin:
    name: str
    op: ComputeOp
    lower_fn: Callable
    binds: tuple = ()          # (intrinsic tensor, required storage scope) pairs

    @property
    def inputs(self) -> tuple:
        return self.op.input_tensors

    @property
    def output(self) -> Tensor:
        return self.op.output(0)

    def scope_of(self, t) -> str | None:
        return next((sc for bt, sc in self.binds if bt is t), None)

    def __repr__(self):
        return f"TensorIntrin({self.name}, {self.op})"


# Intrinsics by name, so a trace step `tensorize('k.inner', 'dot16')` replays (and prints) by name.
# Declaring a name again replaces it, as re-running a notebook cell does.
_INTRINSICS: dict = {}


def decl_tensor_intrin(op, lower_fn, name: str | None = None, binds=None) -> TensorIntrin:
    """Declare a tensor intrinsic: `op` is a small te compute (or its tensor) over placeholders,
    `lower_fn(ins, outs)` emits its implementation (see the module docstring). `binds` optionally
    maps intrinsic tensors to the storage scope their buffers must be in (a string, or an object
    with a `.scope`), e.g. VTA's SRAM scopes.

    `lower_fn=None` declares an intrinsic a backend lowers itself: the sub-nest is checked, then
    kept as loops with a `("tensorize", name)` annotation on its outermost loop for the backend's
    passes to find (a CPU build runs the loops)."""
    if isinstance(op, Tensor):
        op = op.op
    if not isinstance(op, ComputeOp):
        raise TypeError(f"decl_tensor_intrin: op must be a te.compute (or its tensor), got {op!r}")
    if lower_fn is not None and not callable(lower_fn):
        raise TypeError(f"decl_tensor_intrin: lower_fn must be callable (ins, outs) -> statement, got {lower_fn!r}")
    for t in op.input_tensors:
        if not isinstance(t.op, PlaceholderOp):
            raise ValueError(f"decl_tensor_intrin: the intrinsic's inputs must be placeholders; {t.name} "
                             "is computed")
    pairs = []
    for t, b in (binds or {}).items():
        if t is not op.output(0) and all(t is not x for x in op.input_tensors):
            raise ValueError(f"decl_tensor_intrin: binds names {getattr(t, 'name', t)!r}, which is not an "
                             "input or the output of the intrinsic")
        scope = b if isinstance(b, str) else getattr(b, "scope", None)
        if not isinstance(scope, str):
            raise TypeError(f"decl_tensor_intrin: binds[{t.name}] must be a scope name or have .scope")
        pairs.append((t, scope))
    intrin = TensorIntrin(name or op.name, op, lower_fn, tuple(pairs))
    _INTRINSICS[intrin.name] = intrin
    return intrin


def get_tensor_intrin(name: str) -> TensorIntrin | None:
    return _INTRINSICS.get(name)


def as_tensor_intrin(x) -> TensorIntrin | None:
    """x itself, or a backend's intrinsic record (an object with `.compute`, a te tensor, and
    `.name`, as VTA's env.gemm) declared as a backend-lowered TensorIntrin; None otherwise."""
    if isinstance(x, TensorIntrin):
        return x
    compute = getattr(x, "compute", None)
    if isinstance(compute, Tensor) and isinstance(getattr(x, "name", None), str):
        known = _INTRINSICS.get(x.name)
        if known is not None and known.op is compute.op:
            return known
        return decl_tensor_intrin(compute, getattr(x, "lower_fn", None), name=x.name,
                                  binds=getattr(x, "binds", None))
    return None


@dataclass(frozen=True)
class AccessPtr:
    """What TVM's `buffer.access_ptr(mask)` gives a backend: the buffer, the first element one call
    touches (flat, in elements), how many elements it spans, and "r"/"w"/"rw"."""
    buffer: S.Buffer
    offset: E.Expr
    extent: int
    mask: str


@dataclass(frozen=True, eq=False)
class BufferView:
    """The region of `buffer` one intrinsic call reads or writes: it starts at `offsets` (one
    expression per buffer dimension, in the enclosing loops' variables) and has the intrinsic
    tensor's `shape`, which addresses the buffer's trailing dimensions."""
    buffer: S.Buffer
    offsets: tuple
    shape: tuple
    tensor: Any = None          # the intrinsic's tensor this view stands for

    @property
    def name(self) -> str:
        return self.buffer.name

    @property
    def dtype(self) -> str:
        return self.buffer.dtype

    @property
    def scope(self) -> str:
        return self.buffer.scope

    @property
    def buffer_strides(self) -> tuple:
        """Row-major strides (in elements) of every dimension of the underlying buffer."""
        shp = self.buffer.shape
        return tuple(prod(shp[d + 1:]) for d in range(len(shp)))

    @property
    def strides(self) -> tuple:
        """Strides (in elements) of the view's own dimensions."""
        return self.buffer_strides[len(self.buffer.shape) - len(self.shape):]

    @property
    def elem_offset(self) -> E.Expr:
        """Flat index (in elements) of the region's first element."""
        from ..ir.simplify import simplify_expr
        out = E.const(0)
        for o, st in zip(self.offsets, self.buffer_strides):
            out = out + o * st
        return simplify_expr(out)

    def index(self, *idx) -> tuple:
        """Full buffer index of element `idx` of the view."""
        if len(idx) == 1 and isinstance(idx[0], (tuple, list)):
            idx = tuple(idx[0])
        if len(idx) != len(self.shape):
            raise IndexError(f"view of {self.name} has {len(self.shape)} dimensions, indexed with {len(idx)}")
        lead = len(self.offsets) - len(self.shape)
        return tuple(self.offsets[:lead]) + tuple(
            o + E.convert(i) for o, i in zip(self.offsets[lead:], idx))

    def vload(self, *idx) -> E.BufferLoad:
        """Load element `idx` of the view (TVM's name)."""
        return E.BufferLoad(self.buffer, self.index(*idx))

    def vstore(self, idx, value) -> S.BufferStore:
        """Store `value` at element `idx` of the view."""
        if not isinstance(idx, (tuple, list)):
            idx = (idx,)
        value = E.convert(value, self.dtype)
        if value.dtype != self.dtype:
            value = value.astype(self.dtype)
        return S.BufferStore(self.buffer, value, self.index(*idx))

    def access_ptr(self, mask: str = "r", offset=0, extent: int | None = None) -> AccessPtr:
        if mask not in ("r", "w", "rw"):
            raise ValueError(f"access_ptr mask must be 'r', 'w' or 'rw', got {mask!r}")
        return AccessPtr(self.buffer, self.elem_offset + offset,
                         prod(self.shape) if extent is None else int(extent), mask)

    def __repr__(self):
        return f"BufferView({self.name}[{', '.join(map(str, self.offsets))}] shape {list(self.shape)})"
