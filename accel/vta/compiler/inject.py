"""Lowered loop IR -> VTA IR: recognise the nests VTA executes and replace each with one statement.

A nest is a *region*: a perfect loop nest around one store.  Which loops a region covers:
- a copy into inp/wgt/acc SRAM or out of acc SRAM into an argument (DMA): the loops from the
  stage's ``dma_copy`` pragma axis inward (without a pragma, the largest nest holding only it);
- a GEMM update, an accumulator reset (the reduction's init) or an ALU op: the largest loop nest
  holding only stores of that kind into that buffer (TVM lifts the uop scope the same way).
Every other loop stays a host loop; virtual-thread loops keep their ``thread_binding``.

Like TVM's InjectDMAIntrin / tensorize / InjectALUIntrin, this pass checks what VTA can do and
raises CompileError naming the stage and the reason otherwise.
"""
from __future__ import annotations

from workbench.ir import expr as E
from workbench.ir import stmt as S
from workbench.ir.printer import expr_str
from workbench.ir.simplify import linear, simplify_expr

from .. import isa
from ..errors import CompileError
from .nodes import Affine, DmaCopy, UopKernel

PASS = "inject"


class _Ctx:
    def __init__(self, sch, func, env):
        self.env = env
        self.sch = sch
        self.params = {b.name: b for b in func.params}
        self.stage_of_var: dict = {}     # leaf Var -> Stage
        self.dma_vars: dict = {}         # Stage -> set of leaf Vars from its dma_copy axis inward
        self.stages = {st.name: st for st in sch.stages}
        for st in sch.stages:
            leaves = list(st.leaf_iter_vars)
            for k, iv in enumerate(leaves):
                self.stage_of_var[iv.var] = st
                if st not in self.dma_vars and any(key == "dma_copy"
                                                   for key, _ in st.pragmas.get(iv, ())):
                    self.dma_vars[st] = {x.var for x in leaves[k:]}
        self.scopes = {env.inp_scope: "inp", env.wgt_scope: "wgt", env.acc_scope: "acc"}
        self.aliases: dict = {}          # ALU destination Buffer -> the Buffer it updates in place

    def kind(self, buf) -> str:
        """'inp' | 'wgt' | 'acc' for VTA SRAM, 'param' for a function argument, else 'other'."""
        if buf.name in self.params and self.params[buf.name] is buf:
            return "param"
        return self.scopes.get(buf.scope, "other")

    def elem_shape(self, kind) -> tuple:
        e = self.env
        return {"inp": (e.BATCH, e.BLOCK_IN), "wgt": (e.BLOCK_OUT, e.BLOCK_IN),
                "acc": (e.BATCH, e.BLOCK_OUT)}[kind]


def inject(func, sch, env) -> S.Stmt:
    """Rewrite ``func.body`` (core IR after simplify, multi-dimensional indices) to VTA IR."""
    ctx = _Ctx(sch, func, env)
    return _rewrite(func.body, ctx)


# ------------------------------------------------------------------------------------------------
# walking: host statements are kept, regions are replaced
def _rewrite(s, ctx):
    t = type(s)
    if t is S.SeqStmt:
        return S.seq(*[_rewrite(x, ctx) for x in s.stmts])
    if t is S.Allocate:
        kind = ctx.kind(s.buffer)
        if kind == "other":
            raise CompileError(PASS, s.buffer.name, f"the buffer is in scope {s.buffer.scope!r}; VTA "
                               "computes only in its SRAMs (env.inp_scope, env.wgt_scope, "
                               "env.acc_scope): set_scope the stage, or compute_inline it")
        return S.Allocate(s.buffer, _rewrite(s.body, ctx))
    if t is S.IfThenElse:
        return S.IfThenElse(s.cond, _rewrite(s.then_case, ctx),
                            None if s.else_case is None else _rewrite(s.else_case, ctx))
    if t is S.Evaluate:
        return s
    if t is S.BufferStore:
        return _region(s, (), ctx)
    if t is S.For:
        st = ctx.stage_of_var.get(s.var)
        dma = ctx.dma_vars.get(st)
        if dma is not None and s.var in dma:
            return _region_from(s, ctx)
        # a stage with a dma_copy pragma copies from that axis inward; its outer loops are host
        # loops issuing one copy each
        if dma is None and not any(k == "thread_binding" for k, _ in s.annotations):
            role = _pure_role(s, ctx)
            if role is not None:
                return _region_from(s, ctx)
        return S.For(s.var, s.min, s.extent, s.kind, _rewrite(s.body, ctx), s.annotations)
    raise CompileError(PASS, None, f"unexpected statement {type(s).__name__} in the lowered IR")


def _pure_role(s, ctx):
    """(role, dst buffer) if every store under ``s`` has that role and destination, else None."""
    t = type(s)
    if t is S.BufferStore:
        return (_role(s, ctx), s.buffer)
    if t is S.For and not any(k == "thread_binding" for k, _ in s.annotations):
        return _pure_role(s.body, ctx)
    return None


def _region_from(loop, ctx):
    loops, s = [], loop
    while type(s) is S.For:
        if any(k == "thread_binding" for k, _ in s.annotations):
            raise CompileError(PASS, _stage_name(s, ctx), f"virtual-thread loop {s.var.name} is "
                               "inside a DMA/compute nest; bind an axis outside it")
        if not (isinstance(s.min, E.Const) and isinstance(s.extent, E.Const)):
            raise CompileError(PASS, _stage_name(s, ctx), f"loop {s.var.name} has a non-constant "
                               "range")
        loops.append((s.var, s.extent.value))
        s = s.body
    if type(s) is not S.BufferStore:
        raise CompileError(PASS, _stage_name(loop, ctx), f"the nest at loop {loop.var.name} holds "
                           f"more than one statement ({type(s).__name__}); a DMA/compute nest must "
                           "be a perfect loop nest around one store (check where stages are "
                           "computed: compute_at an axis outside the pragma/tensorize axis)")
    return _region(s, tuple(loops), ctx)


def _stage_name(s, ctx):
    st = ctx.stage_of_var.get(getattr(s, "var", None))
    return st.name if st is not None else None


# ------------------------------------------------------------------------------------------------
# what a store does
def _strip_cast(e):
    return e.value if type(e) is E.Cast else e


def _role(store, ctx) -> str:
    dst = ctx.kind(store.buffer)
    v = store.value
    if dst in ("inp", "wgt"):
        return "load"
    if dst == "param":
        return "store"
    if dst == "acc":
        if type(v) is E.Const:
            return "reset"
        if _gemm_operands(store) is not None:
            return "gemm"
        src = _strip_cast(v)
        if type(src) is E.BufferLoad and ctx.kind(src.buffer) == "param":
            return "load"
        return "alu"
    return "other"


def _gemm_operands(store):
    """(inp load, wgt load) if store is ``acc[i] = acc[i] + cast(x) * cast(w)``."""
    v = store.value
    if type(v) is not E.Add:
        return None
    for acc, prod in ((v.a, v.b), (v.b, v.a)):
        if type(acc) is E.BufferLoad and acc.buffer is store.buffer and type(prod) is E.Mul \
                and _same_indices(acc.indices, store.indices):
            x, w = _strip_cast(prod.a), _strip_cast(prod.b)
            if type(x) is E.BufferLoad and type(w) is E.BufferLoad:
                return x, w
    return None


def _same_indices(a, b) -> bool:
    return len(a) == len(b) and all(E.structural_equal(x, y) for x, y in zip(a, b))


def _region(store, loops, ctx):
    role = _role(store, ctx)
    if role == "load":
        return _dma(store, loops, ctx, "load")
    if role == "store":
        return _dma(store, loops, ctx, "store")
    if role == "gemm":
        return _gemm(store, loops, ctx)
    if role == "reset":
        return _reset(store, loops, ctx)
    if role == "alu":
        return _alu(store, loops, ctx)
    raise CompileError(PASS, store.buffer.name, f"the stage is in scope {store.buffer.scope!r}; VTA "
                       "computes only in env.inp_scope / env.wgt_scope / env.acc_scope")


# ------------------------------------------------------------------------------------------------
# indices
def _affine(e, stage, what):
    lin = linear(simplify_expr(e))
    if lin is None or any(type(a) is not E.Var for a in lin[0]):
        raise CompileError(PASS, stage, f"{what} index {expr_str(e)} is not affine in the loop "
                           "variables; VTA addresses memory with strided (affine) patterns")
    terms, const = lin
    return Affine(int(const), tuple((v, int(c)) for v, c in terms.items()))


def _split_lanes(buf, indices, kind, loops, stage, ctx, what):
    """Element index (Affine over the leading dimensions) and the lane loop variables.

    The last two dimensions of a VTA buffer are one SRAM element; their indices must be the
    innermost loops of the nest (or 0 for a dimension of size 1)."""
    shape = tuple(buf.shape)
    want = ctx.elem_shape(kind)
    if len(shape) < 3 or shape[-2:] != want:
        raise CompileError(PASS, stage, f"{what} {buf.name} has shape {list(shape)}; VTA "
                           f"{kind} tensors are packed with a trailing {want[0]}x{want[1]} "
                           f"element (e.g. NCHW{want[0]}n{want[1]}c)")
    extents = dict(loops)
    lanes = []
    for pos, size in zip((-2, -1), want):
        idx = simplify_expr(indices[pos])
        if isinstance(idx, E.Const) and idx.value == 0 and size == 1:
            lanes.append(None)
            continue
        if type(idx) is E.Var and idx not in extents:
            raise CompileError(PASS, stage, f"{what} {buf.name}: loop {idx.name} over the "
                               f"{size}-wide element dimension is outside the nest (loops "
                               f"{', '.join(v.name for v, _ in loops) or 'none'}); the element "
                               "loops must be innermost: reorder them inside")
        if type(idx) is not E.Var or extents.get(idx) != size:
            raise CompileError(PASS, stage, f"{what} {buf.name}: index {expr_str(idx)} of the "
                               f"{size}-wide element dimension must be a loop of extent {size} "
                               "inside the nest (the element is copied/computed whole)")
        lanes.append(idx)
    flat, stride = E.const(0), 1
    for idx, n in zip(reversed(indices[:-2]), reversed(shape[:-2])):
        flat = flat + idx * stride
        stride *= n
    elem = _affine(flat, stage, what)
    for v in lanes:
        if v is not None and elem.coef(v):
            raise CompileError(PASS, stage, f"{what} {buf.name}: lane loop {v.name} also moves "
                               "between elements")
    return elem, [v for v in lanes if v is not None]


def _outer_loops(loops, lane_vars, stage, what):
    """The loops outside the lane loops, which must be the innermost ones."""
    n = len(lane_vars)
    inner = [v for v, _ in loops[len(loops) - n:]] if n else []
    if set(inner) != set(lane_vars):
        order = ", ".join(v.name for v, _ in loops)
        raise CompileError(PASS, stage, f"{what}: the element loops "
                           f"{', '.join(v.name for v in lane_vars)} must be innermost (loop order "
                           f"{order}); reorder them inside")
    return tuple(loops[:len(loops) - n])


# ------------------------------------------------------------------------------------------------
# regions
def _dma(store, loops, ctx, direction):
    env = ctx.env
    if direction == "load":
        sram, value, stage = store.buffer, store.value, store.buffer.name
        kind = ctx.kind(sram)
        cond = None
        if type(value) is E.Select:
            if not (type(value.f) is E.Const and value.f.value == 0):
                raise CompileError(PASS, stage, f"a padded copy must read zero outside the "
                                   f"tensor, not {expr_str(value.f)}")
            cond, value = value.cond, value.t
        src = _strip_cast(value)
        if type(src) is not E.BufferLoad or ctx.kind(src.buffer) != "param":
            raise CompileError(PASS, stage, f"a {kind} buffer is filled by DMA from an argument "
                               f"tensor; this stage computes {expr_str(store.value)}")
        if kind == "wgt" and cond is not None:
            raise CompileError(PASS, stage, "VTA's load module pads inp and acc copies only; "
                               "weights cannot be padded by the DMA")
        dram, dram_idx, sram_idx = src.buffer, src.indices, store.indices
        if kind == "acc":
            mem = isa.MEM_ACC if dram.dtype == env.acc_dtype else isa.MEM_ACC_8BIT
            if dram.dtype not in (env.acc_dtype, env.inp_dtype):
                raise CompileError(PASS, stage, f"an accumulator load reads {env.acc_dtype} or "
                                   f"{env.inp_dtype}, not {dram.dtype}")
        else:
            mem = isa.MEM_INP if kind == "inp" else isa.MEM_WGT
            want = env.inp_dtype if kind == "inp" else env.wgt_dtype
            if dram.dtype != want or sram.dtype != want:
                raise CompileError(PASS, stage, f"{kind} copies move {want} data; {dram.name} is "
                                   f"{dram.dtype} and {sram.name} is {sram.dtype}")
    else:
        dram, stage = store.buffer, store.buffer.name
        src = _strip_cast(store.value)
        if type(src) is not E.BufferLoad or ctx.kind(src.buffer) != "acc":
            raise CompileError(PASS, stage, "an output is stored by DMA from the accumulator "
                               f"(res = res_acc(*i).astype('{env.out_dtype}')); this stage "
                               f"computes {expr_str(store.value)} (set_scope its producers to "
                               "env.acc_scope with an alu pragma)")
        if dram.dtype != env.out_dtype:
            raise CompileError(PASS, stage, f"VTA stores {env.out_dtype} results (out_mem keeps "
                               f"the low {env.OUT_WIDTH} bits); the output is {dram.dtype}")
        sram, sram_idx, dram_idx, mem, cond, kind = src.buffer, src.indices, store.indices, \
            isa.MEM_OUT, None, "acc"
    sram_elem, sram_lanes = _split_lanes(sram, sram_idx, kind, loops, stage, ctx, "SRAM buffer")
    dram_elem, dram_lanes = _split_lanes(dram, dram_idx, kind, loops, stage, ctx, "tensor")
    if sram_lanes != dram_lanes:
        raise CompileError(PASS, stage, f"{sram.name} and {dram.name} index the element "
                           "dimensions differently; a DMA copies whole elements")
    outer = _outer_loops(loops, sram_lanes, stage, f"DMA {sram.name} <-> {dram.name}")
    return DmaCopy(direction, stage, mem, sram, dram, outer, sram_elem, dram_elem, cond)


def _gemm(store, loops, ctx):
    env, stage = ctx.env, store.buffer.name
    x, w = _gemm_operands(store)
    if ctx.kind(x.buffer) == "wgt" and ctx.kind(w.buffer) == "inp":
        x, w = w, x
    if ctx.kind(x.buffer) != "inp" or ctx.kind(w.buffer) != "wgt":
        raise CompileError(PASS, stage, f"tensorize(env.gemm): the product must read an "
                           f"env.inp_scope and an env.wgt_scope buffer, not {x.buffer.name} "
                           f"({x.buffer.scope}) and {w.buffer.name} ({w.buffer.scope})")
    e_acc = dict(loops)
    acc_elem, acc_lanes = _split_lanes(store.buffer, store.indices, "acc", loops, stage, ctx,
                                       "accumulator")
    inp_elem, inp_lanes = _split_lanes(x.buffer, x.indices, "inp", loops, stage, ctx, "input")
    wgt_elem, wgt_lanes = _split_lanes(w.buffer, w.indices, "wgt", loops, stage, ctx, "weight")
    b = _lane(store.indices[-2], env.BATCH)
    o = _lane(store.indices[-1], env.BLOCK_OUT)
    i = _lane(x.indices[-1], env.BLOCK_IN)
    checks = ((_lane(x.indices[-2], env.BATCH), b, "input batch"),
              (_lane(w.indices[-2], env.BLOCK_OUT), o, "weight output-channel"),
              (_lane(w.indices[-1], env.BLOCK_IN), i, "weight input-channel"))
    for got, want, what in checks:
        if got is not want:
            raise CompileError(PASS, stage, f"tensorize(env.gemm): the {what} lane is indexed by "
                               f"{getattr(got, 'name', got)}, expected "
                               f"{getattr(want, 'name', want)}; the nest is not "
                               f"(acc[b, o] += inp[b, i] * wgt[o, i])")
    lanes = [v for v in (b, o, i) if v is not None]
    if i is None or e_acc.get(i) != env.BLOCK_IN:
        raise CompileError(PASS, stage, "tensorize(env.gemm): no reduction loop of extent "
                           f"{env.BLOCK_IN} over the element's input channels")
    _check_tensorize_axis(ctx, stage, loops, lanes)
    outer = _outer_loops(loops, lanes, stage, "tensorize(env.gemm)")
    for v in lanes:
        for elem, what in ((acc_elem, "accumulator"), (inp_elem, "input"), (wgt_elem, "weight")):
            if elem.coef(v):
                raise CompileError(PASS, stage, f"tensorize(env.gemm): lane loop {v.name} moves "
                                   f"the {what} element")
    return UopKernel("gemm", stage, store.buffer, outer, acc_elem, x.buffer, inp_elem, w.buffer,
                     wgt_elem)


def _lane(idx, size):
    idx = simplify_expr(idx)
    if type(idx) is E.Var:
        return idx
    if isinstance(idx, E.Const) and idx.value == 0 and size == 1:
        return None
    return idx


def _check_tensorize_axis(ctx, stage, loops, lanes):
    """If the schedule tensorized an axis, it must be the outermost loop the intrinsic covers."""
    st = ctx.stages.get(stage)
    marked = getattr(st, "tensorized", None) or {}
    for iv in marked:
        present = [v for v, _ in loops]
        inner = present[present.index(iv.var):] if iv.var in present else None
        if inner is not None and set(inner) != set(lanes):
            raise CompileError(PASS, stage, f"tensorize(axis={iv.name}, env.gemm): the loops "
                               f"under it are {', '.join(v.name for v in inner)}, the intrinsic "
                               f"covers {', '.join(v.name for v in lanes)} (BATCH x BLOCK_OUT x "
                               "BLOCK_IN); tensorize the outermost of those")


def _reset(store, loops, ctx):
    stage = store.buffer.name
    if store.value.value != 0:
        raise CompileError(PASS, stage, f"VTA can only zero the accumulator (GEMM reset), not set "
                           f"it to {store.value.value}")
    elem, lanes = _split_lanes(store.buffer, store.indices, "acc", loops, stage, ctx,
                               "accumulator")
    return UopKernel("reset", stage, store.buffer, _outer_loops(loops, lanes, stage, "reset"),
                     elem)


_COMMUTATIVE = {E.Add: isa.ALU_ADD, E.Min: isa.ALU_MIN, E.Max: isa.ALU_MAX, E.Mul: isa.ALU_MUL}


def _alu(store, loops, ctx):
    env, stage = ctx.env, store.buffer.name
    v = store.value
    if type(v) is E.Cast and v.dtype == env.acc_dtype:
        v = v.value
    t = type(v)
    acc_loads = lambda e: type(e) is E.BufferLoad and ctx.kind(e.buffer) == "acc"  # noqa: E731
    if acc_loads(v):           # a copy: VTA's idiom is SHR by 0 in place
        first, second, op = v, E.const(0), isa.ALU_SHR
    elif t in _COMMUTATIVE:
        a, b = (v.a, v.b) if acc_loads(v.a) else (v.b, v.a)
        first, second, op = a, b, _COMMUTATIVE[t]
    elif t in (E.Sub, E.ShiftRight, E.ShiftLeft):
        first, second = v.a, v.b
        op = isa.ALU_ADD if t is E.Sub else isa.ALU_SHR
    else:
        raise CompileError(PASS, stage, f"ALU op {expr_str(v)} is not one VTA has (it has MIN, "
                           "MAX, ADD, SHR (>> and << as a negative shift), MUL; clip is MIN then "
                           "MAX, a copy is >> 0)")
    if not acc_loads(first):
        raise CompileError(PASS, stage, f"ALU op {expr_str(v)}: its first operand must be an "
                           "env.acc_scope buffer (VTA's ALU updates an accumulator in place)")
    if op == isa.ALU_MUL and env.HW_VER < "0.0.2":
        raise CompileError(PASS, stage, f"ALU MUL needs HW_VER 0.0.2, the Env is {env.HW_VER}")
    second = simplify_expr(_strip_cast(second) if type(second) is E.Cast
                           and type(second.value) is E.Const else second)
    use_imm, imm, src = 0, 0, None
    if type(second) is E.Const:
        use_imm, imm = 1, int(second.value)
        if t is E.Sub:
            imm = -imm
        elif t is E.ShiftLeft:
            imm = -imm
        if not -(1 << 15) <= imm < (1 << 15):
            raise CompileError(PASS, stage, f"ALU immediate {imm} does not fit VTA's 16-bit "
                               "signed imm field")
    elif acc_loads(second):
        if t in (E.Sub, E.ShiftRight, E.ShiftLeft):
            what = {E.Sub: "subtract", E.ShiftRight: "shift by", E.ShiftLeft: "shift by"}[t]
            raise CompileError(PASS, stage, f"ALU op {expr_str(v)}: VTA cannot {what} a tensor "
                               "operand (SUB does not exist; shifts take an immediate)")
        src = second
    else:
        raise CompileError(PASS, stage, f"ALU op {expr_str(v)}: the second operand must be a "
                           "constant or an env.acc_scope buffer")
    if first.buffer is not store.buffer:
        if tuple(first.buffer.shape) != tuple(store.buffer.shape) \
                or not _same_indices(first.indices, store.indices):
            raise CompileError(PASS, stage, f"VTA's ALU updates {first.buffer.name} in place, so "
                               f"{stage} must cover the same region (compute both at the same "
                               "axis)")
        producer = ctx.stages.get(first.buffer.name)
        readers = ctx.sch.readers(producer) if producer is not None else []
        if len(readers) > 1:
            raise CompileError(PASS, stage, f"VTA's ALU updates {first.buffer.name} in place, but "
                               f"{', '.join(r.name for r in readers)} all read it")
        ctx.aliases[store.buffer] = first.buffer
    elem, lanes = _split_lanes(store.buffer, store.indices, "acc", loops, stage, ctx,
                               "accumulator")
    src_buf = src_elem = None
    if src is not None:
        src_elem, src_lanes = _split_lanes(src.buffer, src.indices, "acc", loops, stage, ctx,
                                           "ALU operand")
        if src_lanes != lanes:
            raise CompileError(PASS, stage, "the ALU operands index the element lanes "
                               "differently")
        src_buf = src.buffer
    outer = _outer_loops(loops, lanes, stage, "ALU")
    return UopKernel("alu", stage, store.buffer, outer, elem, src_buf, src_elem,
                     alu_opcode=op, use_imm=use_imm, imm=imm)
