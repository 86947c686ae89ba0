"""Lowered `PrimFunc` -> textual LLVM IR: the statements (stores, loops, conditions, run-time checks,
allocations) and the module; expressions are `expr_emit.py`'s.

The IR is written as text (not through llvmlite.ir objects): it is several times faster to produce,
and it gives direct control over what the optimizer needs to see — fast-math `contract` flags,
`nsw` index arithmetic in i64, `noalias` parameters, loop metadata and the target attributes.

Integer semantics: every dtype wraps around at its own width, as numpy and TVM compute it (int32
arithmetic is done in i32 without `nsw`: a wrap is defined behaviour, not poison). Only an integer
expression of loop variables and constants whose value range (from the loop bounds) provably fits
its dtype is computed in i64 with `nsw` — then both give the same numbers — which is what address
arithmetic and loop bounds need (`expr_emit.ExprEmitter.index`; `value` computes in the expression's own
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
from .builder import CodegenError, ModuleEmitter, Val, _lanes_of, _suffix, i64
from .expr_emit import ExprEmitter, _decompose
from .llvm_types import elem_size, literal, storage_type, vec

STACK_LIMIT = 64 * 1024      # Allocate up to this many bytes on the stack (entry-block alloca)


class FunctionEmitter(ExprEmitter):
    """Emits one LLVM function: the statement visitors over ExprEmitter's expressions."""

    def store(self, s: S.BufferStore):
        buf = s.buffer
        b = dt.base(buf.dtype)
        st, al = storage_type(b), elem_size(b)
        if self._wide_copy(s):
            return
        self._deep.clear()
        self.reduction = _reduction_update(s)
        v = self.value(s.value)
        self.reduction = None
        self._deep.clear()
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
        self.loops += 1
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


# ------------------------------------------------------------------------------------------------
def emit_module(func: S.PrimFunc, *, target_attrs: str, triple: str = "", datalayout: str = "",
                parallel_runtime: bool = True, vector_bits: int = 512) -> tuple[str, str, list]:
    """-> (LLVM IR text, name of the entry function, messages of its run-time checks)."""
    mod = emit_functions(func, target_attrs=target_attrs, triple=triple, datalayout=datalayout,
                         parallel_runtime=parallel_runtime, vector_bits=vector_bits)
    return mod.text(), mod.name, mod.messages


def emit_functions(func: S.PrimFunc, *, target_attrs: str, triple: str = "", datalayout: str = "",
                   parallel_runtime: bool = True, vector_bits: int = 512) -> ModuleEmitter:
    """The ModuleEmitter holding `func`'s functions (`.text()`, `.unit_texts(n)`, `.messages`)."""
    mod = ModuleEmitter(func.name, target_attrs=target_attrs, triple=triple, datalayout=datalayout,
                        parallel_runtime=parallel_runtime)
    mod.vector_bits = vector_bits
    params = [("ptr noalias", f"%a{i}") for i in range(len(func.params))] + [("i32", "%nthreads")]
    fe = FunctionEmitter(mod, mod.name, params, nthreads=Val("%nthreads", "i32"), group=mod.name)
    for i, b in enumerate(func.params):
        fe.bufs[b] = Val(f"%a{i}", "ptr")
    fe.stmt(func.body)
    fe.finish(glue=fe.loops == 0)        # every loop is in a parallel region: main is glue
    return mod
