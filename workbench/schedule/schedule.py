"""Schedule: the stages of a dataflow graph of operations, plus schedule-level primitives
(cache_read, cache_write) that add stages, and the trace of everything applied."""
from __future__ import annotations

from ..ir import expr as E
from ..ir.visitor import post_order, walk
from ..te.tensor import ComputeOp, IterVar, Operation, Tensor, make_tensor
from .errors import ScheduleError
from .scopes import check_scope
from .stage import Fuse, Split, Stage, unique_name
from .trace import Step, Trace, normalize_arg


def _topo_ops(outputs) -> list:
    order, seen = [], set()
    def visit(op):
        if id(op) in seen:
            return
        seen.add(id(op))
        for t in op.input_tensors:
            visit(t.op)
        order.append(op)
    for t in outputs:
        visit(t.op)
    return order


class Schedule:
    def __init__(self, outputs):
        if isinstance(outputs, (Tensor, Operation)):
            outputs = [outputs]
        outputs = list(outputs)
        if not outputs:
            raise TypeError("create_schedule needs at least one output tensor")
        for t in outputs:
            if isinstance(t, Operation):
                t = t.output(0)
            if not isinstance(t, Tensor):
                raise TypeError(f"create_schedule takes tensors, got {type(t).__name__}")
        outputs = [t.output(0) if isinstance(t, Operation) else t for t in outputs]
        self.outputs = outputs
        self.stages: list[Stage] = []
        self._stage_of: dict = {}           # id(op) -> Stage, old ops included after replacement
        self.trace = Trace()
        self.root = self                    # copies share their root: stages resolve across them
        names: set = set()
        for op in _topo_ops(outputs):
            name, n = op.name, 1
            while name in names:        # two ops named alike get distinct stage names
                name, n = f"{op.name}_{n}", n + 1
            names.add(name)
            st = Stage(self, op, name)
            self.stages.append(st)
            self._stage_of[id(op)] = st
        for t in outputs:
            st = self._stage_of[id(t.op)]
            if st.is_placeholder:
                raise TypeError(f"output {t.name} is a placeholder; there is nothing to compute")
            st.is_output = True

    def __str__(self):
        """One line per stage: its loops in order (with kinds) and where it is computed."""
        lines = []
        for st in self.stages:
            if st.is_placeholder:
                lines.append(f"{st.name}: input {list(st.op.shape)} {st.op.dtype}")
                continue
            where = {"root": "root", "inline": "inlined"}.get(st.attach) or \
                f"at {st.attach_stage.name}.{st.attach_ivar.name}"
            def mark(iv):
                marks = [st.kinds[iv]] if iv in st.kinds else []
                marks += [st.bindings[iv].thread_tag] if iv in st.bindings else []
                marks += [f"tensorize {st.tensorized[iv].name}"] if iv in st.tensorized else []
                return f"[{', '.join(marks)}]" if marks else ""
            loops = ", ".join(iv.name + mark(iv) for iv in st.leaf_iter_vars)
            scope = "" if st.scope == "global" else f" ({st.scope})"
            lines.append(f"{st.name}{scope}: {where}; loops {loops}" if st.attach != "inline"
                         else f"{st.name}: inlined")
        return "\n".join(lines)

    def copy(self) -> "Schedule":
        """An independent copy (undo/redo, search branches): primitives on either do not affect the
        other. Tensors, operations and axes are immutable and shared, so those of this schedule
        resolve in the copy too; a Stage of this schedule resolves by its name."""
        new = Schedule.__new__(Schedule)
        new.outputs = list(self.outputs)
        new.trace = self.trace                       # a Trace is immutable
        new.root = self.root
        smap = {id(st): st._copy_to(new) for st in self.stages}
        new.stages = [smap[id(st)] for st in self.stages]
        new._stage_of = {k: smap[id(v)] for k, v in self._stage_of.items()}
        for st in new.stages:
            if st.attach_stage is not None:
                st.attach_stage = smap[id(st.attach_stage)]
        return new

    # -- lookup --------------------------------------------------------------------------------
    def __getitem__(self, key) -> Stage:
        if isinstance(key, Stage):
            if key.schedule is not self:
                # a stage of the schedule this one was copied from resolves by name
                mine = next((st for st in self.stages if st.name == key.name), None)
                if mine is None or key.schedule.root is not self.root:
                    raise KeyError(f"stage {key.name} belongs to another schedule")
                return mine
            return key
        if isinstance(key, str):
            for st in self.stages:
                if st.name == key:
                    return st
            raise KeyError(f"no stage named {key!r}; stages: {[st.name for st in self.stages]}")
        op = key.op if isinstance(key, Tensor) else key
        st = self._stage_of.get(id(op))
        if st is None:
            raise KeyError(f"{key!r} is not part of this schedule")
        return st

    def stage_of_tensor(self, t: Tensor) -> Stage:
        return self[t]

    def _stage_arg(self, x, primitive, argname, stage_name=None) -> Stage:
        try:
            return self[x]
        except (KeyError, AttributeError):
            raise ScheduleError(primitive, f"{argname}={getattr(x, 'name', x)!r}",
                                "not a stage or tensor of this schedule", stage_name) from None

    def _tensor_arg(self, x, primitive, argname) -> Tensor:
        if isinstance(x, str):
            try:
                return self[x].op.output(0)
            except KeyError:
                raise ScheduleError(primitive, f"{argname}={x!r}", "no tensor of that name in this "
                                    "schedule") from None
        if isinstance(x, Tensor):
            if id(x.op) not in self._stage_of:
                raise ScheduleError(primitive, f"{argname}={x.name}", "tensor is not part of this schedule")
            return x
        raise ScheduleError(primitive, f"{argname}={x!r}", "expected a tensor or its name")

    def _owner_of(self, iv: IterVar):
        for st in self.stages:
            if iv in st.all_iter_vars:
                return st
        return None

    def _record(self, primitive, stage, args, kwargs, outputs):
        self.trace = self.trace.append(Step(primitive, stage, normalize_arg(tuple(args)),
                                            tuple(sorted((k, normalize_arg(v)) for k, v in kwargs.items())),
                                            tuple(outputs)))

    # -- graph queries -------------------------------------------------------------------------
    def readers(self, stage: Stage) -> list:
        """Stages whose operation reads `stage`'s output directly."""
        out = []
        for st in self.stages:
            if isinstance(st.op, ComputeOp) and any(self._stage_of.get(id(t.op)) is stage
                                                   for t in st.op.input_tensors):
                out.append(st)
        return out

    def _effective_readers(self, stage: Stage) -> list:
        """Readers with inlined stages looked through (they have no loops of their own)."""
        out, todo, seen = [], list(self.readers(stage)), set()
        while todo:
            st = todo.pop(0)
            if id(st) in seen:
                continue
            seen.add(id(st))
            if st.attach == "inline":
                todo.extend(self.readers(st))
            else:
                out.append(st)
        return out

    def _feeds(self, stage: Stage, target: Stage) -> bool:
        """Whether `target` (transitively) reads what `stage` computes."""
        todo, seen = [stage], set()
        while todo:
            st = todo.pop()
            if st is target:
                return True
            if id(st) not in seen:
                seen.add(id(st))
                todo.extend(self.readers(st))
        return False

    def _attach_points(self, stage: Stage) -> set:
        return {st.attach_ivar for st in self.stages if st.attach == "at" and st.attach_stage is stage}

    def _retarget_attach(self, stage, old, new):
        # stages computed at an axis that gets split stay at its outer part (as TVM does)
        for st in self.stages:
            if st.attach == "at" and st.attach_stage is stage and st.attach_ivar is old:
                st.attach_ivar = new

    # -- cache stages --------------------------------------------------------------------------
    def _unique_stage_name(self, base: str) -> str:
        return unique_name(base, {st.name for st in self.stages})

    def _replace_op(self, stage: Stage, new_op):
        self._stage_of[id(new_op)] = stage
        stage.op = new_op

    def cache_read(self, tensor, scope: str, readers):
        """Copy `tensor` into a new `scope` buffer read by `readers` instead of the original."""
        t = self._tensor_arg(tensor, "cache_read", "tensor")
        check_scope(scope, "cache_read")
        if isinstance(readers, (Tensor, Stage, str)):
            readers = [readers]
        src = self[t]
        reader_stages = []
        for n, r in enumerate(readers):
            st = self._stage_arg(r, "cache_read", f"readers[{n}]")
            if st not in self.readers(src):
                raise ScheduleError("cache_read", f"readers[{n}]={st.name}", f"stage {st.name!r} does not "
                                    f"read {src.name!r}")
            reader_stages.append(st)
        if not reader_stages:
            raise ScheduleError("cache_read", "readers=[]", "give at least one reader")
        if src.attach == "at" and src.attach_stage in reader_stages:
            # the readers would read the cache instead, leaving src computed inside a loop of a
            # stage that no longer reads it (lowering would then blame compute_at)
            raise ScheduleError("cache_read", f"readers=[{src.attach_stage.name}]", f"{src.name!r} is computed "
                                f"at {src.attach_stage.name}.{src.attach_ivar.name} (compute_at); reading it "
                                "through a cache would leave it inside a stage that no longer reads it. Apply "
                                f"cache_read before compute_at, or s[{src.name!r}].compute_root() first")
        name = self._unique_stage_name(f"{src.name}.{scope}")
        src_t = src.op.output(0)
        axis = tuple(IterVar(E.Var(f"ax{d}"), 0, ext, "data") for d, ext in enumerate(src_t.shape))
        cache_t = make_tensor(ComputeOp(name, axis, (), src_t[tuple(iv.var for iv in axis)]))
        src_ids = {opid for opid, _ in self._ops_of(src)}
        for st in reader_stages:
            self._replace_op(st, _with_body(st.op, _replace_reads(st.op.body, src_ids, cache_t)))
        stage = Stage(self, cache_t.op, name, scope)
        stage.scope_primitive = "cache_read"
        self._stage_of[id(cache_t.op)] = stage
        self.stages.insert(self.stages.index(src) + 1, stage)
        self._record("cache_read", None, (src.name, scope, tuple(st.name for st in reader_stages)), {},
                     (name,))
        return cache_t

    def cache_write(self, tensor, scope: str):
        """Compute `tensor` into a new `scope` buffer, then copy it to the original."""
        t = self._tensor_arg(tensor, "cache_write", "tensor")
        st = self[t]
        if st.is_placeholder:
            raise ScheduleError("cache_write", f"tensor={st.name}", "a placeholder is not written")
        if st.attach == "inline":
            raise ScheduleError("cache_write", f"tensor={st.name}", "the stage is inlined")
        if st.relations or st.leaf_iter_vars != st.root_iter_vars or st.kinds or st.pragmas:
            raise ScheduleError("cache_write", f"tensor={st.name}", "apply cache_write before any "
                                "split/fuse/reorder/loop annotation of the stage")
        if self._attach_points(st):
            raise ScheduleError("cache_write", f"tensor={st.name}", "other stages are computed at this "
                                "stage's loops")
        check_scope(scope, "cache_write", st.name)
        op = st.op
        name = self._unique_stage_name(f"{st.name}.{scope}")
        new_axis = tuple(IterVar(E.Var(iv.name), iv.min, iv.extent, "data") for iv in op.axis)
        vmap = {old.var: new.var for old, new in zip(op.axis, new_axis)}
        from ..ir.visitor import substitute
        cache_t = make_tensor(ComputeOp(name, new_axis, op.reduce_axis, substitute(op.body, vmap), op.tag))
        # the original stage keeps its axes (so C.op.axis still schedules it) and copies the cache
        copy_op = ComputeOp(op.name, op.axis, (), cache_t[tuple(iv.var for iv in op.axis)], op.tag)
        object.__setattr__(copy_op, "_output", op.output(0))
        self._replace_op(st, copy_op)
        st.all_iter_vars = list(op.axis)
        st.leaf_iter_vars = list(op.axis)
        cache_stage = Stage(self, cache_t.op, name, scope)
        cache_stage.scope_primitive = "cache_write"
        self._stage_of[id(cache_t.op)] = cache_stage
        self.stages.insert(self.stages.index(st), cache_stage)
        self._record("cache_write", None, (st.name, scope), {}, (name,))
        return cache_t

    def rfactor(self, tensor, axis, factor_axis: int = 0):
        """Factor the reduction of `tensor` over its reduction loop `axis` into a new stage
        (returned) whose data axis `factor_axis` is `axis`; `tensor` then reduces over it."""
        from .rfactor import rfactor
        return rfactor(self, tensor, axis, factor_axis)

    def _ops_of(self, stage):
        return [(opid, st) for opid, st in self._stage_of.items() if st is stage]


def _with_body(op: ComputeOp, body) -> ComputeOp:
    new = ComputeOp(op.name, op.axis, op.reduce_axis, body, op.tag)
    object.__setattr__(new, "_output", op.output(0))
    return new


def _replace_reads(body, src_op_ids: set, cache_t: Tensor):
    def fn(n):
        if type(n) is E.TensorRead and id(n.tensor.op) in src_op_ids:
            return E.TensorRead(cache_t, n.indices)
        return None
    return post_order(body, fn)


def create_schedule(outputs) -> Schedule:
    """A schedule with one stage per operation, each with its default (naive) loop nest."""
    return Schedule(outputs)


__all__ = ["Schedule", "Stage", "Split", "Fuse", "create_schedule", "ScheduleError", "walk"]
