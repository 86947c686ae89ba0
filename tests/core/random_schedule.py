"""Random legal schedules for the differential fuzzer: primitives are drawn at random and those the
schedule rejects (ScheduleError) are skipped, so what remains is legal by the schedule's own rules;
a legal schedule must build and compute what numpy computes."""
from __future__ import annotations

import random

import workbench as wb

FACTORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16)    # most do not divide the extents


def random_schedule(out, rng: random.Random, max_steps: int = 8):
    """`out`: an output tensor or a list of them."""
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    s = wb.create_schedule(outs)
    for o in outs:          # split first sometimes, so producers attach inside a tiled (tail) loop
        if rng.random() < 0.4:
            try:
                s[o].split(rng.choice(s[o].leaf_iter_vars), factor=rng.choice(FACTORS[1:]))
            except wb.ScheduleError:
                pass
    stages = [st for st in s.stages if not st.is_placeholder]
    if rng.random() < 0.5:  # consumers first: a producer then attaches into an attached stage (chains)
        stages.reverse()
    # where each non-output stage is computed
    for st in stages:
        if st.is_output:
            continue
        choice = rng.random()
        try:
            if choice < 0.3:
                st.compute_inline()
            elif choice < 0.7:
                readers = s._effective_readers(st)
                if len(readers) == 1 and readers[0].leaf_iter_vars:
                    st.compute_at(readers[0], rng.choice(readers[0].leaf_iter_vars))
        except wb.ScheduleError:
            pass
    if rng.random() < 0.25:
        try:
            s.cache_write(rng.choice(outs), "local")
        except wb.ScheduleError:
            pass
    if rng.random() < 0.3:
        # copy one input into a local buffer for one reader, computed at the root or in its loops
        src = rng.choice([st for st in s.stages if st.is_placeholder])
        readers = [r for r in s.readers(src) if r.attach != "inline"]
        if readers:
            reader = rng.choice(readers)
            cache = s[s.cache_read(src.op.output(0), "local", [reader])]
            if rng.random() < 0.7 and reader.leaf_iter_vars:
                cache.compute_at(reader, rng.choice(reader.leaf_iter_vars))
    for st in s.stages:
        if st.attach != "root" and not st.is_output and rng.random() < 0.1:
            try:
                st.compute_root()
            except wb.ScheduleError:
                pass
    stages = [st for st in s.stages if not st.is_placeholder and st.attach != "inline"]
    for _ in range(rng.randint(0, max_steps)):
        st = rng.choice(stages)
        leaves = st.leaf_iter_vars
        if not leaves:
            continue
        prim = rng.choice(("split", "split", "split", "reorder", "fuse", "vectorize", "unroll",
                           "parallel", "pragma", "tile", "vector_inner", "vector_inner"))
        try:
            if prim == "vector_inner":
                # the common idiom: split a data axis and vectorize its inner part, innermost
                data = [iv for iv in leaves if iv.kind == "data" and iv.extent >= 2]
                if data:
                    outer, inner = st.split(rng.choice(data), factor=rng.choice((2, 4, 8, 16)))
                    order = [iv for iv in st.leaf_iter_vars if iv is not inner] + [inner]
                    st.reorder(*order)
                    st.vectorize(inner)
            if prim == "split":
                ax = rng.choice(leaves)
                if rng.random() < 0.8:
                    st.split(ax, factor=rng.choice(FACTORS))
                else:
                    st.split(ax, nparts=rng.choice(FACTORS))
            elif prim == "tile" and len(leaves) >= 2:
                a, b = rng.sample(leaves, 2)
                st.tile(a, b, rng.choice(FACTORS), rng.choice(FACTORS))
            elif prim == "reorder":
                order = list(leaves)
                rng.shuffle(order)
                st.reorder(*order)
            elif prim == "fuse" and len(leaves) >= 2:
                p = rng.randrange(len(leaves) - 1)
                st.fuse(leaves[p], leaves[p + 1])
            elif prim == "vectorize":
                ax = leaves[-1] if rng.random() < 0.8 else rng.choice(leaves)
                # a non-output stage's vector length is checked at lowering, after bound inference
                # (it may shrink under compute_at): only ask for lengths that are legal anyway
                if ax.extent <= 256:
                    st.vectorize(ax)
            elif prim == "unroll":
                st.unroll(rng.choice(leaves))
            elif prim == "parallel":
                st.parallel(leaves[0] if rng.random() < 0.8 else rng.choice(leaves))
            elif prim == "pragma":
                st.pragma(rng.choice(leaves), "auto_unroll_max_step", rng.choice((4, 16, 64)))
        except wb.ScheduleError:
            pass
    return s
