"""Statement nodes of the loop IR, buffers and the lowered function.

Frozen dataclasses with structural equality; a pass is a function `Stmt -> Stmt` (see `lower/`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from math import prod
from typing import Any

from . import dtype as dt
from .expr import Expr, Var


@dataclass(frozen=True, eq=False)
class Buffer:
    """A region of memory with a shape. Identity makes two buffers the same (like Var)."""
    name: str
    shape: tuple
    dtype: str
    scope: str = "global"
    _identity = True

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * dt.nbytes(self.dtype)

    def __repr__(self):
        return f"Buffer({self.name}, {list(self.shape)}, {self.dtype}, {self.scope})"


class Stmt:
    __slots__ = ()

    def __str__(self):
        from .printer import stmt_str
        return stmt_str(self)


class ForKind(StrEnum):
    """How a loop runs. A StrEnum, so `f.kind == "parallel"` and plain strings keep working."""
    serial = "serial"
    parallel = "parallel"
    vectorized = "vectorized"
    unrolled = "unrolled"

    __hash__ = str.__hash__   # hash like the plain string, so dicts keyed by "serial" find it


FOR_KINDS = tuple(k.value for k in ForKind)


@dataclass(frozen=True, repr=False)
class For(Stmt):
    var: Var
    min: Expr
    extent: Expr
    kind: ForKind
    body: Stmt
    # pragmas and hints from the schedule as sorted (key, value) pairs, e.g. (("auto_unroll_max_step", 16),)
    annotations: tuple = ()
    # what lowering decided about this loop, as (key, message) pairs, e.g.
    # (("not_vectorized", "loop j is inside it"),); printed as comments, never read by codegen
    notes: tuple = ()
    __children__ = ("min", "extent", "body")

    def __post_init__(self):
        if type(self.kind) is not ForKind:
            try:
                object.__setattr__(self, "kind", ForKind(self.kind))
            except ValueError:
                raise ValueError(f"unknown loop kind {self.kind!r}; expected one of {FOR_KINDS}") from None


@dataclass(frozen=True, repr=False)
class SeqStmt(Stmt):
    stmts: tuple
    __children__ = ("stmts",)


@dataclass(frozen=True, repr=False)
class IfThenElse(Stmt):
    cond: Expr
    then_case: Stmt
    else_case: Stmt | None = None
    __children__ = ("cond", "then_case", "else_case")


@dataclass(frozen=True, repr=False)
class AssertStmt(Stmt):
    """Run `body` if `cond` holds, otherwise stop the kernel with `message` (runtime.Kernel raises
    IndexError(message)). Lowering's bounds check emits it, hoisted out of the loops it checks."""
    cond: Expr
    message: str
    body: Stmt
    __children__ = ("cond", "body")


@dataclass(frozen=True, repr=False)
class BufferStore(Stmt):
    buffer: Buffer
    value: Expr
    indices: tuple
    __children__ = ("value", "indices")


@dataclass(frozen=True, repr=False)
class Allocate(Stmt):
    """`buffer` lives for the duration of `body` (stack if small, heap otherwise; see codegen)."""
    buffer: Buffer
    body: Stmt
    __children__ = ("body",)


@dataclass(frozen=True, repr=False)
class Evaluate(Stmt):
    """A statement with no effect; what an emptied body becomes (`pass` when printed)."""
    value: Any = 0
    __children__ = ("value",)


@dataclass(frozen=True, eq=False)
class PrimFunc:
    """The result of lowering: parameters (one buffer per argument tensor, in call order) and body."""
    name: str
    params: tuple
    body: Stmt
    # (pass name, body after it) for every pass run; see lower.passes.DEFAULT_PIPELINE
    history: tuple = field(default=(), compare=False)
    # loop variable -> name of the schedule stage it came from (for errors and warnings)
    loop_stage: Any = field(default_factory=dict, compare=False)

    def __str__(self):
        from .printer import func_str
        return func_str(self)

    def script(self, unflatten: bool = True) -> str:
        """The function as text; unflatten=False prints flat indices exactly as the IR holds them."""
        from .printer import func_str
        return func_str(self, unflatten=unflatten)

    def after(self, pass_name: str) -> str:
        """The function as it was right after `pass_name` ran (indices printed as the IR held them)."""
        from .printer import func_str
        for name, body in self.history:
            if name == pass_name:
                return func_str(self, body, unflatten=False)
        raise KeyError(f"no pass named {pass_name!r}; passes run: {[n for n, _ in self.history]}")

    def body_after(self, pass_name: str):
        """The body (a Stmt) right after `pass_name` ran."""
        for name, body in self.history:
            if name == pass_name:
                return body
        raise KeyError(f"no pass named {pass_name!r}; passes run: {[n for n, _ in self.history]}")


def seq(*stmts) -> Stmt:
    """Flatten nested sequences and drop no-ops; a single statement stays itself."""
    out = []
    for s in stmts:
        if s is None or isinstance(s, Evaluate):
            continue
        if isinstance(s, SeqStmt):
            out.extend(s.stmts)
        else:
            out.append(s)
    if not out:
        return Evaluate()
    return out[0] if len(out) == 1 else SeqStmt(tuple(out))
