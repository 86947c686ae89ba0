"""VTA IR -> runtime calls: the host side of a VTA program.

TVM compiles the host part of a VTA schedule to CPU code that calls the runtime (VTALoadBuffer2D,
VTAPushGEMMOp, VTADepPush, ...).  Here the host part is interpreted: host loops run with concrete
values, virtual-thread loops interleave their threads statement by statement (TVM's
InjectVirtualThread), SRAM buffers get static addresses (one copy per virtual thread), and every
DMA / micro-kernel becomes an ``Op`` with the SRAM ranges it reads and writes.  ``sync.place``
then decides the dependency tokens and ``emit`` replays the ops into a ``Runtime``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from workbench.ir import expr as E
from workbench.ir import stmt as S

from .. import isa
from ..errors import CompileError, VTAError
from .nodes import DmaCopy, UopKernel

MAX_PAD = (1 << 4) - 1


@dataclass
class Op:
    """One runtime call: its queue (1 load, 2 compute, 3 store), SRAM accesses, and the call."""
    queue: int
    reads: tuple            # ((memory, lo, hi), ...) element ranges
    writes: tuple
    call: tuple             # (method name, args) on the Runtime
    node: object = None     # the VTA IR statement this op executes
    pushes: list = field(default_factory=list)
    pops: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# SRAM allocation
@dataclass(frozen=True)
class Placement:
    scope: str
    base: int           # element index of copy 0
    elems: int          # elements of one copy
    threads: tuple      # extents of the virtual-thread loops the buffer is replicated over
    buffers: int = 1    # 2: double-buffered, alternating by allocation (loop iteration) count

    def at(self, slot: tuple, generation: int = 0) -> int:
        k = 0
        for t, n in zip(slot, self.threads):
            k = k * n + t
        k = k * self.buffers + generation % self.buffers
        return self.base + k * self.elems


def allocate(body, env, aliases, elem_of, double_buffer: bool = False) -> dict:
    """Static SRAM addresses: nested Allocates stack up, a buffer allocated inside virtual-thread
    loops gets one copy per thread, an ALU destination shares its operand's place.  With
    ``double_buffer``, an inp/wgt buffer allocated inside a host loop gets two copies used by
    alternate iterations (TVM's double_buffer), so the next iteration's loads need not wait for
    this iteration's GEMM."""
    depth = {env.inp_scope: env.INP_BUFF_DEPTH, env.wgt_scope: env.WGT_BUFF_DEPTH,
             env.acc_scope: env.ACC_BUFF_DEPTH}
    cur = dict.fromkeys(depth, 0)
    peak = dict.fromkeys(depth, 0)
    live: dict = {sc: [] for sc in depth}
    worst: dict = {}
    out: dict = {}

    def root(buf):
        while buf in aliases:
            buf = aliases[buf]
        return buf

    def walk(s, threads, in_loop=False):
        t = type(s)
        if t is S.SeqStmt:
            for x in s.stmts:
                walk(x, threads, in_loop)
        elif t is S.For:
            bound = any(k == "thread_binding" for k, _ in s.annotations)
            inner = threads + (s.extent.value,) if bound else threads
            walk(s.body, inner, in_loop or (not bound and s.extent.value > 1))
        elif t is S.IfThenElse:
            walk(s.then_case, threads, in_loop)
            if s.else_case is not None:
                walk(s.else_case, threads, in_loop)
        elif t is S.Allocate:
            buf, sc = s.buffer, s.buffer.scope
            r = root(buf)
            if r in out:                       # in place: shares its operand's SRAM
                out[buf] = out[r]
                walk(s.body, threads, in_loop)
                return
            n = elem_of(buf)
            nbuf = 2 if double_buffer and in_loop else 1
            copies = (int(np.prod(threads, dtype=np.int64)) if threads else 1) * nbuf
            p = Placement(sc, cur[sc], n, threads, nbuf)
            out[buf] = out[r] = p
            cur[sc] += n * copies
            live[sc].append((buf.name, n, copies))
            if cur[sc] > peak[sc]:
                peak[sc] = cur[sc]
                worst[sc] = list(live[sc])
            walk(s.body, threads, in_loop)
            cur[sc] -= n * copies
            live[sc].pop()

    walk(body, ())
    for sc, need in peak.items():
        if need > depth[sc]:
            eb = {env.inp_scope: env.INP_ELEM_BYTES, env.wgt_scope: env.WGT_ELEM_BYTES,
                  env.acc_scope: env.ACC_ELEM_BYTES}[sc]
            parts = ", ".join(f"{name} {n * eb} B" + (f" x{c} (virtual threads / double "
                                                      "buffering)" if c > 1 else "")
                              for name, n, c in worst[sc])
            raise CompileError("allocate", worst[sc][-1][0], f"SRAM over capacity: scope {sc} "
                               f"needs {need * eb} bytes ({parts}) but has "
                               f"{depth[sc] * eb} bytes; use smaller tiles (split more, "
                               "compute_at an inner axis) or fewer virtual threads")
    return out


# ------------------------------------------------------------------------------------------------
# numpy evaluation of padding conditions over a copy's element grid
def _eval(e, env):
    t = type(e)
    if t is E.Var:
        return env[e]
    if t is E.Const:
        return e.value
    if t is E.Cast:
        return _eval(e.value, env)
    ops = {E.Add: np.add, E.Sub: np.subtract, E.Mul: np.multiply, E.FloorDiv: np.floor_divide,
           E.FloorMod: np.mod, E.Min: np.minimum, E.Max: np.maximum, E.LT: np.less,
           E.LE: np.less_equal, E.GT: np.greater, E.GE: np.greater_equal, E.EQ: np.equal,
           E.NE: np.not_equal, E.And: np.logical_and, E.Or: np.logical_or}
    if t in ops:
        return ops[t](_eval(e.a, env), _eval(e.b, env))
    if t is E.Not:
        return np.logical_not(_eval(e.a, env))
    if t is E.Select:
        return np.where(_eval(e.cond, env), _eval(e.t, env), _eval(e.f, env))
    raise CompileError("dma", None, f"cannot evaluate the padding condition part {e}")


def _dense(loops, elem, what, stage):
    """The SRAM side of a DMA is filled densely in loop order (row-major over the loops)."""
    stride = 1
    for v, n in reversed(loops):
        if n > 1 and elem.coef(v) != stride:
            raise CompileError("dma", stage, f"{what}: loop {v.name} steps {elem.coef(v)} "
                               f"elements in SRAM, the DMA fills SRAM densely (expected {stride}); "
                               "the SRAM buffer must be laid out in the copy's loop order")
        stride *= n


def _pattern_2d(loops, elem, stage, padded):
    """Group the copy's element loops into (rows, columns) of a 2-D strided DRAM access.

    Returns ((row_loops, col_loops), x_size, y_size, x_stride).  Loops merge when consecutive
    in DRAM; padding keeps rows and columns as single loops (pads are per dimension)."""
    loops = [(v, n) for v, n in loops if n > 1]
    if padded:
        if len(loops) > 2:
            raise CompileError("dma", stage, f"a padded copy over {len(loops)} loops "
                               f"({', '.join(v.name for v, _ in loops)}) is not 2-D: put the "
                               "dma_copy pragma on an inner axis")
        cols = loops[-1:] if loops and elem.coef(loops[-1][0]) == 1 else []
        rows = loops[:len(loops) - len(cols)]
        if len(rows) > 1:
            raise CompileError("dma", stage, "a padded copy needs its columns contiguous in DRAM")
    else:
        cols, k, stride = [], len(loops), 1
        while k and elem.coef(loops[k - 1][0]) == stride:
            stride *= loops[k - 1][1]
            cols.insert(0, loops[k - 1])
            k -= 1
        rows = loops[:k]
        for j in range(len(rows) - 1):
            v, _ = rows[j]
            w, m = rows[j + 1]
            if elem.coef(v) != elem.coef(w) * m:
                raise CompileError("dma", stage, f"the copy over loops "
                                   f"{', '.join(x.name for x, _ in loops)} is not a 2-D strided "
                                   f"pattern (loop {v.name} steps {elem.coef(v)} elements, "
                                   f"{w.name} {elem.coef(w)} x {m}): VTA's DMA is 2-D; put the "
                                   "dma_copy pragma on an inner axis so outer loops issue "
                                   "several copies")
    x_size = int(np.prod([n for _, n in cols], dtype=np.int64)) if cols else 1
    y_size = int(np.prod([n for _, n in rows], dtype=np.int64)) if rows else 1
    x_stride = elem.coef(rows[-1][0]) if rows else x_size
    return (rows, cols), x_size, y_size, x_stride


class _DmaPlan:
    def __init__(self, node: DmaCopy):
        self.node = node
        self.inner = {v for v, _ in node.loops}
        _dense(node.loops, node.sram_elem, f"{node.sram.name}", node.stage)
        (self.rows, self.cols), self.x, self.y, self.stride = _pattern_2d(
            node.loops, node.dram_elem, node.stage, node.cond is not None)
        self.count = int(np.prod([n for _, n in node.loops], dtype=np.int64))

    def pads(self, env):
        """(y0, y1, x0, x1): the rows/columns of the grid that read DRAM."""
        node = self.node
        grid = dict(env)
        rv = self.rows[0] if self.rows else None
        cv = self.cols[0] if self.cols else None
        shape = (self.y, self.x)
        for k, (v, n) in enumerate(node.loops):
            grid[v] = 0
        if rv is not None:
            grid[rv[0]] = np.arange(self.y).reshape(-1, 1)
        if cv is not None:
            grid[cv[0]] = np.arange(self.x).reshape(1, -1)
        mask = np.broadcast_to(np.asarray(_eval(node.cond, grid), bool), shape)
        rows, cols = mask.any(axis=1), mask.any(axis=0)
        if not rows.any():
            raise CompileError("dma", node.stage, "a copy lies entirely in the padding; VTA's "
                               "DMA cannot write a tile of zeros without reading DRAM")
        y0, y1 = int(np.argmax(rows)), self.y - int(np.argmax(rows[::-1]))
        x0, x1 = int(np.argmax(cols)), self.x - int(np.argmax(cols[::-1]))
        box = np.zeros(shape, bool)
        box[y0:y1, x0:x1] = True
        if not (mask == box).all():
            raise CompileError("dma", node.stage, "the padding is not a border around a "
                               "rectangle; VTA pads rows and columns only")
        return y0, y1, x0, x1


# ------------------------------------------------------------------------------------------------
class HostProgram:
    """Interprets the VTA IR into a list of Ops."""

    def __init__(self, body, env, params, aliases, ctx_elem_of, double_buffer=False):
        self.env = env
        self.params = params
        self.places = allocate(body, env, aliases, ctx_elem_of, double_buffer)
        self.generation: dict = {}   # Buffer -> how many times its Allocate was entered
        self.body = body
        self.ops: list = []
        self._dma: dict = {}
        self._mem = {env.inp_scope: "inp", env.wgt_scope: "wgt", env.acc_scope: "acc"}

    def run(self) -> list:
        self._walk(self.body, [({}, ())])
        return self.ops

    def _walk(self, s, threads):
        t = type(s)
        if t is S.SeqStmt:
            # Virtual threads interleave by runs of consecutive intrinsics on one queue: thread 0's
            # loads, thread 1's loads, then thread 0's GEMM, thread 1's GEMM.  A load queue ordered
            # [inp t0, inp t1, wgt t0, wgt t1] would hold thread 0's next weights behind thread
            # 1's next inputs, which wait for thread 1's GEMM: the threads would not overlap.
            for run in _runs(s.stmts) if len(threads) > 1 else [[x] for x in s.stmts]:
                if len(run) == 1:
                    self._walk(run[0], threads)
                    continue
                for th in threads:
                    for x in run:
                        self._walk(x, [th])
        elif t is S.For:
            n = s.extent.value
            if any(k == "thread_binding" for k, _ in s.annotations):
                self._walk(s.body, [({**e, s.var: k}, slot + (k,)) for e, slot in threads
                                    for k in range(n)])
                return
            for k in range(n):
                self._walk(s.body, [({**e, s.var: k}, slot) for e, slot in threads])
        elif t is S.Allocate:
            self.generation[s.buffer] = self.generation.get(s.buffer, -1) + 1
            self._walk(s.body, threads)
        elif t is S.IfThenElse:
            yes = [(e, sl) for e, sl in threads if bool(_eval(s.cond, e))]
            no = [(e, sl) for e, sl in threads if not bool(_eval(s.cond, e))]
            if yes:
                self._walk(s.then_case, yes)
            if no and s.else_case is not None:
                self._walk(s.else_case, no)
        elif t is S.Evaluate:
            return
        elif t is DmaCopy:
            for e, slot in threads:   # virtual threads interleave statement by statement
                self._dma_op(s, e, slot)
        elif t is UopKernel:
            for e, slot in threads:
                self._uop_op(s, e, slot)
        else:
            raise CompileError("codegen", None, f"unexpected statement {t.__name__}")

    def _sram(self, buf, slot):
        p = self.places[buf]
        return p.at(slot[:len(p.threads)], self.generation.get(buf, 0))

    def _dma_op(self, node: DmaCopy, env, slot):
        plan = self._dma.get(node)
        if plan is None:
            plan = self._dma[node] = _DmaPlan(node)
        sram = self._sram(node.sram, slot) + node.sram_elem.base(env, plan.inner)
        dram = node.dram_elem.base(env, plan.inner)
        mem = self._mem[node.sram.scope]
        rng = ((mem, sram, sram + plan.count),)
        buf = node.dram.name
        if node.direction == "store":
            self.ops.append(Op(3, rng, (), ("store_buffer_2d", (sram, isa.MEM_OUT, buf, dram,
                                                                 plan.x, plan.y, plan.stride)),
                               node))
            return
        y0, y1, x0, x1 = (0, plan.y, 0, plan.x) if node.cond is None else plan.pads(env)
        pads = (x0, y0, plan.x - x1, plan.y - y1)
        if max(pads) > MAX_PAD:
            raise CompileError("dma", node.stage, f"padding {pads} (x before, y before, x after, "
                               f"y after) exceeds VTA's 4-bit pad fields (max {MAX_PAD})")
        cstride = node.dram_elem.coef(plan.cols[0][0]) if plan.cols else 1
        offset = dram + y0 * (plan.stride if plan.rows else 0) + x0 * cstride
        args = (buf, offset, x1 - x0, y1 - y0, plan.stride, *pads, sram, node.memory_type)
        self.ops.append(Op(node.queue, (), rng, ("load_buffer_2d", args), node))

    def _uop_op(self, node: UopKernel, env, slot):
        inner = {v for v, _ in node.loops}
        dst = self._sram(node.dst, slot) + node.dst_elem.base(env, inner)
        src = wgt = 0
        if node.src is not None:
            src = self._sram(node.src, slot) + node.src_elem.base(env, inner)
        if node.wgt is not None:
            wgt = self._sram(node.wgt, slot) + node.wgt_elem.base(env, inner)
        spans = _spans(node)
        acc = ("acc", dst + spans[0][0], dst + spans[0][1])
        if node.kind == "gemm":
            reads = (("inp", src + spans[1][0], src + spans[1][1]),
                     ("wgt", wgt + spans[2][0], wgt + spans[2][1]), acc)
        elif node.kind == "alu" and node.src is not None:
            reads = (("acc", src + spans[1][0], src + spans[1][1]), acc)
        else:
            reads = (acc,) if node.kind == "alu" else ()
        method = "push_alu_op" if node.kind == "alu" else "push_gemm_op"
        self.ops.append(Op(2, reads, (acc,), (method, (node, (dst, src, wgt))), node))


def _runs(stmts) -> list:
    """Consecutive DMA/micro-kernel statements of the same queue grouped together."""
    runs, queue = [], None
    for x in stmts:
        q = x.queue if type(x) in (DmaCopy, UopKernel) else None
        if q is not None and q == queue:
            runs[-1].append(x)
        else:
            runs.append([x])
        queue = q
    return runs


def _spans(node: UopKernel):
    """Per operand (lo, hi) element offsets the kernel touches relative to its base."""
    out = []
    for elem in (node.dst_elem, node.src_elem, node.wgt_elem):
        if elem is None:
            out.append((0, 0))
            continue
        lo = hi = 0
        for v, n in node.loops:
            c = elem.coef(v) * (n - 1)
            lo, hi = lo + min(0, c), hi + max(0, c)
        out.append((lo, hi + 1))
    return out


def kernel_finit(node: UopKernel, bases):
    """The micro-kernel's recording closure (VTAUopLoopBegin / VTAUopPush / VTAUopLoopEnd)."""
    dst0, src0, wgt0 = bases
    folded, unrolled = node.loops[:2], node.loops[2:]

    def coefs(elem, v):
        return elem.coef(v) if elem is not None else 0

    def finit(k):
        for v, n in folded:
            k.uop_loop_begin(n, coefs(node.dst_elem, v), coefs(node.src_elem, v),
                             coefs(node.wgt_elem, v))
        for vals in itertools.product(*[range(n) for _, n in unrolled]):
            d, s, w = dst0, src0, wgt0
            for (v, _), x in zip(unrolled, vals):
                d += coefs(node.dst_elem, v) * x
                s += coefs(node.src_elem, v) * x
                w += coefs(node.wgt_elem, v) * x
            if node.kind == "gemm":
                k.uop_push(0, 0, d, s, w)
            elif node.kind == "reset":
                k.uop_push(0, 1, d, 0, 0)
            else:
                k.uop_push(1, 0, d, s if node.src is not None else d, 0, node.alu_opcode,
                           node.use_imm, node.imm)
        for _ in folded:
            k.uop_loop_end()
    return finit


def emit(ops, rt, dram) -> list:
    """Replay ops (with their token pops/pushes) into ``rt``; returns the call log."""
    log = []
    handles: dict = {}   # call site -> a readable, unique micro-kernel handle
    for op in ops:
        for frm in op.pops:
            rt.dep_pop(frm, op.queue)
            log.append(f"VTADepPop({frm}, {op.queue})")
        name, args = op.call
        if name in ("push_gemm_op", "push_alu_op"):
            node, bases = args
            try:
                handle = handles.setdefault(node, f"{node.stage}.{node.kind}#{len(handles)}")
                getattr(rt, name)(handle, kernel_finit(node, bases), bases)
            except VTAError as exc:
                raise CompileError("codegen", node.stage, f"micro-kernel: {exc}") from None
            log.append(f"{'VTAPushGEMMOp' if name == 'push_gemm_op' else 'VTAPushALUOp'}"
                       f"({node.stage}, {node.kind}, bases={bases})")
        elif name == "load_buffer_2d":
            buf, *rest = args
            rt.load_buffer_2d(dram[buf], *rest)
            log.append(f"VTALoadBuffer2D({buf}, offset={rest[0]}, x={rest[1]}, y={rest[2]}, "
                       f"stride={rest[3]}, pad={tuple(rest[4:8])}, sram={rest[8]}, "
                       f"{isa.MEM_NAMES[rest[9]]})")
        else:
            sram, mem, buf, *rest = args
            rt.store_buffer_2d(sram, mem, dram[buf], *rest)
            log.append(f"VTAStoreBuffer2D(sram={sram}, {buf}, offset={rest[0]}, x={rest[1]}, "
                       f"y={rest[2]}, stride={rest[3]})")
        for to in op.pushes:
            rt.dep_push(op.queue, to)
            log.append(f"VTADepPush({op.queue}, {to})")
    return log


def annotate_tokens(body, ops):
    """The VTA IR with each intrinsic statement saying which tokens its executions pop/push."""
    from collections import Counter
    import dataclasses
    from .nodes import token_summary
    runs, pops, pushes = Counter(), {}, {}
    for op in ops:
        runs[op.node] += 1
        for frm in op.pops:
            pops.setdefault(op.node, Counter())[(frm, op.queue)] += 1
        for to in op.pushes:
            pushes.setdefault(op.node, Counter())[(op.queue, to)] += 1

    def rec(s):
        t = type(s)
        if t is S.SeqStmt:
            return S.SeqStmt(tuple(rec(x) for x in s.stmts))
        if t is S.For:
            return S.For(s.var, s.min, s.extent, s.kind, rec(s.body), s.annotations)
        if t is S.Allocate:
            return S.Allocate(s.buffer, rec(s.body))
        if t is S.IfThenElse:
            return S.IfThenElse(s.cond, rec(s.then_case),
                                None if s.else_case is None else rec(s.else_case))
        if t in (DmaCopy, UopKernel) and runs[s]:
            return dataclasses.replace(s, tokens=token_summary(runs[s], pops.get(s, {}),
                                                               pushes.get(s, {})))
        return s
    return rec(body)
