"""IR well-formedness: what every pass's output must satisfy (the pass manager checks it after each
pass when PassContext.verify is on; the test suite turns it on).

- every variable is defined before use: a loop variable inside its loop, never rebound by a loop
  nested in its own loop;
- every buffer accessed is a parameter or allocated by an enclosing Allocate;
- an access has one index per dimension (or one flat index), integer-typed;
- operand dtypes agree (binary operations, stores into their buffer), conditions are booleans;
- vector lanes agree: a vector store's value has its index's lanes, Ramp/Broadcast lanes >= 2.
"""
from __future__ import annotations

from . import dtype as dt
from . import expr as E
from . import stmt as S
from .visitor import StmtVisitor, walk


class IRVerifyError(ValueError):
    """The IR breaks a well-formedness rule; the message lists every violation found."""


def verify(func: S.PrimFunc, where: str = "") -> None:
    v = _Verifier(func.params)
    v.visit(func.body)
    if v.errors:
        head = f"malformed IR{' after ' + where if where else ''} in {func.name}: "
        shown = v.errors[:8] + ([f"... and {len(v.errors) - 8} more"] if len(v.errors) > 8 else [])
        raise IRVerifyError(head + "; ".join(shown))


class _Verifier(StmtVisitor):
    def __init__(self, params):
        super().__init__()
        self.buffers = set(params)
        self.defined: set = set()
        self.errors: list = []

    def err(self, msg):
        if msg not in self.errors:
            self.errors.append(msg)

    # -- scopes --------------------------------------------------------------------------------
    def enter_loop(self, f):
        if f.var in self.defined:
            self.err(f"loop variable {f.var.name} is rebound inside its own loop")
        if not dt.is_int(f.var.dtype) or not dt.is_int(f.min.dtype) or not dt.is_int(f.extent.dtype):
            self.err(f"loop {f.var.name} has a non-integer variable, min or extent")
        if not isinstance(f.kind, S.ForKind):
            self.err(f"loop {f.var.name} has kind {f.kind!r}, not a ForKind")
        super().enter_loop(f)
        self.defined.add(f.var)

    def exit_loop(self, f):
        self.defined.discard(f.var)
        super().exit_loop(f)

    def visit_Allocate(self, s):
        self.buffers.add(s.buffer)
        self.visit(s.body)
        self.buffers.discard(s.buffer)

    # -- statements ----------------------------------------------------------------------------
    def visit_BufferStore(self, s):
        self._access(s.buffer, s.indices, "store to")
        self.visit_expr(s.value)
        for i in s.indices:
            self.visit_expr(i)
        vb, bb = dt.base(s.value.dtype), dt.base(s.buffer.dtype)
        if vb != bb:
            self.err(f"store of a {s.value.dtype} value into {s.buffer.name} ({s.buffer.dtype})")
        il = dt.lanes(s.indices[-1].dtype) if s.indices else 1
        if dt.lanes(s.value.dtype) != il:
            self.err(f"store into {s.buffer.name}: value has {dt.lanes(s.value.dtype)} lanes, index {il}")

    def visit_IfThenElse(self, s):
        self._cond(s.cond, "if")
        self.generic(s)

    def visit_AssertStmt(self, s):
        self._cond(s.cond, "assert")
        if not isinstance(s.message, str):
            self.err("assert message is not a string")
        self.generic(s)

    def _cond(self, c, what):
        if not dt.is_bool(c.dtype) or dt.lanes(c.dtype) != 1:
            self.err(f"{what} condition `{c}` has dtype {c.dtype}, expected a scalar bool")

    def _access(self, buf, indices, what):
        if buf not in self.buffers:
            self.err(f"{what} {buf.name}, which is neither a parameter nor allocated here")
        if len(indices) not in (1, len(buf.shape)):
            self.err(f"{what} {buf.name} with {len(indices)} indices; it has {len(buf.shape)} dimensions")
        for i in indices:
            if not dt.is_int(i.dtype):
                self.err(f"index `{i}` of {buf.name} has dtype {i.dtype}")

    # -- expressions ---------------------------------------------------------------------------
    def visit_expr(self, e):
        walk(e, self._expr_node)

    def _expr_node(self, n):
        t = type(n)
        if t is E.Var:
            if n not in self.defined:
                self.err(f"variable {n.name} is used outside any loop that defines it")
        elif t is E.BufferLoad:
            self._access(n.buffer, n.indices, "load from")
        elif isinstance(n, E.BinOp):
            if n.a.dtype != n.b.dtype:
                self.err(f"operands of `{n}` have dtypes {n.a.dtype} and {n.b.dtype}")
            if t in (E.And, E.Or) and not dt.is_bool(n.a.dtype):
                self.err(f"logical operands of `{n}` are not booleans")
        elif t is E.Select:
            if not dt.is_bool(n.cond.dtype):
                self.err(f"select condition `{n.cond}` is not a boolean")
            if n.t.dtype != n.f.dtype:
                self.err(f"select branches have dtypes {n.t.dtype} and {n.f.dtype}")
            cl = dt.lanes(n.cond.dtype)
            if cl != 1 and cl != dt.lanes(n.t.dtype):
                self.err(f"select condition has {cl} lanes, branches {dt.lanes(n.t.dtype)}")
        elif t is E.Ramp or t is E.Broadcast:
            if n.lanes < 2:
                self.err(f"{t.__name__} with {n.lanes} lanes")
            inner = n.base if t is E.Ramp else n.value
            if dt.lanes(inner.dtype) != 1:
                self.err(f"{t.__name__} of a vector `{inner}`")
        elif t is E.TensorRead or t is E.Reduce:
            self.err(f"`{n}` is a tensor-expression node; lowering should have replaced it")
