"""tensorize: does the loop nest under an axis compute exactly a tensor intrinsic's compute?

The sub-nest under `axis` covers, for every root axis of the stage, either one fixed value (all of
its loops are outside) or a contiguous range `base + t`, t in [0, extent) (its innermost split
parts are inside). The intrinsic's axes align with the stage's trailing axes (data and reduction
separately, leading ones must be fixed), so a 4-d packed stage can call a 2-d intrinsic. Then the
stage's expression with each axis replaced by `base + t` must be the intrinsic's expression: same
operations and dtypes, each tensor read of the intrinsic matched by a read of one stage tensor
whose indices differ from the intrinsic's only by offsets that do not depend on the intrinsic's
loop variables (the view's start). Checked at the call with the axes' own extents and again at
lowering with the extents bound inference gives.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import expr as E
from ..ir.simplify import simplify_expr
from ..ir.visitor import free_vars, substitute
from ..te.intrin import TensorIntrin
from ..te.tensor import IterVar
from .errors import ScheduleError
from .stage import Fuse, Split


@dataclass(frozen=True)
class TensorizePlan:
    intrin: TensorIntrin
    axis: IterVar
    inner: tuple           # the sub-nest's leaf axes, outermost first
    base: dict             # stage root IterVar -> Var standing for its value at the sub-nest's start
    reads: tuple           # per intrinsic input: (stage tensor, its indices in base + intrinsic vars)
    intrin_vars: frozenset  # the intrinsic's axis variables (zero at the region start)
    reduce_inside: bool    # every reduction loop of the stage is inside the sub-nest


class _Mismatch(Exception):
    pass


def match_intrin(stage, axis: IterVar, intrin: TensorIntrin, extent=None) -> TensorizePlan:
    """The plan for replacing the sub-nest under `axis`, or a ScheduleError saying what differs.
    `extent(iv)` gives loop extents (default: the axes' own, before bound inference)."""
    extent = extent or (lambda iv: iv.extent)

    def err(reason, argument=None):
        return ScheduleError("tensorize", argument or f"axis={axis.name}", f"intrinsic {intrin.name!r}: "
                             f"{reason}", stage.name)

    leaves = stage.leaf_iter_vars
    pos = leaves.index(axis)
    inner = tuple(leaves[pos:])
    inner_set = set(inner)
    for iv in inner:
        if iv in stage.kinds or iv in stage.bindings:
            raise err(f"loop {iv.name} inside the sub-nest is "
                      f"{stage.kinds.get(iv) or 'bound to a thread'}; the intrinsic replaces it")
        if iv is not axis and iv in stage.tensorized:
            raise err(f"loop {iv.name} inside the sub-nest is tensorized too")
    for st in stage.schedule.stages:
        if st.attach == "at" and st.attach_stage is stage and st.attach_ivar in inner_set:
            raise err(f"stage {st.name!r} is computed at loop {st.attach_ivar.name} inside the sub-nest")

    split_of, leaves_of = {}, {}
    for r in stage.relations:
        if isinstance(r, Split):
            split_of[r.parent] = r

    def leaves_under(x) -> list:
        if x in leaves_of:
            return leaves_of[x]
        out, todo = [], [x]
        while todo:
            y = todo.pop()
            if y in stage.leaf_iter_vars:
                out.append(y)
            for r in stage.relations:
                if isinstance(r, Split) and r.parent is y:
                    todo += [r.outer, r.inner]
                elif isinstance(r, Fuse) and y in (r.outer, r.inner):
                    todo.append(r.fused)
        leaves_of[x] = out
        return out

    def region_axis(root):
        """The derived axis whose loops are all inside (root = base + its offset), or None."""
        x = root
        while True:
            under = leaves_under(x)
            inside = [iv for iv in under if iv in inner_set]
            if len(inside) == len(under):
                return x
            if not inside:
                return None
            r = split_of.get(x)
            if r is None or any(iv in inner_set for iv in leaves_under(r.outer)):
                names = lambda ivs: ", ".join(iv.name for iv in ivs)  # noqa: E731
                raise err(f"axis {root.name} is only partly inside the sub-nest (loops "
                          f"[{names(inside)}] inside, [{names(iv for iv in under if iv not in inner_set)}] "
                          "outside, or fused); reorder or split so its inner part is whole under the axis")
            x = r.inner

    for iv in inner:
        for r in stage.relations:
            if isinstance(r, Fuse) and r.fused is iv:
                raise err(f"loop {iv.name} inside the sub-nest is a fused loop; tensorize needs plain "
                          "(split) loops")

    iop, sop = intrin.op, stage.op
    base, vmap = {}, {}
    for c_axes, i_axes, what in ((sop.axis, iop.axis, "data"), (sop.reduce_axis, iop.reduce_axis, "reduction")):
        if len(i_axes) > len(c_axes):
            raise err(f"the intrinsic has {len(i_axes)} {what} axes but stage {stage.name!r} has "
                      f"{len(c_axes)}")
        lead = len(c_axes) - len(i_axes)
        for n, r in enumerate(c_axes):
            y = region_axis(r)
            ext = 1 if y is None else extent(y)
            base[r] = E.Var(f"{r.name}.base")
            if n < lead:
                if ext != 1:
                    raise err(f"the sub-nest covers {ext} iterations of {what} axis {r.name}, which has no "
                              f"counterpart among the intrinsic's {what} axes "
                              f"[{', '.join(v.name for v in i_axes)}] (leading axes must be fixed)")
                vmap[r.var] = base[r]
            else:
                v = i_axes[n - lead]
                if ext != v.extent:
                    raise err(f"the sub-nest covers {ext} iterations of {what} axis {r.name}, but the "
                              f"intrinsic's axis {v.name} has extent {v.extent}")
                # an intrinsic axis of extent 1 only takes the value 0: no offset to match
                vmap[r.var] = base[r] + v.var if v.extent > 1 else base[r]
    ivars = frozenset(v.var for v in list(iop.axis) + list(iop.reduce_axis))

    unit = {v.var: E.const(0) for v in list(iop.axis) + list(iop.reduce_axis) if v.extent == 1}
    cbody, ibody = substitute(sop.body, vmap), substitute(iop.body, unit)
    reads: dict = {}
    try:
        if isinstance(cbody, E.Reduce) != isinstance(ibody, E.Reduce):
            raise _Mismatch(f"stage {stage.name!r} {'is' if isinstance(cbody, E.Reduce) else 'is not'} a "
                            f"reduction but the intrinsic {'is not' if isinstance(cbody, E.Reduce) else 'is'}")
        if isinstance(cbody, E.Reduce):
            if cbody.combiner != ibody.combiner:
                raise _Mismatch(f"the stage reduces with {cbody.combiner}, the intrinsic with {ibody.combiner}")
            if (cbody.condition is None) != (ibody.condition is None):
                raise _Mismatch("one of the stage and the intrinsic has a `where` condition, the other not")
            if cbody.condition is not None:
                _match(cbody.condition, ibody.condition, reads, ivars, intrin)
            cbody, ibody = cbody.source, ibody.source
        _match(cbody, ibody, reads, ivars, intrin)
    except _Mismatch as m:
        raise err(str(m)) from None
    for t in intrin.inputs:
        if t not in reads:
            raise err(f"the intrinsic's input {t.name} is not read")
    for t, scope in intrin.binds:
        tc = stage.op.output(0) if t is intrin.output else reads[t][0]
        st = stage if t is intrin.output else stage.schedule[tc]
        if st.scope != scope:
            raise err(f"the intrinsic needs {t.name} in scope {scope!r} but {st.name} is in {st.scope!r}; "
                      "use cache_read/cache_write/set_scope")
    reduce_inside = all(iv in inner_set for iv in leaves if iv.kind == "reduce")
    return TensorizePlan(intrin, axis, inner, base, tuple(reads[t] for t in intrin.inputs), ivars,
                         reduce_inside)


def _match(c, i, reads, ivars, intrin):
    tc, ti = type(c), type(i)
    if ti is E.TensorRead:
        if tc is not E.TensorRead:
            raise _Mismatch(f"the stage computes `{c}` where the intrinsic reads `{i}`")
        _match_read(c, i, reads, ivars)
        return
    if tc is not ti or c.dtype != i.dtype:
        raise _Mismatch(f"the stage computes `{c}` ({c.dtype}) where the intrinsic computes `{i}` ({i.dtype})")
    if tc is E.Const:
        if c.value != i.value:
            raise _Mismatch(f"constant {c} differs from the intrinsic's {i}")
        return
    if tc is E.Var:
        if c is not i:
            raise _Mismatch(f"variable {c} differs from the intrinsic's {i}")
        return
    if tc is E.Call and c.name != i.name:
        raise _Mismatch(f"`{c}` calls {c.name}, the intrinsic's `{i}` calls {i.name}")
    for f in ("a", "b", "cond", "t", "f", "value", "args"):
        cv, iv = getattr(c, f, None), getattr(i, f, None)
        if isinstance(cv, tuple):
            if len(cv) != len(iv):
                raise _Mismatch(f"`{c}` and the intrinsic's `{i}` differ in arguments")
            for x, y in zip(cv, iv):
                _match(x, y, reads, ivars, intrin)
        elif isinstance(cv, E.Expr):
            _match(cv, iv, reads, ivars, intrin)


def _match_read(c, i, reads, ivars):
    ct, it = c.tensor, i.tensor
    if ct.dtype != it.dtype:
        raise _Mismatch(f"access {c} reads {ct.dtype} where the intrinsic's {i} reads {it.dtype}")
    if len(it.shape) > len(ct.shape):
        raise _Mismatch(f"access {c} has {len(ct.shape)} dimensions, the intrinsic's {i} has {len(it.shape)}")
    prev = reads.get(it)
    if prev is not None and prev[0] is not ct:
        raise _Mismatch(f"the intrinsic's {it.name} is matched by both {prev[0].name} and {ct.name}")
    lead = len(ct.shape) - len(it.shape)
    for d, ci in enumerate(c.indices):
        diff = ci if d < lead else simplify_expr(ci - i.indices[d - lead])
        bad = free_vars(diff) & ivars
        if bad:
            where = "is not addressed by the intrinsic" if d < lead else \
                f"differs from the intrinsic's {i} by {diff}"
            raise _Mismatch(f"access {c} differs in dimension {d} (which {where}): it depends on the "
                            f"intrinsic's loop variable(s) {', '.join(sorted(v.name for v in bad))}")
    if prev is not None:
        for a, b in zip(prev[1], c.indices):
            d = simplify_expr(a - b)
            if type(d) is not E.Const or d.value != 0:
                raise _Mismatch(f"the intrinsic's {it.name} is read at two different places of {ct.name}")
    reads[it] = (ct, c.indices)
