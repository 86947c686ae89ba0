"""Stage: the schedule of one operation — its loop axes (leaves), how they were derived from the
operation's axes (split/fuse relations), loop kinds, pragmas and where it is computed.

Every public primitive checks its arguments first (raising ScheduleError), then mutates the stage
and appends one Step to the schedule's trace.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from ..ir import expr as E
from ..te.tensor import THREAD_TAGS, ComputeOp, IterVar, PlaceholderOp, make_thread_axis
from .errors import ScheduleError

PRAGMAS = ("auto_unroll_max_step",)
# Pragmas a backend interprets, taking no value (TVM's `s[A].pragma(ax, env.dma_copy)`): VTA's
# "dma_copy" (the loops from this axis inward are one DMA transfer) and "alu" (an ALU kernel).
# The core carries them to the loop IR as annotations; a CPU build ignores them.
BACKEND_PRAGMAS = {"dma_copy": "VTA: the loops from this axis inward are one 2-D DMA transfer",
                   "alu": "VTA: the loops from this axis inward are one ALU micro-kernel"}
MAX_LANES = 256          # longest loop `vectorize` accepts (LLVM vectors beyond this explode)


@dataclass(frozen=True, eq=False)
class Split:
    parent: IterVar
    outer: IterVar
    inner: IterVar
    factor: int | None
    nparts: int | None


@dataclass(frozen=True, eq=False)
class Fuse:
    outer: IterVar
    inner: IterVar
    fused: IterVar


def unique_name(base: str, taken) -> str:
    """base, or base1, base2, ... whichever is not taken (names in traces must be unique)."""
    name, n = base, 1
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def _positive_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool) and v > 0


class Stage:
    def __init__(self, schedule, op, name: str, scope: str = "global"):
        self.schedule = schedule
        self.op = op
        self.name = name
        self.scope = scope
        self.is_output = False
        self.relations: list = []
        self.kinds: dict = {}          # IterVar -> "parallel" | "vectorized" | "unrolled"
        self.pragmas: dict = {}        # IterVar -> tuple of (key, value)
        self.attach = "root"           # "root" | "inline" | "at"
        self.attach_stage: Stage | None = None
        self.attach_ivar: IterVar | None = None
        self.bindings: dict = {}       # IterVar -> thread IterVar (te.thread_axis), see bind()
        self.kind_steps: dict = {}     # IterVar -> trace index of the step that set its kind
        self.tensorized: dict = {}     # IterVar -> TensorIntrin replacing the sub-nest (tensorize)
        self.scope_primitive = "set_scope"   # what put the buffer in its scope (for error messages)
        if isinstance(op, ComputeOp):
            self.all_iter_vars = list(op.axis) + list(op.reduce_axis)
        else:
            self.all_iter_vars = []
        self.leaf_iter_vars = list(self.all_iter_vars)

    def _copy_to(self, schedule) -> "Stage":
        new = object.__new__(Stage)
        new.__dict__.update(self.__dict__)
        new.schedule = schedule
        for attr in ("relations", "all_iter_vars", "leaf_iter_vars"):
            setattr(new, attr, list(getattr(self, attr)))
        for attr in ("kinds", "pragmas", "bindings", "kind_steps", "tensorized"):
            setattr(new, attr, dict(getattr(self, attr)))
        return new

    # -- helpers ---------------------------------------------------------------------------------
    def __repr__(self):
        return f"Stage({self.name}, leaves=[{', '.join(iv.name for iv in self.leaf_iter_vars)}])"

    @property
    def is_placeholder(self) -> bool:
        return isinstance(self.op, PlaceholderOp)

    @property
    def root_iter_vars(self) -> list:
        return list(self.op.axis) + list(self.op.reduce_axis) if isinstance(self.op, ComputeOp) else []

    def axis(self, name: str) -> IterVar:
        """The leaf axis called `name` (e.g. "i.outer")."""
        return self._leaf(name, "axis", "name")

    def _err(self, primitive, argument, reason):
        return ScheduleError(primitive, argument, reason, self.name)

    def _leaf(self, ax, primitive: str, argname: str) -> IterVar:
        if isinstance(ax, str):
            for iv in self.leaf_iter_vars:
                if iv.name == ax:
                    return iv
            for iv in self.all_iter_vars:
                if iv.name == ax:
                    raise self._err(primitive, f"{argname}={ax!r}", self._not_leaf_reason(iv))
            raise self._err(primitive, f"{argname}={ax!r}", "no such axis; leaf axes are "
                            f"[{', '.join(iv.name for iv in self.leaf_iter_vars)}]")
        if isinstance(ax, E.Var):
            for iv in self.all_iter_vars:
                if iv.var is ax:
                    ax = iv
                    break
        if not isinstance(ax, IterVar):
            raise self._err(primitive, f"{argname}={ax!r}", "expected an axis (IterVar or axis name)")
        if ax in self.leaf_iter_vars:
            return ax
        if ax in self.all_iter_vars:
            raise self._err(primitive, f"{argname}={ax.name}", self._not_leaf_reason(ax))
        owner = self.schedule._owner_of(ax)
        where = f"it belongs to stage {owner.name!r}" if owner else "it is not an axis of this schedule"
        raise self._err(primitive, f"{argname}={ax.name}", f"axis {ax.name} is not an axis of stage "
                        f"{self.name!r}: {where}")

    def _not_leaf_reason(self, iv) -> str:
        for r in self.relations:
            if isinstance(r, Split) and r.parent is iv:
                return f"axis {iv.name} was split; use its leaves {r.outer.name}, {r.inner.name}"
            if isinstance(r, Fuse) and iv in (r.outer, r.inner):
                return f"axis {iv.name} was fused into {r.fused.name}"
        return f"axis {iv.name} is not a leaf"

    def _fresh_name(self, name: str) -> str:
        return unique_name(name, {iv.name for iv in self.all_iter_vars})

    def _need_loops(self, primitive, argument):
        if self.is_placeholder:
            raise self._err(primitive, argument, "a placeholder (input) has no loops to schedule")
        if self.attach == "inline":
            raise self._err(primitive, argument, "the stage is inlined (compute_inline); it has no "
                            "loops of its own. Call compute_root() first to give it loops again")

    def _record(self, primitive, args=(), kwargs=None, outputs=()):
        self.schedule._record(primitive, self.name, args, kwargs or {}, outputs)

    # -- loop structure --------------------------------------------------------------------------
    def split(self, axis, factor=None, nparts=None):
        """Split `axis` into (outer, inner) with inner extent `factor` (or `nparts` outer parts).
        A factor that does not divide the extent leaves a guarded tail (removed from the main
        loop by lowering)."""
        parent = self._leaf(axis, "split", "axis") if not self.is_placeholder else axis
        outer, inner = self._split(axis, factor, nparts, "split")
        kw = {"factor": factor} if factor is not None else {"nparts": nparts}
        self._record("split", (parent.name,), kw, (outer.name, inner.name))
        return outer, inner

    def _split(self, axis, factor, nparts, primitive):
        self._need_loops(primitive, f"axis={getattr(axis, 'name', axis)}")
        iv = self._leaf(axis, primitive, "axis")
        if (factor is None) == (nparts is None):
            raise self._err(primitive, f"axis={iv.name}", "give exactly one of factor= or nparts=")
        val = factor if factor is not None else nparts
        argname = "factor" if factor is not None else "nparts"
        if not _positive_int(val):
            raise self._err(primitive, f"{argname}={val!r}", f"{argname} must be a positive int")
        ext = iv.extent
        val = int(val)
        if factor is not None:
            inner_ext = min(val, ext)
            outer_ext = -(-ext // inner_ext)
        else:
            outer_ext = min(val, ext)
            inner_ext = -(-ext // outer_ext)
        outer = IterVar(E.Var(self._fresh_name(iv.name + ".outer")), 0, outer_ext, iv.kind)
        self.all_iter_vars.append(outer)
        inner = IterVar(E.Var(self._fresh_name(iv.name + ".inner")), 0, inner_ext, iv.kind)
        self.all_iter_vars.append(inner)
        self.relations.append(Split(iv, outer, inner, int(factor) if factor is not None else None,
                                    int(nparts) if nparts is not None else None))
        pos = self.leaf_iter_vars.index(iv)
        self.leaf_iter_vars[pos:pos + 1] = [outer, inner]
        self._move_attrs(iv, outer)
        return outer, inner

    def _move_attrs(self, old, new):
        # a loop kind or pragma set on an axis stays with the outer part when it is split/fused
        for attr in ("kinds", "pragmas", "kind_steps", "bindings", "tensorized"):
            d = getattr(self, attr)
            if old in d:
                d[new] = d.pop(old)
        self.schedule._retarget_attach(self, old, new)

    def tile(self, x, y, x_factor, y_factor):
        """Split x and y and reorder to (x.outer, y.outer, x.inner, y.inner); returns those four."""
        self._need_loops("tile", "x")
        xi, yi = self._leaf(x, "tile", "x"), self._leaf(y, "tile", "y")
        if xi is yi:
            raise self._err("tile", f"y={yi.name}", "x and y are the same axis")
        for name, v in (("x_factor", x_factor), ("y_factor", y_factor)):
            if not _positive_int(v):
                raise self._err("tile", f"{name}={v!r}", f"{name} must be a positive int")
        xo, xin = self._split(xi, x_factor, None, "tile")
        yo, yin = self._split(yi, y_factor, None, "tile")
        self._reorder([xo, yo, xin, yin], "tile")
        self._record("tile", (xi.name, yi.name, x_factor, y_factor), {},
                     (xo.name, yo.name, xin.name, yin.name))
        return xo, yo, xin, yin

    def fuse(self, *axes):
        """Fuse adjacent leaf axes (outermost first) into one axis."""
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        self._need_loops("fuse", "axes")
        if len(axes) < 2:
            raise self._err("fuse", "axes", "give at least two axes to fuse")
        ivs = [self._leaf(a, "fuse", f"axes[{n}]") for n, a in enumerate(axes)]
        pos = [self.leaf_iter_vars.index(iv) for iv in ivs]
        for n in range(1, len(ivs)):
            if pos[n] != pos[n - 1] + 1:
                order = ", ".join(iv.name for iv in self.leaf_iter_vars)
                raise self._err("fuse", f"axes[{n}]={ivs[n].name}", f"axes to fuse must be adjacent "
                                f"and outermost first; {ivs[n - 1].name} is not directly outside "
                                f"{ivs[n].name} in the loop order [{order}]")
            if ivs[n].kind != ivs[0].kind:
                raise self._err("fuse", f"axes[{n}]={ivs[n].name}", "cannot fuse a reduction axis with "
                                "a data-parallel axis")
        for n, iv in enumerate(ivs):
            # a loop kind covers the whole fused loop: parallel on the outermost axis stays legal
            # (more iterations to share), but vectorize/unroll of 256*257 lanes/copies is not what
            # was asked for, and a kind on an inner axis would silently disappear
            kind = self.kinds.get(iv)
            if kind is not None and (n > 0 or kind != "parallel"):
                raise self._err("fuse", f"axes[{n}]={iv.name}", f"{iv.name} is already {kind}; fuse "
                                f"first, then mark the fused axis")
            if iv in self.bindings or iv in self.tensorized:
                raise self._err("fuse", f"axes[{n}]={iv.name}", f"{iv.name} is "
                                f"{'bound to a thread' if iv in self.bindings else 'tensorized'}")
        for iv in ivs:
            if iv in self.schedule._attach_points(self):
                raise self._err("fuse", f"axis={iv.name}", f"a stage is computed at {iv.name}; move it "
                                "(compute_at) before fusing")
        fused = ivs[0]
        for iv in ivs[1:]:
            new = IterVar(E.Var(self._fresh_name(f"{fused.name}.{iv.name}.fused")), 0,
                          fused.extent * iv.extent, fused.kind)
            self.all_iter_vars.append(new)
            self.relations.append(Fuse(fused, iv, new))
            p = self.leaf_iter_vars.index(fused)
            self.leaf_iter_vars[p:p + 2] = [new]
            self._move_attrs(fused, new)
            self.kinds.pop(iv, None)
            self.pragmas.pop(iv, None)
            fused = new
        self._record("fuse", tuple(iv.name for iv in ivs), {}, (fused.name,))
        return fused

    def reorder(self, *axes):
        """Put the given leaf axes in this order, in the positions they occupy together."""
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        self._need_loops("reorder", "axes")
        ivs = [self._leaf(a, "reorder", f"axes[{n}]") for n, a in enumerate(axes)]
        self._reorder(ivs, "reorder")
        self._record("reorder", tuple(iv.name for iv in ivs))

    def _reorder(self, ivs, primitive):
        seen = set()
        for n, iv in enumerate(ivs):
            if iv in seen:
                raise self._err(primitive, f"axes[{n}]={iv.name}", f"axis {iv.name} is listed twice")
            seen.add(iv)
        slots = sorted(self.leaf_iter_vars.index(iv) for iv in ivs)
        for slot, iv in zip(slots, ivs):
            self.leaf_iter_vars[slot] = iv

    # -- loop kinds --------------------------------------------------------------------------------
    def _annotate(self, primitive, axis, kind):
        self._need_loops(primitive, f"axis={getattr(axis, 'name', axis)}")
        iv = self._leaf(axis, primitive, "axis")
        if kind in ("parallel", "vectorized") and iv.kind == "reduce":
            what = "the output would be updated by several threads at once" if kind == "parallel" \
                else "lanes would accumulate into one element"
            raise self._err(primitive, f"axis={iv.name}", f"{iv.name} is a reduction axis; {what}. "
                            "Use s.rfactor(tensor, axis) to make it a data axis of a new stage, or reorder a data axis "
                            "innermost instead")
        # The extent is final only for an output stage (always at the root); another stage may be
        # (or later be) computed at a consumer's loop, where bound inference shrinks its loops, so
        # its check waits for lowering (schedule_ops), as TVM's tutorial GEMM schedule needs.
        if kind == "vectorized" and iv.extent > MAX_LANES and self.is_output:
            raise self._err(primitive, f"axis={iv.name}", f"extent {iv.extent} is too long to vectorize "
                            f"(at most {MAX_LANES} lanes); split it first")
        old = self.kinds.get(iv)
        if old is not None and old != kind:
            raise self._err(primitive, f"axis={iv.name}", f"{iv.name} is already {old}")
        if iv in self.bindings:
            raise self._err(primitive, f"axis={iv.name}", f"{iv.name} is bound to a thread "
                            f"({self.bindings[iv].thread_tag})")
        if iv in self.tensorized:
            raise self._err(primitive, f"axis={iv.name}", f"{iv.name} is tensorized")
        self.kinds[iv] = kind
        self.kind_steps[iv] = len(self.schedule.trace)
        self._record(primitive, (iv.name,))
        return iv

    def vectorize(self, axis):
        """Execute the axis as SIMD lanes (explicit vector IR where legal)."""
        self._annotate("vectorize", axis, "vectorized")

    def unroll(self, axis):
        """Replicate the loop body once per iteration of the axis."""
        self._annotate("unroll", axis, "unrolled")

    def parallel(self, axis):
        """Run iterations of the axis on all cores (OpenMP thread pool)."""
        self._annotate("parallel", axis, "parallel")

    def pragma(self, axis, key: str, value=None):
        """Annotate a loop; `auto_unroll_max_step=n` unrolls the loops below whose total number of
        iterations is at most n.  Backend pragmas (BACKEND_PRAGMAS: VTA's "dma_copy", "alu") take
        no value."""
        self._need_loops("pragma", f"axis={getattr(axis, 'name', axis)}")
        iv = self._leaf(axis, "pragma", "axis")
        if key in BACKEND_PRAGMAS and value is None:
            self.pragmas[iv] = tuple(p for p in self.pragmas.get(iv, ()) if p[0] != key) + ((key, 1),)
            self._record("pragma", (iv.name, key))
            return
        if key not in PRAGMAS:
            raise self._err("pragma", f"key={key!r}", "unknown pragma; known: "
                            f"{', '.join(PRAGMAS + tuple(BACKEND_PRAGMAS))}")
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 0:
            raise self._err("pragma", f"value={value!r}", f"{key} takes a non-negative int")
        self.pragmas[iv] = tuple(p for p in self.pragmas.get(iv, ()) if p[0] != key) + ((key, int(value)),)
        self._record("pragma", (iv.name, key, int(value)))

    # -- where the stage is computed ---------------------------------------------------------------
    def compute_at(self, parent, axis):
        """Compute this stage inside `parent`'s loop `axis`, only the region that iteration needs."""
        sch = self.schedule
        if self.is_placeholder:
            raise self._err("compute_at", "self", "a placeholder (input) is not computed")
        if self.is_output:
            raise self._err("compute_at", "self", "an output stage cannot be computed at another stage")
        target = sch._stage_arg(parent, "compute_at", "parent", self.name)
        if target is self:
            raise self._err("compute_at", f"parent={target.name}", "a stage cannot be computed at itself")
        if target.attach == "inline":
            raise self._err("compute_at", f"parent={target.name}", f"stage {target.name!r} is inlined and "
                            "has no loops")
        iv = target._leaf(axis, "compute_at", "axis")
        readers = sch._effective_readers(self)
        # TVM also attaches a stage to an indirect consumer's loop (VTA's tutorials put res_gem,
        # res_shr, res_max and res_min all at res's loop): allowed when the one reader is upstream
        # of the target; lowering checks that reader is computed at the same loop.
        if target not in readers and not (len(readers) == 1 and sch._feeds(readers[0], target)):
            raise self._err("compute_at", f"parent={target.name}", f"stage {target.name!r} does not read "
                            f"{self.name!r}; it is read by [{', '.join(r.name for r in readers)}]")
        if len(readers) > 1:
            raise self._err("compute_at", f"parent={target.name}", f"{self.name!r} is also read by "
                            f"[{', '.join(r.name for r in readers if r is not target)}], which would not "
                            "see values computed inside another stage's loop; use cache_read per reader")
        self.attach, self.attach_stage, self.attach_ivar = "at", target, iv
        self._record("compute_at", (target.name, iv.name))

    def compute_inline(self):
        """Substitute this stage's expression into every reader; it gets no loops or buffer."""
        if self.is_placeholder:
            raise self._err("compute_inline", "self", "a placeholder (input) cannot be inlined")
        if self.is_output:
            raise self._err("compute_inline", "self", "an output stage cannot be inlined")
        if self.op.reduce_axis:
            raise self._err("compute_inline", "self", "a reduction cannot be inlined into its readers")
        attached = [st.name for st in self.schedule.stages if st.attach_stage is self and st.attach == "at"]
        if attached:
            raise self._err("compute_inline", "self", f"stages [{', '.join(attached)}] are computed at "
                            "this stage's loops")
        self.attach, self.attach_stage, self.attach_ivar = "inline", None, None
        self._record("compute_inline")

    def set_scope(self, scope: str):
        """Keep this stage's buffer in `scope` (a registered storage scope, e.g. "local")."""
        from .scopes import check_scope
        if self.is_placeholder:
            raise self._err("set_scope", f"scope={scope!r}", "a placeholder (input) is an argument "
                            "buffer; use cache_read to copy it into another scope")
        check_scope(scope, "set_scope", self.name)
        if self.is_output:
            raise self._err("set_scope", f"scope={scope!r}", "an output stage is an argument buffer in "
                            "global memory; use cache_write to compute it in another scope")
        self.scope = scope
        self._record("set_scope", (scope,))

    def compute_root(self):
        """Compute this stage at the top level, over its whole domain (the default)."""
        if self.is_placeholder:
            raise self._err("compute_root", "self", "a placeholder (input) is not computed")
        saved = self.attach, self.attach_stage, self.attach_ivar
        self.attach, self.attach_stage, self.attach_ivar = "root", None, None
        self._check_attachments_kept("compute_root", saved)
        self._record("compute_root")

    def _check_attachments_kept(self, primitive: str, saved):
        """Making an inlined stage real again gives its producers a new reader: a producer computed
        at another stage's loop would then feed a reader outside that loop. Refused here, naming
        the primitive that would break it (lowering would otherwise name the older compute_at)."""
        for st in self.schedule.stages:
            if st.attach == "at":
                readers = self.schedule._effective_readers(st)
                if readers != [st.attach_stage]:
                    self.attach, self.attach_stage, self.attach_ivar = saved
                    raise self._err(primitive, "self", f"{st.name!r} is computed at {st.attach_stage.name!r}'s "
                                    f"loop and would also be read by [{', '.join(r.name for r in readers if r is not st.attach_stage)}]"
                                    f"; compute {st.name!r} at the root first")

    # -- threads -----------------------------------------------------------------------------------
    def bind(self, axis, thread, extent: int | None = None):
        """Bind a leaf axis to a thread axis, `te.thread_axis("cthread")` (VTA's virtual threads).

        The loop is kept in the IR with a `thread_binding` annotation for a backend (the VTA compiler)
        to interleave; a CPU build rejects it. `thread` may also be the tag string ("cthread"), with
        the thread axis's fixed `extent` if it has one (that is how the trace records it)."""
        self._need_loops("bind", f"axis={getattr(axis, 'name', axis)}")
        iv = self._leaf(axis, "bind", "axis")
        if isinstance(thread, str):
            if thread not in THREAD_TAGS:
                raise self._err("bind", f"thread={thread!r}", f"unknown thread tag; known: "
                                f"{', '.join(THREAD_TAGS)}")
            if extent is not None and not _positive_int(extent):
                raise self._err("bind", f"extent={extent!r}", "extent must be a positive int")
            thread = make_thread_axis(None if extent is None else int(extent), thread, thread)
        if not isinstance(thread, IterVar) or thread.kind != "thread":
            raise self._err("bind", f"thread={getattr(thread, 'name', thread)!r}", "expected a thread axis "
                            "made by te.thread_axis('cthread')")
        if iv.kind == "reduce":
            raise self._err("bind", f"axis={iv.name}", f"{iv.name} is a reduction axis; threads would "
                            "update one output element at once")
        if iv in self.bindings:
            raise self._err("bind", f"axis={iv.name}", f"{iv.name} is already bound to "
                            f"{self.bindings[iv].thread_tag}")
        if iv in self.kinds:
            raise self._err("bind", f"axis={iv.name}", f"{iv.name} is already {self.kinds[iv]}")
        # an output's extents are final; other stages' loops may shrink (compute_at): see lowering
        if thread.extent is not None and thread.extent != iv.extent and self.is_output:
            raise self._err("bind", f"thread={thread.name}", f"the thread axis has extent {thread.extent} "
                            f"but {iv.name} has extent {iv.extent}")
        self.bindings[iv] = thread
        self.kind_steps[iv] = len(self.schedule.trace)
        self._record("bind", (iv.name, thread.thread_tag),
                     {} if thread.extent is None else {"extent": thread.extent})

    # -- tensor intrinsics ---------------------------------------------------------------------------
    def tensorize(self, axis, intrin):
        """Replace the loop nest under `axis` (included) by a tensor intrinsic
        (te.decl_tensor_intrin, or its name). The sub-nest must compute exactly the intrinsic's
        compute; otherwise a ScheduleError says which axis or access differs."""
        from ..te.intrin import as_tensor_intrin, get_tensor_intrin
        from .tensorize import match_intrin
        self._need_loops("tensorize", f"axis={getattr(axis, 'name', axis)}")
        iv = self._leaf(axis, "tensorize", "axis")
        if isinstance(intrin, str):
            found = get_tensor_intrin(intrin)
            if found is None:
                raise self._err("tensorize", f"intrin={intrin!r}", "no tensor intrinsic of that name was "
                                "declared (te.decl_tensor_intrin) in this process")
            intrin = found
        found = as_tensor_intrin(intrin)
        if found is None:
            raise self._err("tensorize", f"intrin={intrin!r}", "expected a te.decl_tensor_intrin(...) result")
        intrin = found
        if self.tensorized:
            other = next(iter(self.tensorized))
            raise self._err("tensorize", f"axis={iv.name}", f"the stage is already tensorized at {other.name}")
        match_intrin(self, iv, intrin)
        self.tensorized[iv] = intrin
        self._record("tensorize", (iv.name, intrin.name))
