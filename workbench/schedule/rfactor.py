"""rfactor: factor a reduction over a split axis into a partial-result stage (TVM's semantics).

For `C = sum over k` with k split into (ko, ki), `CF = s.rfactor(C, ki)` makes
`CF[ki, i...] = sum over ko of C's source` (the factored axis becomes a data axis of CF, at position
`factor_axis`), and C becomes `sum over ki of CF[ki, i...]`. CF's data axis can then be parallelized
or vectorized, which a reduction axis cannot. A split that does not divide becomes CF's `where`.
"""
from __future__ import annotations

from ..ir import expr as E
from ..ir.visitor import substitute
from ..te.api import reduce_identity
from ..te.tensor import ComputeOp, IterVar, make_tensor
from .errors import ScheduleError
from .stage import Split


def _reduce_offsets(stage) -> tuple[dict, list]:
    """Root reduce variable -> expression in the reduce leaves' variables, and the conditions a
    non-dividing split needs (as bound inference computes them, on the declared extents)."""
    offset = {iv: iv.var for iv in stage.leaf_iter_vars}
    guards = []
    for r in reversed(stage.relations):
        if isinstance(r, Split):
            offset[r.parent] = offset[r.outer] * r.inner.extent + offset[r.inner]
            if r.outer.extent * r.inner.extent > r.parent.extent:
                guards.append(offset[r.parent] < r.parent.extent)
        else:
            offset[r.outer] = offset[r.fused] // r.inner.extent
            offset[r.inner] = offset[r.fused] % r.inner.extent
    return offset, guards


def rfactor(sch, tensor, axis, factor_axis: int = 0):
    t = sch._tensor_arg(tensor, "rfactor", "tensor")
    st = sch[t]

    def err(argument, reason):
        return ScheduleError("rfactor", argument, reason, st.name)
    if st.is_placeholder or not isinstance(st.op.body, E.Reduce):
        raise err(f"tensor={st.name}", "the stage is not a reduction (te.sum/max/min over a reduce_axis)")
    if st.attach == "inline":
        raise err(f"tensor={st.name}", "the stage is inlined")
    iv = st._leaf(axis, "rfactor", "axis")
    if iv.kind != "reduce":
        raise err(f"axis={iv.name}", f"{iv.name} is a data axis; rfactor factors a reduction axis")
    if isinstance(factor_axis, bool) or not isinstance(factor_axis, int) or \
            not 0 <= factor_axis <= len(st.op.axis):
        raise err(f"factor_axis={factor_axis!r}", f"must be an int in 0..{len(st.op.axis)} (where the factored "
                  "axis goes among the partial result's dimensions)")
    for r in st.relations:
        parent = r.parent if isinstance(r, Split) else r.outer
        if parent.kind != "reduce":
            raise err(f"axis={iv.name}", f"data axis {parent.name} was split or fused; apply rfactor before "
                      "scheduling the data axes (they are rebuilt)")
    red_leaves = [x for x in st.leaf_iter_vars if x.kind == "reduce"]
    for x in red_leaves:
        if x in st.kinds or x in st.pragmas:
            raise err(f"axis={iv.name}", f"reduction loop {x.name} is {st.kinds.get(x, 'annotated')}; rfactor "
                      "first, then annotate the new stage's loops")
        if x in sch._attach_points(st):
            raise err(f"axis={iv.name}", f"a stage is computed at reduction loop {x.name}")
    if st.tensorized:
        raise err(f"axis={iv.name}", "the stage is tensorized")

    op, red = st.op, st.op.body
    offset, guards = _reduce_offsets(st)
    cf_data = [IterVar(E.Var(a.name), 0, a.extent, "data") for a in op.axis]
    f_axis = IterVar(E.Var(iv.name), 0, iv.extent, "data")
    cf_data.insert(factor_axis, f_axis)
    cf_red = tuple(IterVar(E.Var(x.name), 0, x.extent, "reduce") for x in red_leaves if x is not iv)
    leafmap = {x.var: y.var for x, y in zip([x for x in red_leaves if x is not iv], cf_red)}
    leafmap[iv.var] = f_axis.var
    rootmap = {a.var: b.var for a, b in zip(op.axis, [d for d in cf_data if d is not f_axis])}
    rootmap.update({r.var: substitute(offset[r], leafmap) for r in op.reduce_axis})
    source = substitute(red.source, rootmap)
    conds = [substitute(g, leafmap) for g in guards]
    if red.condition is not None:
        conds.insert(0, substitute(red.condition, rootmap))
    cond = None
    for c in conds:
        cond = c if cond is None else E.And(cond, c)
    name = sch._unique_stage_name(f"{st.name}.rf")
    if cf_red:
        body = E.Reduce(red.combiner, source, cf_red, cond)
    else:   # the factored axis was the only reduction loop: CF is elementwise
        body = source if cond is None else E.Select(cond, source, reduce_identity(red.combiner, source.dtype))
    cf_t = make_tensor(ComputeOp(name, tuple(cf_data), cf_red, body, op.tag))

    rv = IterVar(E.Var(iv.name), 0, iv.extent, "reduce")
    idx = [a.var for a in op.axis]
    idx.insert(factor_axis, rv.var)
    new_op = ComputeOp(op.name, op.axis, (rv,), E.Reduce(red.combiner, cf_t[tuple(idx)], (rv,), None), op.tag)
    object.__setattr__(new_op, "_output", op.output(0))
    sch._replace_op(st, new_op)
    st.relations = []
    st.leaf_iter_vars = [rv if x is iv else x for x in st.leaf_iter_vars if x.kind == "data" or x is iv]
    st.all_iter_vars = list(op.axis) + [rv]
    from .stage import Stage
    cf_stage = Stage(sch, cf_t.op, name)
    sch._stage_of[id(cf_t.op)] = cf_stage
    sch.stages.insert(sch.stages.index(st), cf_stage)
    sch._record("rfactor", None, (st.name, iv.name), {"factor_axis": factor_axis}, (name,))
    return cf_t
