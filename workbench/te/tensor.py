"""Tensors, operations and iteration variables: what `te.placeholder` / `te.compute` describe."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import dtype as dt
from ..ir import expr as E
from ..ir.visitor import walk


@dataclass(frozen=True, eq=False)
class IterVar:
    """A loop axis: its variable, its domain [min, min+extent) and whether it is a reduction."""
    var: E.Var
    min: int
    extent: int
    kind: str = "data"          # "data" | "reduce" | "thread"
    thread_tag: str = ""        # for kind "thread": "cthread" or "vthread" (see te.thread_axis)
    _identity = True

    @property
    def name(self) -> str:
        return self.var.name

    @property
    def dom(self) -> tuple:
        return (self.min, self.extent)

    def __repr__(self):
        if self.kind == "thread":
            dom = "" if self.extent is None else f", range({self.min}, {self.min + self.extent})"
            return f"IterVar({self.name}{dom}, thread_tag={self.thread_tag!r})"
        return f"IterVar({self.name}, range({self.min}, {self.min + self.extent}), {self.kind})"

    # An IterVar stands for its variable inside expressions, as in TVM (A[i, k] with k a reduce axis).
    def __index_expr__(self) -> E.Var:
        return self.var


def _delegate(name):
    def method(self, *args):
        return getattr(self.var, name)(*args)
    method.__name__ = name
    return method


def _cmp(name):
    def method(self, other):
        if not isinstance(other, (E.Expr, IterVar, int, float)):
            return NotImplemented
        return getattr(self.var, name)(other)
    method.__name__ = name
    return method


# == and != build conditions (k == 0 inside if_then_else); hashing stays by identity
IterVar.__eq__ = _cmp("__eq__")
IterVar.__ne__ = _cmp("__ne__")

for _m in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__floordiv__",
           "__rfloordiv__", "__mod__", "__rmod__", "__lt__", "__le__", "__gt__", "__ge__", "__neg__",
           "__truediv__", "__rtruediv__", "__lshift__", "__rlshift__", "__rshift__", "__rrshift__",
           "astype", "equal"):
    setattr(IterVar, _m, _delegate(_m))


# Thread tags a schedule can bind to. Virtual threads ("cthread" is VTA's name, "vthread" TVM's
# generic one) are interleaved by a backend to overlap memory and compute; there is no GPU target.
THREAD_TAGS = ("cthread", "vthread")


def make_thread_axis(dom, tag: str, name: str) -> IterVar:
    if tag not in THREAD_TAGS:
        raise ValueError(f"te.thread_axis: unknown thread tag {tag!r}; known: {', '.join(THREAD_TAGS)} "
                         "(this workbench has no GPU target, so no threadIdx/blockIdx)")
    lo, ext = 0, None
    if dom is not None:
        if isinstance(dom, int) and not isinstance(dom, bool):
            dom = (0, dom)
        try:
            lo, hi = (int(v) for v in dom)
        except (TypeError, ValueError):
            raise ValueError(f"te.thread_axis: dom must be an int or (lo, hi), got {dom!r}") from None
        if lo != 0 or hi <= 0:
            raise ValueError(f"te.thread_axis: dom must start at 0 and be non-empty, got {dom!r}")
        ext = hi
    return IterVar(E.Var(name or tag), lo, ext, "thread", tag)


def to_expr(x, like: str | None = None) -> E.Expr:
    if isinstance(x, IterVar):
        return x.var
    if isinstance(x, Tensor):
        raise TypeError(f"tensor {x.name} used as a value; index it, e.g. {x.name}[{', '.join('i' * 0)}...]")
    return E.convert(x, like)


class Operation:
    name: str
    _identity = True

    def output(self, i: int = 0) -> "Tensor":
        if i != 0:
            raise IndexError(f"operation {self.name} has one output")
        return self._output  # type: ignore[attr-defined]

    @property
    def input_tensors(self) -> tuple:
        return ()


@dataclass(frozen=True, eq=False)
class PlaceholderOp(Operation):
    name: str
    shape: tuple
    dtype: str

    def __repr__(self):
        return f"placeholder({self.name}, {list(self.shape)}, {self.dtype})"


@dataclass(frozen=True, eq=False)
class ComputeOp(Operation):
    name: str
    axis: tuple             # IterVars of the output dimensions
    reduce_axis: tuple      # IterVars reduced over (empty for elementwise)
    body: E.Expr            # E.Reduce at the top for reductions
    tag: str = ""

    @property
    def shape(self) -> tuple:
        return tuple(iv.extent for iv in self.axis)

    @property
    def dtype(self) -> str:
        return self.body.dtype

    @property
    def input_tensors(self) -> tuple:
        seen: dict = {}
        def fn(n):
            if type(n) is E.TensorRead:
                seen.setdefault(id(n.tensor), n.tensor)
        walk(self.body, fn)
        return tuple(seen.values())

    def __repr__(self):
        return f"compute({self.name}, {list(self.shape)}, {self.dtype})"


@dataclass(frozen=True, eq=False)
class Tensor:
    op: Operation
    shape: tuple
    dtype: str
    name: str = field(default="")
    _identity = True

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __call__(self, *idx) -> E.TensorRead:
        """`T(i, j)` is `T[i, j]` (TVM's call form, used by the VTA tutorials)."""
        return self[idx]

    def __getitem__(self, idx) -> E.TensorRead:
        if not isinstance(idx, tuple):
            idx = (idx,)
        if len(idx) != len(self.shape):
            raise IndexError(f"{self.name} has {len(self.shape)} dimensions, indexed with {len(idx)}")
        indices = []
        for x in idx:
            if isinstance(x, slice):
                raise TypeError(f"slices are not supported when indexing {self.name}; use one index per dimension")
            e = to_expr(x)
            if not dt.is_int(e.dtype):
                raise TypeError(f"index {e} of {self.name} has dtype {e.dtype}; indices must be integers")
            # data-dependent indices (gathers, X[I[i]]) are allowed: lowering checks them at run time
            indices.append(e if e.dtype == "int32" else e.astype("int32"))
        return E.TensorRead(self, tuple(indices))

    def __repr__(self):
        return f"Tensor({self.name}, {list(self.shape)}, {self.dtype})"

    def __bool__(self):
        return True

    # a tensor is not a scalar expression; these give a hint rather than a confusing error
    def _not_scalar(self, *_):
        raise TypeError(f"tensor {self.name} is not a scalar expression; index it, e.g. {self.name}[i, j]")
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _not_scalar


def make_tensor(op) -> Tensor:
    t = Tensor(op, tuple(op.shape), op.dtype, op.name)
    object.__setattr__(op, "_output", t)
    return t
