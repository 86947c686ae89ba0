"""Expression nodes, shared by tensor expressions (`te`) and the loop IR, as TVM's PrimExpr is.

Nodes are frozen dataclasses. `==` builds an `EQ` node (so `te.if_then_else(i == 0, ...)` means what
it says); `bool()` of an `EQ` is structural equality, which is what containers and tests need. Using
any other comparison or logical node as a Python bool raises with a hint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import dtype as dt


class Expr:
    """Base of all expressions. Subclasses are frozen dataclasses with a `dtype`."""

    __slots__ = ()
    dtype: str

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, o): return binary(Add, self, o)
    def __radd__(self, o): return binary(Add, o, self)
    def __sub__(self, o): return binary(Sub, self, o)
    def __rsub__(self, o): return binary(Sub, o, self)
    def __mul__(self, o): return binary(Mul, self, o)
    def __rmul__(self, o): return binary(Mul, o, self)
    def __truediv__(self, o): return binary(Div, self, o)
    def __rtruediv__(self, o): return binary(Div, o, self)
    def __floordiv__(self, o): return binary(FloorDiv, self, o)
    def __rfloordiv__(self, o): return binary(FloorDiv, o, self)
    def __mod__(self, o): return binary(FloorMod, self, o)
    def __rmod__(self, o): return binary(FloorMod, o, self)
    def __lshift__(self, o): return binary(ShiftLeft, self, o)
    def __rlshift__(self, o): return binary(ShiftLeft, o, self)
    def __rshift__(self, o): return binary(ShiftRight, self, o)
    def __rrshift__(self, o): return binary(ShiftRight, o, self)
    def __neg__(self): return binary(Sub, const(0, self.dtype), self)
    def __pos__(self): return self

    # -- comparisons and logic ------------------------------------------------------------------
    def __lt__(self, o): return binary(LT, self, o)
    def __le__(self, o): return binary(LE, self, o)
    def __gt__(self, o): return binary(GT, self, o)
    def __ge__(self, o): return binary(GE, self, o)
    def __eq__(self, o): return binary(EQ, self, o)  # type: ignore[override]
    def __ne__(self, o): return binary(NE, self, o)  # type: ignore[override]
    def __and__(self, o): return logical(And, self, o)
    def __rand__(self, o): return logical(And, o, self)
    def __or__(self, o): return logical(Or, self, o)
    def __ror__(self, o): return logical(Or, o, self)
    def __invert__(self): return Not(as_bool(self))

    def __hash__(self):
        # structural, with variables by identity (consistent with bool(a == b)); iterative, cached
        h = self.__dict__.get("_hash")
        if h is None:
            from .structural import structural_hash
            h = structural_hash(self, map_free_vars=False)
            object.__setattr__(self, "_hash", h)
        return h

    def __bool__(self):
        raise TypeError(
            f"cannot use the expression `{self}` as a Python bool (in `if`, `and`, `or`, `not`); "
            "hint: use te.if_then_else(cond, a, b), te.all(...)/te.any(...), or & | ~ instead")

    def astype(self, dtype: str) -> "Expr":
        dtype = dt.check(dtype)
        return self if self.dtype == dtype else Cast(dt.with_lanes(dtype, dt.lanes(self.dtype)), self)

    def equal(self, o) -> "Expr":
        return binary(EQ, self, o)

    def __str__(self):
        from .printer import expr_str
        return expr_str(self)

    __repr__ = __str__


# ------------------------------------------------------------------------------------------------
# leaves
@dataclass(frozen=True, eq=False, repr=False)
class Const(Expr):
    value: Any
    dtype: str
    __children__ = ()


@dataclass(frozen=True, eq=False, repr=False)
class Var(Expr):
    """A scalar variable. Identity, not name, makes two variables equal (as in TVM)."""
    name: str
    dtype: str = "int32"
    _identity = True
    __children__ = ()

    def __hash__(self):
        return id(self)


# ------------------------------------------------------------------------------------------------
# binary arithmetic: operands always share one dtype (see `binary`)
@dataclass(frozen=True, eq=False, repr=False)
class BinOp(Expr):
    a: Expr
    b: Expr
    __children__ = ("a", "b")

    # dtype is stored at construction (children exist by then), so asking a deep expression for
    # its dtype is O(1) rather than a recursion down its left spine
    def __post_init__(self):
        object.__setattr__(self, "dtype", self.a.dtype)


class Add(BinOp): pass
class Sub(BinOp): pass
class Mul(BinOp): pass
class Div(BinOp): pass          # true division, floats only
class FloorDiv(BinOp): pass     # Python // (rounds toward -inf)
class FloorMod(BinOp): pass     # Python %  (sign of the divisor)
class Min(BinOp): pass
class Max(BinOp): pass
class ShiftLeft(BinOp): pass    # integers only; bits shifted out are lost (wraps like the dtype)
class ShiftRight(BinOp): pass   # arithmetic for signed dtypes, logical for unsigned (as numpy)


class CmpOp(BinOp):
    def __post_init__(self):
        object.__setattr__(self, "dtype", dt.with_lanes("bool", dt.lanes(self.a.dtype)))


class LT(CmpOp): pass
class LE(CmpOp): pass
class GT(CmpOp): pass
class GE(CmpOp): pass
class NE(CmpOp): pass


class EQ(CmpOp):
    def __bool__(self):
        # `a == b` used as a Python bool. Containers (dict lookups, `in`) compare nodes: identity for
        # variables, structural equality otherwise. A variable compared with a constant is a
        # condition the user wrote in Python (`A[i] if i == 0 else ...`): its truth is not known
        # until the loop runs, so say so instead of silently taking one branch.
        a, b = self.a, self.b
        if a is b:
            return True
        if type(a) is Var and type(b) is Var:
            return False
        if (type(a) is Const) != (type(b) is Const) and _has_var(b if type(a) is Const else a):
            raise TypeError(
                f"cannot use the condition `{self}` as a Python bool: loop variables have no value "
                "while the expression is built; hint: use te.if_then_else(cond, a, b) (and te.all/"
                "te.any or & | ~ to combine conditions)")
        return structural_equal(a, b)


class And(CmpOp): pass
class Or(CmpOp): pass


@dataclass(frozen=True, eq=False, repr=False)
class Not(Expr):
    a: Expr
    __children__ = ("a",)

    def __post_init__(self):
        object.__setattr__(self, "dtype", self.a.dtype)


@dataclass(frozen=True, eq=False, repr=False)
class Select(Expr):
    """`cond ? t : f`. Only the taken side is evaluated (codegen branches when a side loads)."""
    cond: Expr
    t: Expr
    f: Expr
    __children__ = ("cond", "t", "f")

    def __post_init__(self):
        object.__setattr__(self, "dtype", self.t.dtype)


@dataclass(frozen=True, eq=False, repr=False)
class Cast(Expr):
    dtype: str
    value: Expr
    __children__ = ("value",)


@dataclass(frozen=True, eq=False, repr=False)
class Call(Expr):
    """A pure math intrinsic: exp, log, sqrt, tanh, sigmoid, abs."""
    name: str
    args: tuple
    dtype: str
    __children__ = ("args",)


@dataclass(frozen=True, eq=False, repr=False)
class TensorRead(Expr):
    """`A[i, j]` on a te.Tensor, before lowering binds tensors to buffers."""
    tensor: Any
    indices: tuple
    __children__ = ("indices",)

    @property
    def dtype(self) -> str:  # type: ignore[override]
        return self.tensor.dtype


@dataclass(frozen=True, eq=False, repr=False)
class Reduce(Expr):
    """A commutative reduction over `axis` (IterVars); only legal as the top of a compute body."""
    combiner: str          # "sum" | "max" | "min"
    source: Expr
    axis: tuple
    condition: Expr | None = None
    __children__ = ("source", "condition")

    @property
    def dtype(self) -> str:  # type: ignore[override]
        return self.source.dtype


@dataclass(frozen=True, eq=False, repr=False)
class BufferLoad(Expr):
    """A read of a lowered buffer; after storage flattening `indices` has one (flat) entry,
    which the vectorizer may turn into a Ramp."""
    buffer: Any
    indices: tuple
    __children__ = ("indices",)

    @property
    def dtype(self) -> str:  # type: ignore[override]
        idx_lanes = dt.lanes(self.indices[-1].dtype) if self.indices else 1
        return dt.with_lanes(self.buffer.dtype, idx_lanes)


@dataclass(frozen=True, eq=False, repr=False)
class Ramp(Expr):
    base: Expr
    stride: int
    lanes: int
    __children__ = ("base",)

    @property
    def dtype(self) -> str:  # type: ignore[override]
        return dt.with_lanes(self.base.dtype, self.lanes)


@dataclass(frozen=True, eq=False, repr=False)
class Broadcast(Expr):
    value: Expr
    lanes: int
    __children__ = ("value",)

    @property
    def dtype(self) -> str:  # type: ignore[override]
        return dt.with_lanes(self.value.dtype, self.lanes)


# ------------------------------------------------------------------------------------------------
# construction helpers
def const(value, dtype: str | None = None) -> Const:
    if dtype is None:
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int32" if -2**31 <= value < 2**31 else "int64"
        elif isinstance(value, float):
            dtype = "float32"
        else:
            raise TypeError(f"cannot make a constant of {type(value).__name__} {value!r}")
    b = dt.base(dtype)
    if b == "bool":
        value = bool(value)
    elif dt.is_int(b):
        if isinstance(value, float) and not value.is_integer():
            raise TypeError(f"constant {value!r} is not an integer but dtype is {dtype}")
        value = int(value)
    else:
        value = float(value)
    return Const(value, dtype)


def convert(x, like: str | None = None) -> Expr:
    """Python scalars become constants; a literal next to a typed expression takes its dtype."""
    if isinstance(x, Expr):
        return x
    if hasattr(x, "__index_expr__"):      # an IterVar stands for its variable
        return x.__index_expr__()
    if hasattr(x, "op") and hasattr(x, "shape") and not hasattr(x, "dtype_is_numpy"):
        raise TypeError(f"a tensor ({x}) is not an expression; index it, e.g. {getattr(x, 'name', 'T')}[i, j]")
    if isinstance(x, (bool, int, float)):
        if like is not None:
            b = dt.base(like)
            if dt.is_int(b) and isinstance(x, float) and not float(x).is_integer():
                like = "float32"
            target = dt.base(like) if b != "bool" or isinstance(x, bool) else None
            if target is not None and dt.is_int(target) and target != "bool" and not isinstance(x, bool):
                check_int_fits(int(x), target)
            return const(x, target)
        return const(x)
    import numpy as np  # numpy scalars, e.g. from shape arithmetic
    if isinstance(x, np.generic):
        return const(x.item(), dt.check(x.dtype))
    raise TypeError(f"cannot convert {type(x).__name__} {x!r} to an expression")


def check_int_fits(v: int, dtype: str):
    # `int8_expr + 300` must not silently become int8(44): a literal takes its neighbour's dtype,
    # so it has to fit in it (cast the expression first to compute in a wider type)
    bits = dt.bits(dtype)
    lo, hi = (0, 2**bits - 1) if not dt.is_signed(dtype) else (-2**(bits - 1), 2**(bits - 1) - 1)
    if not lo <= v <= hi:
        raise ValueError(f"constant {v} does not fit in {dtype} (range {lo}..{hi}); hint: cast the "
                         f"other operand first, e.g. x.astype('int32') + {v}")


def _has_var(e) -> bool:
    from .visitor import walk
    found = []
    walk(e, lambda n: found.append(1) if type(n) is Var else None)
    return bool(found)


def binary(cls, a, b) -> Expr:
    if not isinstance(a, Expr) and not isinstance(b, Expr):
        raise TypeError(f"{cls.__name__} needs at least one expression operand")
    a = convert(a, b.dtype if isinstance(b, Expr) else None)
    b = convert(b, a.dtype)
    la, lb = dt.lanes(a.dtype), dt.lanes(b.dtype)
    if la != lb and min(la, lb) == 1:     # a scalar next to a vector is broadcast to its lanes
        a, b = (Broadcast(a, lb), b) if la == 1 else (a, Broadcast(b, la))
    if a.dtype != b.dtype:
        t = dt.promote(a.dtype, b.dtype)
        a, b = a.astype(dt.base(t)), b.astype(dt.base(t))
    if cls is Div and not dt.is_float(a.dtype):
        raise TypeError(f"`/` on integer expressions ({a} / {b}); hint: use `//` (floor division) "
                        "or cast to a float with .astype('float32')")
    if cls in (ShiftLeft, ShiftRight) and not (dt.is_int(a.dtype) and dt.base(a.dtype) != "bool"):
        raise TypeError(f"`{'<<' if cls is ShiftLeft else '>>'}` needs integer operands, got {a.dtype}")
    if cls in (FloorDiv, FloorMod) and dt.is_float(a.dtype):
        raise TypeError(f"`{'//' if cls is FloorDiv else '%'}` needs integer operands, got {a.dtype}")
    return cls(a, b)


def as_bool(x) -> Expr:
    x = convert(x)
    if not dt.is_bool(x.dtype):
        raise TypeError(f"expected a condition (a comparison), got `{x}` of dtype {x.dtype}")
    return x


def logical(cls, a, b) -> Expr:
    return cls(as_bool(a), as_bool(b))


def structural_equal(a, b) -> bool:
    """Structural equality with variables, buffers and tensors compared by identity (what passes
    need: `x + 1` and `y + 1` differ). For equality up to renaming use ir.structural_equal."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    from .structural import structural_equal as _eq
    return _eq(a, b, map_free_vars=False)
