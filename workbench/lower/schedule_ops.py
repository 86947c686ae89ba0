"""Schedule -> loop IR: one loop nest per stage, nested where compute_at put it, with buffers,
reduction init/update, split guards, and inlined stages substituted into their readers."""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.simplify import simplify_expr
from ..ir.visitor import free_vars, post_order, substitute
from ..schedule.errors import ScheduleError
from ..schedule.stage import MAX_LANES
from ..schedule.tensorize import match_intrin
from ..te.intrin import BufferView
from ..te.api import reduce_identity
from ..te.tensor import ComputeOp, Tensor
from .bound import StageBounds, infer_region, propagate, root_values

_COMBINE = {"sum": E.Add, "max": E.Max, "min": E.Min}


class _Lowering:
    def __init__(self, sch, args):
        self.sch = sch
        self.params: list = []
        self.buffers: dict = {}        # Stage -> Buffer
        self.bounds: dict = {}         # Stage -> StageBounds
        self.body: dict = {}           # Stage -> effective body (inlined stages substituted)
        self.init_loop_stage: dict = {}  # fresh loop Var of a reduction's init nest -> stage name
        self._bind_args(args)

    def stage_of(self, t: Tensor):
        return self.sch[t]

    # -- arguments -----------------------------------------------------------------------------
    def _bind_args(self, args):
        seen = set()
        for n, t in enumerate(args):
            if not isinstance(t, Tensor):
                raise TypeError(f"build/lower argument {n} must be a te.Tensor, got {type(t).__name__}")
            try:
                st = self.sch[t]
            except KeyError:
                raise ValueError(f"argument {n} ({t.name}) is not a tensor of this schedule") from None
            if st in seen:
                raise ValueError(f"tensor {t.name} is passed twice")
            seen.add(st)
            if not st.is_placeholder and st.attach != "root":
                raise ValueError(f"tensor {t.name} is an argument, so it must be computed at the root "
                                 f"(it is {st.attach}: call s[{t.name!r}].compute_root())")
            buf = S.Buffer(t.name, tuple(t.shape), t.dtype)
            self.buffers[st] = buf
            self.params.append(buf)
        for st in self.sch.stages:
            if st.is_output and st not in seen:
                raise ValueError(f"output {st.name} is missing from the arguments")

    # -- bodies with inlined stages substituted ------------------------------------------------
    def _effective_bodies(self):
        for st in self.sch.stages:
            if st.is_placeholder:
                continue
            body = st.op.body
            while True:
                inlined = []
                def fn(n):
                    if type(n) is E.TensorRead:
                        src = self.stage_of(n.tensor)
                        if src.attach == "inline":
                            inlined.append(1)
                            op = src.op
                            return substitute(self.body[src], {iv.var: i for iv, i in zip(op.axis, n.indices)})
                    return None
                body = post_order(body, fn)
                if not inlined:
                    break
            self.body[st] = body

    def _check_reads(self):
        for st in self.sch.stages:
            if st.is_placeholder and st not in self.buffers and self.sch.readers(st):
                raise ValueError(f"input {st.name} is read but missing from the arguments")
            if st.attach == "at":
                readers = [r for r in self.sch._effective_readers(st)]
                # an indirect consumer's loop: the one reader must be computed at the same loop
                via = len(readers) == 1 and readers[0].attach == "at" and \
                    readers[0].attach_stage is st.attach_stage and readers[0].attach_ivar is st.attach_ivar
                if readers != [st.attach_stage] and not via:
                    raise ScheduleError("compute_at", f"parent={st.attach_stage.name}", "after later "
                                        f"primitives, {st.name!r} is read by [{', '.join(r.name for r in readers)}]",
                                        st.name)

    # -- bounds ----------------------------------------------------------------------------------
    def _infer_bounds(self):
        for st in reversed(self.sch.stages):
            if st.is_placeholder or st.attach == "inline":
                continue
            sb = StageBounds()
            for iv in st.op.reduce_axis:
                sb.root_min[iv], sb.ext[iv] = E.const(iv.min), iv.extent
            if st.attach == "at":
                parent = st.attach_stage
                if parent not in self.sch._effective_readers(st):
                    # attached to an indirect consumer: the region its reader (computed at the same
                    # loop, so already bounded) reads over all of that reader's loops
                    parent = self.sch._effective_readers(st)[0]
                region, exceeds = infer_region(st, parent, self.body[parent], self.bounds[parent],
                                               self.stage_of)
                for iv, (lo, ext) in zip(st.op.axis, region):
                    sb.root_min[iv], sb.ext[iv] = lo, ext
                sb.domain_guard = exceeds
            else:
                for iv in st.op.axis:
                    sb.root_min[iv], sb.ext[iv] = E.const(iv.min), iv.extent
            self.bounds[st] = propagate(st, sb)
            if st not in self.buffers:
                shape = tuple(sb.ext[iv] for iv in st.op.axis)
                buf = S.Buffer(st.name, shape, st.op.output(0).dtype, st.scope)
                _check_capacity(st, buf)
                self.buffers[st] = buf

    # -- reads become buffer loads ---------------------------------------------------------------
    def _loads(self, e):
        def fn(n):
            if type(n) is E.TensorRead:
                src = self.stage_of(n.tensor)
                buf = self.buffers[src]
                if src.is_placeholder or src not in self.bounds:
                    return E.BufferLoad(buf, n.indices)
                sb = self.bounds[src]
                idx = tuple(simplify_expr(i - sb.root_min[iv]) for i, iv in zip(n.indices, src.op.axis))
                return E.BufferLoad(buf, idx)
            return None
        return post_order(e, fn)

    # -- loop nests ------------------------------------------------------------------------------
    def nest(self, st) -> S.Stmt:
        sb = self.bounds[st]
        buf = self.buffers[st]
        values = root_values(st, sb)
        # root variables -> leaf expressions first: a region min of a producer computed here is
        # written in leaf variables, and an unsplit axis's root and leaf share one Var
        body = self.body[st]
        if isinstance(body, E.Reduce):
            cond = None if body.condition is None else self._loads(substitute(body.condition, values))
            body = E.Reduce(body.combiner, self._loads(substitute(body.source, values)), body.axis, cond)
        else:
            body = self._loads(substitute(body, values))
        op: ComputeOp = st.op
        store_idx = tuple(sb.offset[iv] for iv in op.axis)
        conds = [c for _, c in sb.guards]
        if sb.domain_guard:
            for iv in op.axis:
                v = values[iv.var]
                conds += [v >= iv.min, v < iv.min + iv.extent]
        init = None
        if isinstance(body, E.Reduce):
            red = body
            src = red.source
            acc = E.BufferLoad(buf, store_idx)
            update = S.BufferStore(buf, _COMBINE[red.combiner](acc, src), store_idx)
            if red.condition is not None:
                update = S.IfThenElse(red.condition, update)
            main = update
            init = S.BufferStore(buf, reduce_identity(red.combiner, red.dtype), store_idx)
        else:
            main = S.BufferStore(buf, body, store_idx)
        main = _guard(main, conds)
        leaves = st.leaf_iter_vars
        first_red = next((p for p, iv in enumerate(leaves) if iv.kind == "reduce"), None)
        stmt, start, tz = main, len(leaves), None
        if st.tensorized:
            tz = self._tensorized(st, values, conds, init is not None)
            if tz[1] is None:
                tz = None           # backend-lowered intrinsic: the loops stay (see _loop)
            else:
                start, stmt = tz[0], tz[1]
        for p in range(start - 1, -1, -1):
            iv = leaves[p]
            stmt = self._with_attached(st, iv, stmt)
            stmt = self._loop(st, iv, stmt)
            if p == first_red and init is not None:
                if tz is None:
                    stmt = S.seq(self._init_nest(st, leaves[p + 1:], init), stmt)
                else:         # the intrinsic's reset initialises the output region it updates
                    stmt = S.seq(self._init_nest(st, leaves[p + 1:start], tz[2]), stmt)
        if init is not None and first_red is None:  # reduction over nothing scheduled: init first
            stmt = S.seq(init, stmt)
        return stmt

    def _tensorized(self, st, values, conds, is_reduction):
        """(position of the tensorized axis, what replaces its sub-nest, the reset statement or None)."""
        (axis, intrin), = st.tensorized.items()
        sb = self.bounds[st]
        if axis not in st.leaf_iter_vars:
            raise ScheduleError("tensorize", f"axis={axis.name}", "the axis is no longer a loop of the stage",
                                st.name)
        plan = match_intrin(st, axis, intrin, extent=lambda iv: sb.ext[iv])
        pos = st.leaf_iter_vars.index(axis)
        inner_vars = {iv.var for iv in plan.inner}
        # guards of a compute_at region are conservative; drop those the loop ranges prove true
        ranges = {iv.var: (0, b.ext[iv] - 1) for other, b in self.bounds.items()
                  for iv in other.leaf_iter_vars if iv in b.ext}
        conds = [c for c in (simplify_expr(c, ranges) for c in conds)
                 if not (type(c) is E.Const and c.value is True)]
        for c in conds:
            if free_vars(c) & inner_vars:
                raise ScheduleError("tensorize", f"axis={axis.name}", f"a split inside the sub-nest does not "
                                    f"divide its axis, leaving a tail (guard `{c}`) the intrinsic cannot "
                                    "cover; use factors that divide the extents", st.name)
        zero = {v: E.const(0) for v in inner_vars | set(plan.intrin_vars)}
        start = {plan.base[iv]: simplify_expr(substitute(values[iv.var], zero)) for iv in st.root_iter_vars}
        ins = []
        for t, (tc, idx) in zip(intrin.inputs, plan.reads):
            src = self.stage_of(tc)
            if src.attach == "inline":
                raise ScheduleError("tensorize", f"intrin={intrin.name}", f"input {src.name} is inlined; the "
                                    "intrinsic needs it in a buffer (compute_root it)", st.name)
            load = self._loads(E.TensorRead(tc, tuple(substitute(substitute(i, start), zero) for i in idx)))
            ins.append(BufferView(load.buffer, tuple(simplify_expr(i) for i in load.indices), t.shape, t))
        out_offsets = tuple(simplify_expr(substitute(sb.offset[iv], zero)) for iv in st.op.axis)
        outs = [BufferView(self.buffers[st], out_offsets, intrin.output.shape, intrin.output)]
        for v, t in zip(ins + outs, list(intrin.inputs) + [intrin.output]):
            need = intrin.scope_of(t)
            if need is not None and v.scope != need:
                raise ScheduleError("tensorize", f"intrin={intrin.name}", f"the intrinsic needs {t.name} in "
                                    f"scope {need!r} but buffer {v.name} is in {v.scope!r}", st.name)
        if intrin.lower_fn is None:     # a backend lowers it: keep the loops, mark the outermost
            return pos, None, None
        res = intrin.lower_fn(ins, outs)
        body, reset, update = res if isinstance(res, tuple) else (res, None, None)
        if isinstance(res, tuple) and len(res) != 3 or not all(x is None or isinstance(x, S.Stmt)
                                                                for x in (body, reset, update)):
            raise ScheduleError("tensorize", f"intrin={intrin.name}", f"lower_fn returned {res!r}; expected "
                                "a loop-IR statement or (body, reset, update)", st.name)
        if not is_reduction or plan.reduce_inside:
            if body is None:
                if reset is None or update is None:
                    raise ScheduleError("tensorize", f"intrin={intrin.name}", "lower_fn returned no body and "
                                        "not both reset and update", st.name)
                body = S.seq(reset, update)
            return pos, _guard(body, conds), None
        if reset is None or update is None:
            raise ScheduleError("tensorize", f"intrin={intrin.name}", f"reduction loops of {st.name!r} are "
                                f"outside the sub-nest under {axis.name}, so the intrinsic is called "
                                "repeatedly on one output region: lower_fn must return (body, reset, update)",
                                st.name)
        return pos, _guard(update, conds), reset

    def _loop(self, st, iv, body):
        sb = self.bounds[st]
        ann = st.pragmas.get(iv, ())
        kind = st.kinds.get(iv, "serial")
        if kind == "vectorized" and sb.ext[iv] > MAX_LANES:
            raise ScheduleError("vectorize", f"axis={iv.name}", f"extent {sb.ext[iv]} (after bound "
                                f"inference) is too long to vectorize (at most {MAX_LANES} lanes); split it "
                                f"first{_step_note(st, iv)}", st.name)
        if iv in st.tensorized and st.tensorized[iv].lower_fn is None:
            ann = ann + (("tensorize", st.tensorized[iv].name),)
        thread = st.bindings.get(iv)
        if thread is not None:
            if thread.extent is not None and thread.extent != sb.ext[iv]:
                raise ScheduleError("bind", f"thread={thread.name}", f"the thread axis has extent "
                                    f"{thread.extent} but loop {iv.name} has extent {sb.ext[iv]}"
                                    f"{_step_note(st, iv)}", st.name)
            # kept as a serial loop: a backend (the VTA compiler) interleaves it; CPU builds refuse it
            ann = ann + (("thread_binding", thread.thread_tag),)
        return S.For(iv.var, E.const(0), E.const(sb.ext[iv]), kind, body, tuple(sorted(ann)))

    def _init_nest(self, st, inner_leaves, init):
        sb = self.bounds[st]
        data = [iv for iv in inner_leaves if iv.kind == "data"]
        fresh = {iv.var: E.Var(iv.var.name, iv.var.dtype) for iv in data}
        self.init_loop_stage.update({v: st.name for v in fresh.values()})
        conds = [substitute(c, fresh) for kind, c in sb.guards if kind == "data"]
        stmt = _guard(substitute(init, fresh), conds)
        for iv in reversed(data):
            stmt = S.For(fresh[iv.var], E.const(0), E.const(sb.ext[iv]), st.kinds.get(iv, "serial"), stmt)
        return stmt

    def _with_attached(self, st, iv, stmt):
        attached = [p for p in self.sch.stages if p.attach == "at" and p.attach_stage is st
                    and p.attach_ivar is iv]
        if not attached:
            return stmt
        stmt = S.seq(*[self.nest(p) for p in attached], stmt)
        for p in reversed(attached):
            stmt = S.Allocate(self.buffers[p], stmt)
        return stmt

    def run(self, name: str) -> S.PrimFunc:
        self._effective_bodies()
        self._check_reads()
        self._infer_bounds()
        roots = [st for st in self.sch.stages if not st.is_placeholder and st.attach == "root"]
        body = S.seq(*[self.nest(st) for st in roots])
        params = set(self.params)
        for st in reversed(roots):
            if self.buffers[st] not in params:
                body = S.Allocate(self.buffers[st], body)
        stage = {iv.var: st.name for st in self.sch.stages if not st.is_placeholder
                 for iv in st.leaf_iter_vars}
        # the init nest's fresh loop variables too, so unroll/vectorize notes name their stage
        return S.PrimFunc(name, tuple(self.params), body, loop_stage={**self.init_loop_stage, **stage})


def _step_note(st, iv) -> str:
    """' (trace step n: s['C'].vectorize('j'))' for the step that set iv's kind or binding."""
    n = st.kind_steps.get(iv)
    steps = st.schedule.trace.steps
    if n is None or n >= len(steps):
        return ""
    return f" (trace step {n}: {steps[n].to_python()})"


def _check_capacity(st, buf):
    from ..schedule.scopes import get_scope
    sc = get_scope(st.scope)
    if sc is not None and sc.capacity_bytes is not None and buf.nbytes > sc.capacity_bytes:
        raise ScheduleError(st.scope_primitive, f"scope={st.scope!r}",
                            f"buffer {st.name} {list(buf.shape)} {buf.dtype} needs {buf.nbytes} bytes, "
                            f"more than the scope's capacity of {sc.capacity_bytes} bytes; compute it "
                            "at an inner loop (compute_at) so a smaller region is kept", st.name)


def reject_thread_bindings(sch, target: str = "llvm"):
    """A CPU build cannot run loops bound to virtual threads; name the first one."""
    for st in sch.stages:
        for iv, thread in st.bindings.items():
            if iv in st.leaf_iter_vars and st.attach != "inline":
                raise ScheduleError("bind", f"axis={iv.name}", f"the {target!r} target cannot run virtual "
                                    f"threads ({thread.thread_tag!r}); they are for the VTA compiler "
                                    "(accel.vta.build). Build without bind() for the CPU", st.name)


def _guard(stmt, conds):
    for c in reversed(conds):
        stmt = S.IfThenElse(simplify_expr(c), stmt)
    return stmt


def schedule_to_ir(sch, args, name: str = "main") -> S.PrimFunc:
    return _Lowering(sch, args).run(name)
