"""Layout rewrite of a reduction's inputs (Ansor's rule for weights; TVM's packed B of dense_pack
and the OIHW -> OIHWo kernel of its NCHWc convolutions): copy an input into the blocked layout its
tiled loop nest reads, so the register block's loads are contiguous instead of strided.

An input read as `B[k, j]` (every index a distinct loop variable of the reduction, the last one
spatial, a reduction variable before it: each reduction step jumps a row) with spatial axis j
tiled by T becomes

    B_packed[j // T, k, j % T]        B_packed = compute((N // T, K, T), B[k, jo * T + jt])

in general: the outer tile index of each spatial dimension first, then the other dimensions in
their order, then the inner tile index of each spatial dimension. A reduction step then walks
T contiguous values per k instead of one row of B.
"""
from __future__ import annotations

from workbench.ir import expr as E
from workbench.ir.visitor import post_order, walk
from workbench.te.tensor import ComputeOp, PlaceholderOp, make_tensor

from workbench import te


def _reads(op) -> dict:
    """id(tensor) -> (tensor, [index tuples]) of every tensor `op`'s body reads."""
    out: dict = {}

    def fn(n):
        if type(n) is E.TensorRead:
            out.setdefault(id(n.tensor), (n.tensor, []))[1].append(n.indices)
    walk(op.body, fn)
    return out


def packable_inputs(op) -> list:
    """The placeholders `op` reads in a row-strided way a layout can fix: one index tuple of
    distinct bare loop variables, the last (contiguous) dimension indexed by a spatial variable
    and an earlier one by a reduction variable, so each reduction step jumps a whole row (B[k, j]
    of a matmul; not A[i, k], which a reduction step walks contiguously)."""
    spatial = {iv.var for iv in op.axis}
    reduce = {iv.var for iv in op.reduce_axis}
    out = []
    for tensor, index_tuples in _reads(op).values():
        if not isinstance(tensor.op, PlaceholderOp):
            continue
        first = index_tuples[0]
        same = all(len(t) == len(first) and all(a is b for a, b in zip(t, first)) for t in index_tuples)
        bare = all(type(x) is E.Var and (x in spatial or x in reduce) for x in first)
        if same and bare and len(set(first)) == len(first) and first[-1] in spatial and \
                reduce & set(first[:-1]):
            out.append(tensor)
    return out


def rewrite(output, tensor, tiles: dict):
    """Rebuild `output` (a reduction's te Tensor) to read `tensor` (one of `packable_inputs`) in
    the blocked layout of `tiles` (spatial iteration Var -> outer tile size, which must divide
    that dimension). Returns (packed tensor, new output); the new output keeps the name, axes and
    reduction axes of the old one, so knobs named after them still apply."""
    op = output.op
    index = _reads(op)[id(tensor)][1][0]
    dims = list(range(len(index)))
    blocked = [d for d in dims if index[d] in tiles]
    rest = [d for d in dims if d not in blocked]
    for d in blocked:
        if tensor.shape[d] % tiles[index[d]]:
            raise ValueError(f"layout rewrite of {tensor.name}: tile {tiles[index[d]]} does not divide "
                             f"dimension {d} ({tensor.shape[d]})")
    shape = [tensor.shape[d] // tiles[index[d]] for d in blocked] + [tensor.shape[d] for d in rest] + \
            [tiles[index[d]] for d in blocked]
    nb = len(blocked)

    def fpack(*ix):
        src = [None] * len(dims)
        for n, d in enumerate(blocked):
            src[d] = ix[n] * tiles[index[d]] + ix[nb + len(rest) + n]
        for n, d in enumerate(rest):
            src[d] = ix[nb + n]
        return tensor[tuple(src)]
    packed = te.compute(shape, fpack, name=f"{tensor.name}_packed")

    new_index = tuple([index[d] // tiles[index[d]] for d in blocked] + [index[d] for d in rest] +
                      [index[d] % tiles[index[d]] for d in blocked])

    def swap(n):
        if type(n) is E.TensorRead and n.tensor is tensor:
            return E.TensorRead(packed, new_index)
        return None
    body = post_order(op.body, swap)
    return packed, make_tensor(ComputeOp(op.name, op.axis, op.reduce_axis, body, op.tag))


def schedule_packed(s, packed, parallel: bool):
    """The copy into the packed layout: outermost loop parallel, innermost vectorized when it walks
    the source's last (contiguous) dimension, else left to LLVM."""
    st = s[packed]
    axes = list(st.op.axis)
    if parallel and len(axes) > 1 and axes[0].extent > 1:
        st.parallel(axes[0])
    last = axes[-1]
    if not any(v is last.var for v in _vars(st.op.body.indices[-1])):
        return      # a gather across rows: vector lanes would not be contiguous
    if last.extent > 16 and last.extent % 16 == 0:
        st.vectorize(st.split(last, factor=16)[1])
    elif last.extent <= 64:
        st.vectorize(last)


def _vars(e) -> list:
    out = []
    walk(e, lambda n: out.append(n) if type(n) is E.Var else None)
    return out
