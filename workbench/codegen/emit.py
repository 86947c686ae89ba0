"""Lowered `PrimFunc` -> textual LLVM IR.

The IR is written as text (not through llvmlite.ir objects): it is several times faster to produce,
and it gives direct control over what the optimizer needs to see — fast-math `contract` flags,
`nsw` index arithmetic in i64, `noalias` parameters, loop metadata and the target attributes.

Integer semantics: every dtype wraps around at its own width, as numpy and TVM compute it (int32
arithmetic is done in i32 without `nsw`: a wrap is defined behaviour, not poison). Only an integer
expression of loop variables and constants whose value range (from the loop bounds) provably fits
its dtype is computed in i64 with `nsw` — then both give the same numbers — which is what address
arithmetic and loop bounds need (`FunctionEmitter.index`; `value` computes in the expression's own
dtype).

Conventions
- Loop counters are i64.
- Entry function: `i32 @<name>(ptr noalias %a0, ..., i32 %nthreads)` returning 0, or the status
  k >= 1 of the failed run-time check (`AssertStmt`) whose message is `messages[k - 1]`; parallel
  loops are outlined by `parallel.py` and report a failure through their closure.
- Select evaluates only the chosen side when a side loads (branch + phi for scalar conditions,
  masked loads for vector conditions).
- Unrolling and nested parallel loops are the lowering passes' work: a loop still marked "unrolled"
  gets `llvm.loop.unroll.full` (unless longer than the unroll pass's limit), a parallel loop inside
  a parallel loop is an error (the `nested_parallel` pass serializes them).
"""
from __future__ import annotations

from math import prod

from ..ir import dtype as dt
from ..ir import expr as E
from ..ir import stmt as S
from ..lower.unroll import MAX_UNROLL
from .builder import (CodegenError, FunctionBuilder, ModuleEmitter, Val, _lanes_of, _scalar_of, _splat_int, _suffix,
                      i64)
from .vecmath import VECTOR_MATH, math_function
from .llvm_types import elem_size, literal, llvm_type, scalar_literal, storage_type, vec, vector_literal

STACK_LIMIT = 64 * 1024      # Allocate up to this many bytes on the stack (entry-block alloca)
FP = "contract"              # fast-math flags on float arithmetic: fuse to FMA, never reassociate
FP_REDUCE = "reassoc contract"   # ... except the update of a reduction (see _reduction_update)
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


class FunctionEmitter(FunctionBuilder):
    """Emits one LLVM function: a basic-block builder plus the IR expression/statement visitors."""

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
            if e is self.reduction:
                # llvm.maximum propagates NaN like numpy's max and vectorizes as a reduction
                return self.call(self.mod.intrinsic("maximum" if is_max else "minimum", a.ty, [a.ty, a.ty],
                                                    _suffix(a.ty)), a.ty, [a, b])
            c = self.op(f"fcmp {'ogt' if is_max else 'olt'} {a}, {b.ref}", vec("i1", _lanes_of(a.ty)))
            return self.select(c, a, b)
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
            self.new_block(lt)
            vt = self.value(e.t)
            end_t = self.cur_label
            self.br(lm)
            self.new_block(lf)
            vf = self.value(e.f)
            end_f = self.cur_label
            self.br(lm)
            self.new_block(lm)
            return self.op(f"phi {vt.ty} [ {vt.ref}, %{end_t} ], [ {vf.ref}, %{end_f} ]", vt.ty)
        # vector condition: evaluate both sides with their loads masked by the lanes that use them
        c = self.value(cond)
        outer = self.mask
        notc = self.binop("xor", c, self.const_like(1, c.ty))
        self.mask = c if outer is None else self.binop("and", outer, c)
        vt = self.value(e.t)
        self.mask = notc if outer is None else self.binop("and", outer, notc)
        vf = self.value(e.f)
        self.mask = outer
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

    def store(self, s: S.BufferStore):
        buf = s.buffer
        b = dt.base(buf.dtype)
        st, al = storage_type(b), elem_size(b)
        if self._wide_copy(s):
            return
        self.reduction = _reduction_update(s)
        v = self.value(s.value)
        self.reduction = None
        kind, p = self._address(buf, s.indices)
        lanes = dt.lanes(s.indices[0].dtype) if s.indices else 1
        if _lanes_of(v.ty) != lanes:
            if _lanes_of(v.ty) == 1:
                v = self.splat(v, lanes)
            else:
                raise CodegenError(f"store to {buf.name}: {_lanes_of(v.ty)}-lane value, {lanes}-lane index")
        if b == "bool":
            v = self.op(f"zext {v} to {vec('i8', lanes)}", vec("i8", lanes))
        if kind == "scalar":
            self.emit(f"store {v}, ptr {p.ref}, align {al}")
        elif kind == "contig":
            self.emit(f"store {v}, ptr {p.ref}, align {al}")
        elif kind == "bcast":      # every lane writes one address: the last lane wins
            last = self.op(f"extractelement {v}, i64 {lanes - 1}", st)
            self.emit(f"store {last}, ptr {p.ref}, align {al}")
        else:
            m = Val(literal(True, dt.with_lanes("bool", lanes)), vec("i1", lanes))
            fn = self.mod.intrinsic("masked.scatter", "void", [v.ty, p.ty, "i32", m.ty],
                                    f"{_suffix(v.ty)}.{_suffix(p.ty)}")
            self.call(fn, "void", [v, p, Val(str(al), "i32"), m])

    def _wide_copy(self, s: S.BufferStore) -> bool:
        """A contiguous copy wider than a vector register (e.g. a 64-lane write-back of a cache) as
        register-wide loads and stores: what the machine does anyway, and LLVM's type legalization
        of 64-lane shuffles costs a third of a matmul's build time."""
        v = s.value
        if type(v) is not E.BufferLoad or self.mask is not None or len(s.indices) != 1:
            return False
        lanes = dt.lanes(s.indices[0].dtype)
        b = dt.base(s.buffer.dtype)
        chunk = self.mod.vector_bits // (8 * elem_size(b))
        if b == "bool" or dt.base(v.dtype) != b or lanes <= chunk or lanes % chunk:
            return False
        dst, src = _decompose(s.indices[0]), _decompose(v.indices[0])
        if dst is None or src is None or dst[1] != 1 or src[1] != 1:
            return False
        st, al = storage_type(b), elem_size(b)
        vt = vec(st, chunk)
        pd, ps = self.gep(st, self.buffer_ptr(s.buffer), self.index(dst[0])), \
            self.gep(st, self.buffer_ptr(v.buffer), self.index(src[0]))
        for c in range(0, lanes, chunk):
            x = self.op(f"load {vt}, ptr {self.gep(st, ps, i64(c)).ref}, align {al}", vt)
            self.emit(f"store {x}, ptr {self.gep(st, pd, i64(c)).ref}, align {al}")
        return True

    # -- statements -----------------------------------------------------------------------------
    def stmt(self, s):
        t = type(s)
        if t is S.SeqStmt:
            for x in s.stmts:
                self.stmt(x)
        elif t is S.BufferStore:
            self.store(s)
        elif t is S.For:
            self.loop(s)
        elif t is S.IfThenElse:
            self.if_then_else(s)
        elif t is S.Allocate:
            self.allocate(s)
        elif t is S.AssertStmt:
            self.assert_stmt(s)
        elif t is S.Evaluate:
            pass
        else:
            raise CodegenError(f"the LLVM code generator does not support the statement {t.__name__}")

    def if_then_else(self, s: S.IfThenElse):
        if dt.lanes(s.cond.dtype) != 1:
            raise CodegenError(f"IfThenElse needs a scalar condition, got {s.cond.dtype}")
        c = self.value(s.cond)
        if c.ref in ("true", "false"):
            branch = s.then_case if c.ref == "true" else s.else_case
            if branch is not None:
                self.stmt(branch)
            return
        lt, lm = self.new_label("then"), self.new_label("endif")
        lf = self.new_label("else") if s.else_case is not None else lm
        self.cbr(c, lt, lf)
        self.new_block(lt)
        self.stmt(s.then_case)
        self.br(lm)
        if s.else_case is not None:
            self.new_block(lf)
            self.stmt(s.else_case)
            self.br(lm)
        self.new_block(lm)

    def assert_stmt(self, s: S.AssertStmt):
        """A failed check returns its status right away (heap buffers freed); the body runs after."""
        if dt.lanes(s.cond.dtype) != 1:
            raise CodegenError(f"AssertStmt needs a scalar condition, got {s.cond.dtype}")
        c = self.value(s.cond)
        if c.ref != "true":
            status = self.mod.check_status(s.message)
            lok, lfail = self.new_label("check_ok"), self.new_label("check_fail")
            self.cbr(c, lok, lfail)
            self.new_block(lfail)
            self.fail(Val(str(status), "i32"))
            self.new_block(lok)
        self.stmt(s.body)

    def loop(self, s: S.For):
        if s.kind == "parallel" and self.mod.parallel_runtime:
            if self.outlined:
                raise CodegenError(f"parallel loop {s.var.name!r} inside a parallel loop: lowering's "
                                   "nested_parallel pass should have made it serial")
            from .parallel import emit_parallel_for
            return emit_parallel_for(self, s)
        lo, ext = self.index(s.min), self.index(s.extent)
        self.serial_loop(s.var, lo, self.iadd(lo, ext), s.body, s.kind, self.loop_range(s))

    def loop_range(self, s: S.For):
        """(first, last) value of the loop variable, when the bounds are known."""
        lo, ext = self.value_range(s.min), self.value_range(s.extent)
        if lo is None or ext is None:
            return None
        return lo[0], lo[1] + max(ext[1], 1) - 1

    def serial_loop(self, var, lo: Val, hi: Val, body, kind: str = "serial", rng=None):
        """for var in [lo, hi): body — an i64 counter; the phi is patched once the latch is known."""
        lh, lb, lx = self.new_label("for"), self.new_label("body"), self.new_label("endfor")
        pre = self.cur_label
        self.br(lh)
        self.new_block(lh)
        i = self.tmp()
        header = self.cur
        header.append(None)           # the phi, filled in below
        c = self.icmp("slt", Val(i, "i64"), hi)
        self.cbr(c, lb, lx)
        self.new_block(lb)
        saved = self.env.get(var)
        self.env[var] = Val(i, "i64")
        if rng is not None:
            self.ranges[var] = rng
        self.stmt(body)
        nxt = self.binop("add", Val(i, "i64"), i64(1), "nuw nsw")
        latch = self.cur_label
        if kind == "unrolled" and lo.const is not None and hi.const is not None \
                and hi.const - lo.const > MAX_UNROLL:
            kind = "serial"           # longer than the unroll pass allows: no full-unroll request
        self.br(lh, self.mod.loop_metadata(kind))
        header[0] = f"{i} = phi i64 [ {lo.ref}, %{pre} ], [ {nxt.ref}, %{latch} ]"
        self.ranges.pop(var, None)
        if saved is None:
            self.env.pop(var, None)
        else:
            self.env[var] = saved
        self.new_block(lx)

    def allocate(self, s: S.Allocate):
        buf = s.buffer
        size = prod(int(getattr(x, "value", x)) for x in buf.shape)
        st = storage_type(dt.base(buf.dtype))
        nbytes = max(1, size * elem_size(buf.dtype))
        saved = self.bufs.get(buf)
        heap = nbytes > STACK_LIMIT
        if heap:
            alloc = self.mod.declare("@aligned_alloc", "declare noalias ptr @aligned_alloc(i64, i64)")
            p = self.call(alloc, "ptr", [i64(64), i64((nbytes + 63) // 64 * 64)])
            self.heap.append(p)
        else:
            p = self.alloca(f"[{max(1, size)} x {st}]", 64)
        self.bufs[buf] = p
        self.stmt(s.body)
        if heap:
            self.heap.pop()
            free = self.mod.declare("@free", "declare void @free(ptr)")
            self.call(free, "void", [p])
        if saved is None:
            self.bufs.pop(buf, None)
        else:
            self.bufs[buf] = saved


_FOP = {E.Add: "fadd", E.Sub: "fsub", E.Mul: "fmul", E.Div: "fdiv"}
_IOP = {E.Add: "add", E.Sub: "sub", E.Mul: "mul"}
_ICMP = {E.LT: ("slt", "ult"), E.LE: ("sle", "ule"), E.GT: ("sgt", "ugt"), E.GE: ("sge", "uge"),
         E.EQ: ("eq", "eq"), E.NE: ("ne", "ne")}
_FCMP = {E.LT: "olt", E.LE: "ole", E.GT: "ogt", E.GE: "oge", E.EQ: "oeq", E.NE: "une"}
_PYCMP = {E.LT: lambda a, b: a < b, E.LE: lambda a, b: a <= b, E.GT: lambda a, b: a > b,
          E.GE: lambda a, b: a >= b, E.EQ: lambda a, b: a == b, E.NE: lambda a, b: a != b}
_VALUE = {E.Add: FunctionEmitter._arith, E.Sub: FunctionEmitter._arith, E.Mul: FunctionEmitter._arith,
          E.Div: FunctionEmitter._arith, E.FloorDiv: FunctionEmitter._arith,
          E.FloorMod: FunctionEmitter._arith, E.ShiftLeft: FunctionEmitter._arith,
          E.ShiftRight: FunctionEmitter._arith, E.Min: FunctionEmitter._minmax,
          E.Max: FunctionEmitter._minmax, E.And: FunctionEmitter._logic, E.Or: FunctionEmitter._logic,
          E.Not: FunctionEmitter._not, E.Select: FunctionEmitter._select, E.Cast: FunctionEmitter._cast,
          E.Call: FunctionEmitter._call, E.BufferLoad: FunctionEmitter._load,
          E.Ramp: FunctionEmitter._ramp_value, E.Broadcast: FunctionEmitter._broadcast}
_VALUE.update({c: FunctionEmitter._cmp for c in _ICMP})


def _reduction_update(s: S.BufferStore):
    """The float `acc op x` of a reduction update `acc[idx] = acc[idx] op x` (op: + * max min), else
    None. Its `+`/`*` may be reassociated: the loop vectorizer then keeps several partial results,
    as numpy's pairwise summation does; nothing else is reordered."""
    v = s.value
    if type(v) not in (E.Add, E.Mul, E.Max, E.Min) or not dt.is_float(v.dtype):
        return None
    a = v.a
    if type(a) is not E.BufferLoad or a.buffer is not s.buffer or len(a.indices) != len(s.indices):
        return None
    if all(E.structural_equal(x, y) for x, y in zip(a.indices, s.indices)):
        return v
    return None


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


# ------------------------------------------------------------------------------------------------
def emit_module(func: S.PrimFunc, *, target_attrs: str, triple: str = "", datalayout: str = "",
                parallel_runtime: bool = True, vector_bits: int = 512) -> tuple[str, str, list]:
    """-> (LLVM IR text, name of the entry function, messages of its run-time checks)."""
    mod = ModuleEmitter(func.name, target_attrs=target_attrs, triple=triple, datalayout=datalayout,
                        parallel_runtime=parallel_runtime)
    mod.vector_bits = vector_bits
    params = [("ptr noalias", f"%a{i}") for i in range(len(func.params))] + [("i32", "%nthreads")]
    fe = FunctionEmitter(mod, mod.name, params, nthreads=Val("%nthreads", "i32"))
    for i, b in enumerate(func.params):
        fe.bufs[b] = Val(f"%a{i}", "ptr")
    fe.stmt(func.body)
    fe.finish()
    return mod.text(), mod.name, mod.messages
