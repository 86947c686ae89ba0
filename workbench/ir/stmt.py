"""Statement nodes of the loop IR, buffers and the lowered function.

Frozen dataclasses with structural equality; a pass is a function `Stmt -> Stmt` (see `lower/`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


FOR_KINDS = ("serial", "parallel", "vectorized", "unrolled")


@dataclass(frozen=True, repr=False)
class For(Stmt):
    var: Var
    min: Expr
    extent: Expr
    kind: str
    body: Stmt
    # pragmas and hints as sorted (key, value) pairs, e.g. (("auto_unroll_max_step", 16),)
    annotations: tuple = ()


@dataclass(frozen=True, repr=False)
class SeqStmt(Stmt):
    stmts: tuple


@dataclass(frozen=True, repr=False)
class IfThenElse(Stmt):
    cond: Expr
    then_case: Stmt
    else_case: Stmt | None = None


@dataclass(frozen=True, repr=False)
class AssertStmt(Stmt):
    """Run `body` if `cond` holds, otherwise stop the kernel with `message` (runtime.Kernel raises
    IndexError(message)). Lowering's bounds check emits it, hoisted out of the loops it checks."""
    cond: Expr
    message: str
    body: Stmt


@dataclass(frozen=True, repr=False)
class BufferStore(Stmt):
    buffer: Buffer
    value: Expr
    indices: tuple


@dataclass(frozen=True, repr=False)
class Allocate(Stmt):
    """`buffer` lives for the duration of `body` (stack if small, heap otherwise; see codegen)."""
    buffer: Buffer
    body: Stmt


@dataclass(frozen=True, repr=False)
class Evaluate(Stmt):
    """A statement with no effect; what an emptied body becomes (`pass` when printed)."""
    value: Any = 0


@dataclass(frozen=True, eq=False)
class PrimFunc:
    """The result of lowering: parameters (one buffer per argument tensor, in call order) and body."""
    name: str
    params: tuple
    body: Stmt
    # (pass name, body after it) for every pass run; see lower.passes.PASSES
    history: tuple = field(default=(), compare=False)

    def __str__(self):
        from .printer import func_str
        return func_str(self)

    def after(self, pass_name: str) -> str:
        """The function as it was printed right after `pass_name` ran."""
        for name, body in self.history:
            if name == pass_name:
                return str(PrimFunc(self.name, self.params, body))
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
