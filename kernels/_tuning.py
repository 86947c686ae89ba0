"""Shared pieces of the CPU tuning templates (`cpu_template` in each operator module), and of
the generated spaces of workbench.tune, which reuse `tile_reduction`.

A template receives `cfg` (a tune ConfigSpace while the space is being defined, a ConfigEntity
when a config is built) and only calls its define_* methods and reads `cfg[name]`; kernels does
not import workbench.tune (layers go one way)."""
from __future__ import annotations

import numpy as np


def knob_name(ax) -> str:
    return "tile_" + ax.name.replace(".", "_")


def tile_orders(axes) -> list[str]:
    """Candidate orders of the outer (parallel, fused) spatial tiles, as comma-joined axis names:
    the stage's own order, then each other axis moved innermost. The innermost outer tile is the
    one stepped between consecutive register blocks, so it decides which operand's tile stays in
    cache: for C[i, j] += A[i, k] * B[k, j], "j,i" keeps one column panel of B in L2 while A
    streams by (Goto's GEMM order); "i,j" re-reads all of B for every row block."""
    names = [ax.name for ax in axes]
    orders = [names]
    for a in names[:-1][::-1]:
        orders.append([n for n in names if n != a] + [a])
    return [",".join(o) for o in orders]


def define_tiling(cfg, op, max_inner: int = 64, unroll_steps=(0, 16, 64, 512), orders: bool = False,
                  lanes: int | None = None, parallel_knob: bool = True, max_accumulators: int | None = None,
                  max_tile_bytes: int | None = None):
    """Define the knobs of `apply_tiling` for the reduction `op` (a te ComputeOp): tile_<axis>
    (spatial: [-1, middle, inner]; reduction: [-1, inner]), unroll_inner, parallel (without
    `parallel_knob` the outer tiles are always parallel), auto_unroll_max_step and, with `orders`
    and more than one spatial axis, tile_order.

    `lanes` (the target's vector lanes of the output dtype): the vectorized inner tile is a whole
    number of vectors whenever the axis allows it (a partial vector wastes lanes on every FMA).
    `max_accumulators` (with `lanes`): the register block (the inner tiles: one vector accumulator
    per inner row of vectors) holds at most this many vectors; a bigger block does not fit the
    register file, spills on every step of the reduction and runs at half speed or worse (measured
    on AVX-512: an 8 x 64 float block, 32 zmm accumulators, 60-78 GFLOP/s against 180-190 for
    8 x 32 and 4 x 64).
    `max_tile_bytes`: the outer tile (middle x inner of every spatial axis) is the write cache
    `apply_tiling` accumulates into over the whole reduction; at most this many bytes of it (the
    generated spaces give half the L1 data cache, the rest for the operand panels)."""
    spatial, reduce = list(op.axis), list(op.reduce_axis)
    for n, ax in enumerate(spatial):
        whole = None
        if lanes and n == len(spatial) - 1 and ax.extent % lanes == 0:
            def whole(e, lanes=lanes):
                return e.size[2] % lanes == 0
        cfg.define_split(knob_name(ax), ax, num_outputs=3, max_factor=max_inner, filter=whole)
    for ax in reduce:
        cfg.define_split(knob_name(ax), ax, num_outputs=2, max_factor=max_inner)
    names = [knob_name(ax) for ax in spatial]
    if max_accumulators and lanes:
        def fits(c):
            n = -(-c[names[-1]].size[2] // lanes)
            for name in names[:-1]:
                n *= c[name].size[2]
            return n <= max_accumulators
        cfg.multi_filter(fits)
    if max_tile_bytes:
        itemsize = np.dtype(op.output(0).dtype).itemsize

        def cached(c):
            n = itemsize
            for name in names:
                n *= c[name].size[1] * c[name].size[2]
            return n <= max_tile_bytes
        cfg.multi_filter(cached)
    cfg.define_knob("unroll_inner", [1, 0])
    if parallel_knob:
        cfg.define_knob("parallel", [1, 0])
    cfg.define_knob("auto_unroll_max_step", list(unroll_steps))
    if orders and len(spatial) > 1:
        cfg.define_knob("tile_order", tile_orders(spatial))


def has_knob(cfg, name: str) -> bool:
    """Does the space (`cfg` is a ConfigSpace while defining, a ConfigEntity when building) have
    knob `name`?"""
    return name in getattr(cfg, "space", cfg).knobs


def outer_tile(cfg, ax) -> int:
    """The extent of one outer tile of spatial axis `ax` (middle x inner) in config `cfg`."""
    _, mid, inner = cfg[knob_name(ax)].size
    return mid * inner


def apply_tiling(cfg, s, tensor):
    """Register-blocked multi-level tiling of the reduction computing `tensor` (a stage not yet
    split), with the knobs `define_tiling` defined.

    The stage becomes: fused parallel outer spatial tiles (in the order of knob tile_order, if
    defined) -> (cache block, computed there: reduction outer -> middle spatial -> reduction
    inner -> inner spatial, innermost vectorized, other inner tiles unrolled) -> a vectorized
    copy-out."""
    main = s[tensor]
    spatial = list(main.op.axis)
    CL = s.cache_write(tensor, "local")
    outs, ins = [], []
    for ax in spatial:
        o, i = main.split(ax, factor=outer_tile(cfg, ax))
        outs.append(o)
        ins.append(i)
    if has_knob(cfg, "tile_order"):
        by_name = {ax.name: o for ax, o in zip(spatial, outs)}
        outs = [by_name[n] for n in cfg["tile_order"].val.split(",")]
    main.reorder(*outs, *ins)
    fused = main.fuse(*outs) if len(outs) > 1 else outs[0]
    if not has_knob(cfg, "parallel") or cfg["parallel"].val:
        main.parallel(fused)
    main.vectorize(ins[-1])
    s[CL].compute_at(main, fused)
    block = s[CL]
    mids, inners, routs, rins = [], [], [], []
    for ax in block.op.axis:
        m, i = block.split(ax, factor=cfg[knob_name(ax)].size[2])
        mids.append(m)
        inners.append(i)
    for ax in block.op.reduce_axis:
        ro, ri = cfg[knob_name(ax)].apply(s, CL, ax)
        routs.append(ro)
        rins.append(ri)
    block.reorder(*routs, *mids, *rins, *inners)
    if cfg["unroll_inner"].val:
        for ax in inners[:-1]:
            block.unroll(ax)
    block.vectorize(inners[-1])
    step = cfg["auto_unroll_max_step"].val
    if step:
        block.pragma(routs[0] if routs else mids[0], "auto_unroll_max_step", step)
    return CL


def tile_reduction(cfg, s, tensor, max_inner: int = 64, unroll_steps=(0, 16, 64, 512)):
    """`define_tiling` then `apply_tiling` (the templates' one call): knobs tile_<axis>,
    unroll_inner, parallel, auto_unroll_max_step."""
    define_tiling(cfg, tensor.op, max_inner, unroll_steps)
    return apply_tiling(cfg, s, tensor)


def inline_elementwise(s, keep=()):
    """compute_inline every elementwise (no reduction), non-output producer (padding, dilation,
    casts) not in `keep`."""
    for st in list(s.stages):
        if st.is_placeholder or st.is_output or st.attach != "root" or st.name in keep:
            continue
        if not getattr(st.op, "reduce_axis", ()):
            st.compute_inline()
