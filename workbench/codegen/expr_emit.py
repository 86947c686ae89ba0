"""Loop-IR expressions -> LLVM values, the half of code generation that `emit.py`'s statements use.

Two modes (see emit.py's docstring for the integer semantics): `index(e)` computes loop variables,
addresses and bounds in i64 with `nsw` when the value range provably fits; `value(e)` computes any
expression in its own dtype with that dtype's wrap-around. Also here: vector addresses (ramps as
contiguous or strided loads), masked loads under a vector Select, casts, and calls to the vector
math library (vecmath.py). Very deep expressions are computed from an explicit stack.
"""
from __future__ import annotations

from ..ir import dtype as dt
from ..ir import expr as E
from .builder import CodegenError, FunctionBuilder, Val, _lanes_of, _scalar_of, _splat_int, _suffix, i64
from .llvm_types import elem_size, literal, llvm_type, scalar_literal, storage_type, vec, vector_literal
from .vecmath import VECTOR_MATH, math_function

FP = "contract"              # fast-math flags on float arithmetic: fuse to FMA, never reassociate
FP_REDUCE = "reassoc contract"   # ... except the update of a reduction (emit._reduction_update)
_INDEX_DTYPES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


def _interval(t, a, b):
    """Value range of `a op b` from the ranges of a and b (inclusive bounds), or None."""
    if t is E.Add:
        return a[0] + b[0], a[1] + b[1]
    if t is E.Sub:
        return a[0] - b[1], a[1] - b[0]
    if t is E.Mul:
        c = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
        return min(c), max(c)
    if t is E.Min:
        return min(a[0], b[0]), min(a[1], b[1])
    if t is E.Max:
        return max(a[0], b[0]), max(a[1], b[1])
    if t is E.FloorDiv:
        if b[0] > 0 or b[1] < 0:      # divisor of one sign: the extremes are at the corners
            c = (a[0] // b[0], a[0] // b[1], a[1] // b[0], a[1] // b[1])
            return min(c), max(c)
        return None
    if t is E.FloorMod:
        if b[0] > 0:
            return 0, b[1] - 1
        if b[1] < 0:
            return b[0] + 1, 0
        return None
    return None


class ExprEmitter(FunctionBuilder):
    """A function builder that turns expressions into LLVM values (statements: emit.FunctionEmitter)."""


    # -- expressions: index mode ------------------------------------------------------------------
    def value_range(self, e):
        """(lo, hi) of an integer expression of loop variables and constants, or None when unknown
        (a load, a variable without known bounds) or when some intermediate leaves its dtype's
        range — i.e. exactly when computing `e` in i64 gives what its own dtype gives."""
        hit = self._pure.get(id(e))
        if hit is None:       # the node is kept in the memo so that its id is not reused
            hit = self._pure[id(e)] = (e, self._value_range(e))
        return hit[1]

    def _value_range(self, e):
        limits = _INDEX_DTYPES.get(dt.base(e.dtype))
        if limits is None:
            return None
        t = type(e)
        if t is E.Const:
            r = (int(e.value), int(e.value))
        elif t is E.Var:
            r = self.ranges.get(e)
        elif t in (E.Add, E.Sub, E.Mul, E.FloorDiv, E.FloorMod, E.Min, E.Max):
            a, b = self.value_range(e.a), self.value_range(e.b)
            r = None if a is None or b is None else _interval(t, a, b)
        elif t is E.Ramp:
            a = self.value_range(e.base)
            r = None if a is None else (a[0] + min(0, e.stride * (e.lanes - 1)),
                                        a[1] + max(0, e.stride * (e.lanes - 1)))
        elif t is E.Broadcast or t is E.Cast:
            r = self.value_range(e.value)
        else:
            r = None
        if r is None or r[0] < limits[0] or r[1] > limits[1]:
            return None
        return r

    def is_index(self, e) -> bool:
        """True if `e` may be computed in i64 (see value_range)."""
        return self.value_range(e) is not None

    def index(self, e) -> Val:
        """Integer expression `e` computed in i64 (or <n x i64>)."""
        t = type(e)
        if t is E.Const:
            return i64(int(e.value))
        if t is E.Var:
            v = self.env.get(e)
            if v is None:
                raise CodegenError(f"unbound variable {e.name!r} (not a loop variable in scope)")
            return v
        if not self.is_index(e):
            v = self.value(e)        # e.g. an index read from a buffer: widen to i64
            if _scalar_of(v.ty) != "i64":
                ext = "zext" if dt.base(e.dtype) in ("uint8", "bool") else "sext"
                ty = vec("i64", _lanes_of(v.ty))
                v = self.op(f"{ext} {v} to {ty}", ty)
            return v
        if t is E.Add:
            return self.iadd(self.index(e.a), self.index(e.b))
        if t is E.Sub:
            return self.isub(self.index(e.a), self.index(e.b))
        if t is E.Mul:
            return self.imul(self.index(e.a), self.index(e.b))
        if t is E.FloorDiv or t is E.FloorMod:
            return self.floordiv(self.index(e.a), self.index(e.b), mod=t is E.FloorMod, signed=True,
                                 nsw=True)
        if t is E.Min or t is E.Max:
            return self.imin(self.index(e.a), self.index(e.b), is_max=t is E.Max)
        if t is E.Cast:
            return self.index(e.value)
        if t is E.Broadcast:
            return self.splat(self.index(e.value), e.lanes)
        if t is E.Ramp:
            base = self.splat(self.index(e.base), e.lanes)
            steps = Val(vector_literal([i * e.stride for i in range(e.lanes)], "int64"), base.ty)
            return self.binop("add", base, steps, "nsw")
        raise CodegenError(f"cannot compute {t.__name__} as an index")

    # -- expressions: value mode ------------------------------------------------------------------
    def value(self, e) -> Val:
        hit = self._deep.get(id(e))
        if hit is not None:
            return hit[1]
        if self._depth > _DEEP:
            return self._value_iterative(e)
        self._depth += 1
        try:
            return self._value(e)
        finally:
            self._depth -= 1

    def _value_iterative(self, root) -> Val:
        """`value` of a very deep expression (a sum of thousands of terms): its arithmetic nodes are
        computed bottom-up from an explicit stack, each into a memo its parent then reads, so Python's
        recursion limit is never reached. The memo lives for one statement (see store, _select)."""
        stack, order = [root], []
        while stack:
            n = stack.pop()
            if id(n) in self._deep:
                continue
            order.append(n)
            if type(n) in _CHAIN:
                stack.extend(getattr(n, f) for f in _CHAIN[type(n)])
        for n in reversed(order):            # children before parents
            if id(n) not in self._deep:
                self.value_range(n)          # its children's ranges are memoized: shallow
                self._deep[id(n)] = (n, self._value(n))
        return self._deep[id(root)][1]

    def _value(self, e) -> Val:
        t = type(e)
        if t is E.Const:
            return Val(literal(e.value, e.dtype), llvm_type(e.dtype))
        if self.is_index(e):
            v = self.index(e)
            if dt.base(e.dtype) == "int32":
                ty = llvm_type(e.dtype)
                if v.const is not None:
                    return Val(scalar_literal(v.const, "int32"), ty)
                return self.op(f"trunc {v} to {ty}", ty)
            return v
        fn = _VALUE.get(t)
        if fn is None:
            raise CodegenError(f"the LLVM code generator does not support {t.__name__} "
                               f"(`{e}`); was the function lowered?")
        return fn(self, e)

    def _arith(self, e) -> Val:
        a, b = self.value(e.a), self.value(e.b)
        t = type(e)
        if dt.is_float(e.dtype):
            return self.binop(_FOP[t], a, b, FP_REDUCE if e is self.reduction else FP)
        if t is E.FloorDiv or t is E.FloorMod:
            return self.floordiv(a, b, mod=t is E.FloorMod, signed=dt.is_signed(e.dtype))
        if t is E.Div:
            raise CodegenError(f"integer `/` in `{e}`")
        if t is E.ShiftLeft or t is E.ShiftRight:
            return self.shift(a, b, left=t is E.ShiftLeft, signed=dt.is_signed(e.dtype))
        return self.binop(_IOP[t], a, b)

    def shift(self, a: Val, b: Val, *, left: bool, signed: bool) -> Val:
        """numpy's << and >>: a shift amount outside [0, bits) (negative included) gives 0, or the
        sign fill for >> of a signed value — in LLVM such a shift is poison, so it is selected away."""
        bits = int(_scalar_of(a.ty)[1:])
        op = "shl" if left else ("ashr" if signed else "lshr")
        c = b.const if b.const is not None else _splat_int(b.ref)
        if c is not None and 0 <= c < bits:
            return self.binop(op, a, b)
        in_range = self.icmp("ult", b, self.const_like(bits, b.ty))
        if op == "ashr":     # an over-long arithmetic shift right is a shift by bits - 1
            return self.binop(op, a, self.select(in_range, b, self.const_like(bits - 1, b.ty)))
        return self.select(in_range, self.binop(op, a, b), self.const_like(0, a.ty))

    def _minmax(self, e) -> Val:
        a, b = self.value(e.a), self.value(e.b)
        is_max = type(e) is E.Max
        if dt.is_float(e.dtype):
            # llvm.maximum/minimum propagate a NaN from either side, as numpy's maximum/minimum and
            # max/min reductions do (a compare-and-select would drop a NaN in `a`), and vectorize
            # as reductions
            return self.call(self.mod.intrinsic("maximum" if is_max else "minimum", a.ty, [a.ty, a.ty],
                                                _suffix(a.ty)), a.ty, [a, b])
        signed = dt.is_signed(e.dtype)
        return self.select(self.icmp(("s" if signed else "u") + ("gt" if is_max else "lt"), a, b), a, b)

    def _cmp(self, e) -> Val:
        t = type(e)
        if self.is_index(e.a) and self.is_index(e.b):
            a, b = self.index(e.a), self.index(e.b)
            if a.const is not None and b.const is not None:
                return Val("true" if _PYCMP[t](a.const, b.const) else "false", "i1")
            return self.icmp(_ICMP[t][0], a, b)
        a, b = self.value(e.a), self.value(e.b)
        if dt.is_float(e.a.dtype):
            return self.op(f"fcmp {_FCMP[t]} {a}, {b.ref}", llvm_type(e.dtype))
        pred = _ICMP[t][0 if dt.is_signed(e.a.dtype) else 1]
        return self.icmp(pred, a, b)

    def _logic(self, e) -> Val:
        return self.binop("and" if type(e) is E.And else "or", self.value(e.a), self.value(e.b))

    def _not(self, e) -> Val:
        a = self.value(e.a)
        return self.binop("xor", a, self.const_like(1, a.ty))

    def _select(self, e) -> Val:
        if not (_has_load(e.t) or _has_load(e.f)):
            return self.select(self.value(e.cond), self.value(e.t), self.value(e.f))
        cond = e.cond
        if dt.lanes(cond.dtype) > 1 and type(cond) is E.Broadcast:
            cond = cond.value
        if dt.lanes(cond.dtype) == 1:
            # branch so that only the chosen side is evaluated (its loads may be out of bounds)
            c = self.value(cond)
            lt, lf, lm = self.new_label("sel_t"), self.new_label("sel_f"), self.new_label("sel_end")
            self.cbr(c, lt, lf)
            saved, self._deep = self._deep, {}     # a side's values do not dominate the other's
            self.new_block(lt)
            vt = self.value(e.t)
            end_t = self.cur_label
            self.br(lm)
            self._deep = {}
            self.new_block(lf)
            vf = self.value(e.f)
            self._deep = saved
            end_f = self.cur_label
            self.br(lm)
            self.new_block(lm)
            return self.op(f"phi {vt.ty} [ {vt.ref}, %{end_t} ], [ {vf.ref}, %{end_f} ]", vt.ty)
        # vector condition: evaluate both sides with their loads masked by the lanes that use them
        c = self.value(cond)
        outer = self.mask
        notc = self.binop("xor", c, self.const_like(1, c.ty))
        saved, self._deep = self._deep, {}         # values under one mask are not the other's
        self.mask = c if outer is None else self.binop("and", outer, c)
        vt = self.value(e.t)
        self._deep = {}
        self.mask = notc if outer is None else self.binop("and", outer, notc)
        vf = self.value(e.f)
        self.mask = outer
        self._deep = saved
        return self.select(c, vt, vf)

    def _cast(self, e) -> Val:
        src, dst = dt.base(e.value.dtype), dt.base(e.dtype)
        v = self.value(e.value)
        if src == dst:
            return v
        n = dt.lanes(e.dtype)
        ty = llvm_type(e.dtype)
        if dst == "bool":
            if dt.is_float(src):
                return self.op(f"fcmp une {v}, {self.const_like(0, v.ty).ref}", ty)
            return self.icmp("ne", v, self.const_like(0, v.ty))
        if dt.is_float(dst):
            if dt.is_float(src):
                return self.op(f"{'fpext' if dt.bits(dst) > dt.bits(src) else 'fptrunc'} {v} to {ty}", ty)
            conv = "sitofp" if dt.is_signed(src) else "uitofp"
            return self.op(f"{conv} {v} to {ty}", ty)
        if dt.is_float(src):
            # numpy's astype: truncate toward zero through (at least) int32, then wrap to the width
            wide = vec("i64" if dt.bits(dst) == 64 else "i32", n)
            # out of range (and NaN) is poison in LLVM: freeze it to the value the hardware's
            # conversion gives (what numpy returns) instead of letting it poison what follows
            r = self.op(f"fptosi {v} to {wide}", wide)
            r = self.op(f"freeze {r}", wide)
            return r if wide == ty else self.op(f"trunc {r} to {ty}", ty)
        sb, db = dt.bits(src), dt.bits(dst)
        if sb == db:
            return Val(v.ref, ty)
        if db < sb:
            return self.op(f"trunc {v} to {ty}", ty)
        ext = "sext" if dt.is_signed(src) else "zext"
        return self.op(f"{ext} {v} to {ty}", ty)

    def _call(self, e) -> Val:
        if len(e.args) != 1:
            raise CodegenError(f"{e.name} takes one argument, got {len(e.args)}")
        x = self.value(e.args[0])
        if not dt.is_float(e.args[0].dtype):
            if e.name == "abs":
                if not dt.is_signed(e.args[0].dtype):
                    return x
                fn = self.mod.intrinsic("abs", x.ty, [x.ty, "i1"], _suffix(x.ty))
                return self.call(fn, x.ty, [x, Val("false", "i1")])
            raise CodegenError(f"{e.name} of an integer ({e}); cast to a float first")
        if e.name in VECTOR_MATH and dt.base(e.dtype) == "float32":
            return self.call(math_function(self.mod, e.name, x.ty), x.ty, [x])
        if e.name == "sigmoid":
            neg = self.op(f"fneg {x}", x.ty)
            ex = self._math("exp", neg)
            one = self.const_like(1.0, x.ty)
            den = self.binop("fadd", one, ex, FP)
            return self.binop("fdiv", one, den, FP)
        name = {"exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh", "abs": "fabs"}.get(e.name)
        if name is None:
            raise CodegenError(f"unknown intrinsic call {e.name!r}")
        return self._math(name, x)

    def _math(self, name: str, x: Val) -> Val:
        fn = self.mod.intrinsic(name, x.ty, [x.ty], _suffix(x.ty))
        return self.call(fn, x.ty, [x])

    def _ramp_value(self, e) -> Val:
        # a Ramp of a non-index integer type (e.g. int8): splat + constant steps in that type
        base = self.splat(self.value(e.base), e.lanes)
        steps = Val(vector_literal([i * e.stride for i in range(e.lanes)], dt.base(e.dtype)), base.ty)
        return self.binop("add", base, steps)

    def _broadcast(self, e) -> Val:
        if type(e.value) is E.Const:
            return Val(literal(e.value.value, e.dtype), llvm_type(e.dtype))
        return self.splat(self.value(e.value), e.lanes)

    # -- memory ---------------------------------------------------------------------------------
    def buffer_ptr(self, buf) -> Val:
        p = self.bufs.get(buf)
        if p is None:
            raise CodegenError(f"buffer {buf.name!r} is neither a parameter nor allocated in scope")
        return p

    def _address(self, buf, indices):
        """-> (kind, x): ('scalar', ptr) | ('contig', ptr) | ('bcast', ptr) | ('gather', <n x ptr>)."""
        if len(indices) != 1:
            raise CodegenError(f"access to {buf.name} has {len(indices)} indices; expected one flat "
                               "index (run storage flattening first)")
        idx = indices[0]
        base = self.buffer_ptr(buf)
        st = storage_type(dt.base(buf.dtype))
        lanes = dt.lanes(idx.dtype)
        if lanes == 1:
            return "scalar", self.gep(st, base, self.index(idx))
        dec = _decompose(idx)
        if dec is not None and dec[1] in (0, 1):
            kind = "bcast" if dec[1] == 0 else "contig"
            return kind, self.gep(st, base, self.index(dec[0]))
        iv = self.index(idx)
        ty = vec("ptr", lanes)
        return "gather", self.op(f"getelementptr inbounds {st}, ptr {base.ref}, {iv}", ty)

    def gep(self, st: str, base: Val, i: Val) -> Val:
        if i.const == 0:
            return base
        return self.op(f"getelementptr inbounds {st}, ptr {base.ref}, {i}", "ptr")

    def _load(self, e) -> Val:
        buf = e.buffer
        b = dt.base(buf.dtype)
        st, al = storage_type(b), elem_size(b)
        kind, p = self._address(buf, e.indices)
        lanes = dt.lanes(e.dtype)
        vt = vec(st, lanes)
        mask = self.mask if lanes > 1 else None
        if kind == "scalar" or kind == "bcast":
            if self.mask is not None:
                v = self._guarded_scalar_load(st, p, al)
            else:
                v = self.op(f"load {st}, ptr {p.ref}, align {al}", st)
            v = self.splat(v, lanes) if kind == "bcast" else v
        elif kind == "contig":
            if mask is not None:
                fn = self.mod.intrinsic("masked.load", vt, ["ptr", "i32", mask.ty, vt], f"{_suffix(vt)}.p0")
                v = self.call(fn, vt, [Val(p.ref, "ptr"), Val(str(al), "i32"), mask, Val("zeroinitializer", vt)])
            else:
                v = self.op(f"load {vt}, ptr {p.ref}, align {al}", vt)
        else:
            m = mask if mask is not None else Val(literal(True, dt.with_lanes("bool", lanes)), vec("i1", lanes))
            fn = self.mod.intrinsic("masked.gather", vt, [p.ty, "i32", m.ty, vt], f"{_suffix(vt)}.{_suffix(p.ty)}")
            v = self.call(fn, vt, [p, Val(str(al), "i32"), m, Val("zeroinitializer", vt)])
        if b == "bool":
            v = self.icmp("ne", v, self.const_like(0, v.ty))
        return v

    def _guarded_scalar_load(self, st: str, p: Val, al: int) -> Val:
        """A scalar load under a vector mask: done only if some lane is active."""
        fn = self.mod.intrinsic("vector.reduce.or", "i1", [self.mask.ty], _suffix(self.mask.ty))
        anyv = self.call(fn, "i1", [self.mask])
        ll, lm = self.new_label("ld"), self.new_label("ld_end")
        pre = self.cur_label
        self.cbr(anyv, ll, lm)
        self.new_block(ll)
        v = self.op(f"load {st}, ptr {p.ref}, align {al}", st)
        self.br(lm)
        self.new_block(lm)
        zero = self.const_like(0, st)
        return self.op(f"phi {st} [ {v.ref}, %{ll} ], [ {zero.ref}, %{pre} ]", st)


_DEEP = 120          # expression nesting beyond which `value` works from an explicit stack
_BIN = ("a", "b")
_CHAIN = {**{c: _BIN for c in (E.Add, E.Sub, E.Mul, E.Div, E.FloorDiv, E.FloorMod, E.Min, E.Max,
                               E.And, E.Or, E.LT, E.LE, E.GT, E.GE, E.EQ, E.NE, E.ShiftLeft,
                               E.ShiftRight)},
          E.Cast: ("value",), E.Not: ("a",)}
_FOP = {E.Add: "fadd", E.Sub: "fsub", E.Mul: "fmul", E.Div: "fdiv"}
_IOP = {E.Add: "add", E.Sub: "sub", E.Mul: "mul"}
_ICMP = {E.LT: ("slt", "ult"), E.LE: ("sle", "ule"), E.GT: ("sgt", "ugt"), E.GE: ("sge", "uge"),
         E.EQ: ("eq", "eq"), E.NE: ("ne", "ne")}
_FCMP = {E.LT: "olt", E.LE: "ole", E.GT: "ogt", E.GE: "oge", E.EQ: "oeq", E.NE: "une"}
_PYCMP = {E.LT: lambda a, b: a < b, E.LE: lambda a, b: a <= b, E.GT: lambda a, b: a > b,
          E.GE: lambda a, b: a >= b, E.EQ: lambda a, b: a == b, E.NE: lambda a, b: a != b}
_VALUE = {E.Add: ExprEmitter._arith, E.Sub: ExprEmitter._arith, E.Mul: ExprEmitter._arith,
          E.Div: ExprEmitter._arith, E.FloorDiv: ExprEmitter._arith,
          E.FloorMod: ExprEmitter._arith, E.ShiftLeft: ExprEmitter._arith,
          E.ShiftRight: ExprEmitter._arith, E.Min: ExprEmitter._minmax,
          E.Max: ExprEmitter._minmax, E.And: ExprEmitter._logic, E.Or: ExprEmitter._logic,
          E.Not: ExprEmitter._not, E.Select: ExprEmitter._select, E.Cast: ExprEmitter._cast,
          E.Call: ExprEmitter._call, E.BufferLoad: ExprEmitter._load,
          E.Ramp: ExprEmitter._ramp_value, E.Broadcast: ExprEmitter._broadcast}
_VALUE.update({c: ExprEmitter._cmp for c in _ICMP})


def _has_load(e) -> bool:
    found = []

    def visit(n):
        if type(n) is E.BufferLoad:
            found.append(n)
    from ..ir.visitor import walk
    walk(e, visit)
    return bool(found)


def _decompose(e):
    """A vector index as (scalar base expression, constant stride), or None if it is not affine
    in the lane number."""
    t = type(e)
    if t is E.Ramp:
        return e.base, e.stride
    if t is E.Broadcast:
        return e.value, 0
    if t is E.Add or t is E.Sub:
        x, y = _decompose(e.a), _decompose(e.b)
        if x is None or y is None:
            return None
        return t(x[0], y[0]), (x[1] + y[1] if t is E.Add else x[1] - y[1])
    if t is E.Mul:
        for v, c in ((e.a, e.b), (e.b, e.a)):
            if type(c) is E.Broadcast and type(c.value) is E.Const:
                x = _decompose(v)
                if x is not None:
                    return E.Mul(x[0], c.value), x[1] * int(c.value.value)
    return None
