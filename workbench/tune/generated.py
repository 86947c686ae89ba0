"""Spaces generated from a compute, no hand template (what AutoTVM lacks; Ansor-like rules).

`GeneratedTemplate(outputs)` is a template `(cfg) -> (schedule, tensors)` that, for the output
stage of a reduction,
  - inlines every elementwise producer (padding, casts, packing-free element maps);
  - writes through a register-level `local` cache computed at the outer tile;
  - tiles each spatial axis 3 levels (outer, middle, inner: define_split "tile_<axis>",
    num_outputs=3) and each reduction axis 2 levels ("tile_<raxis>"), as outer spatial tiles ->
    reduction outer -> middle spatial -> reduction inner -> inner spatial;
  - vectorizes the innermost spatial tile and unrolls the other inner ones (knob "unroll_inner");
  - makes the vectorized inner tile a whole number of the target's vectors when the axis allows,
    and keeps the register block (inner tiles) within the vector register file, 4 registers left
    for operands (a block that spills runs at half speed or worse), and the write cache (one outer
    tile, accumulated over the whole reduction) within half the L1 data cache;
  - fuses the outer spatial tiles and runs them in parallel (always: no knob), in the order of
    knob "tile_order" (which outer tile steps innermost, i.e. which operand tile stays in cache);
  - sets an auto-unroll pragma on the cache block ("auto_unroll_max_step" in {0, 16, 64, 512});
  - for each input the reduction reads row-strided (B[k, j]: each k step jumps a row), knob
    "pack_<input>" copies it first into the blocked layout the tiling reads (layout_rewrite.py,
    Ansor's layout rewrite; TVM's packed B of dense_pack), made only with a single output.
An elementwise output gets a 2-level tiling, parallel fused outer loops and a vectorized inner.

With `base_trace` (Task.from_schedule) the user's primitives are replayed first, and only what
they left open is searched: stages they did not touch get the rules above; a touched stage keeps
its loops and gets knobs for what is missing (vectorize its innermost leaf, parallel its outermost,
the auto-unroll pragma).
"""
from __future__ import annotations

import hashlib

import numpy as np

import workbench as wb
from kernels._tuning import apply_tiling, define_tiling, inline_elementwise, knob_name, outer_tile
from workbench.te.tensor import PlaceholderOp

from . import layout_rewrite
from .space import InstantiationError

# Part of the task name: a log of an older generated space must not be read as this one's configs.
SPACE_VERSION = 3


def _inputs_of(outputs) -> list:
    seen, out = set(), []

    def visit(t):
        if id(t.op) in seen:
            return
        seen.add(id(t.op))
        if isinstance(t.op, PlaceholderOp):
            out.append(t)
            return
        for x in t.op.input_tensors:
            visit(x)
    for t in outputs:
        visit(t)
    return out


class GeneratedTemplate:
    UNROLL_STEPS = (0, 16, 64, 512)

    def __init__(self, tensors, base_trace=None, max_inner: int = 64, vector_bits: int | None = None,
                 vector_registers: int | None = None):
        tensors = list(tensors)
        self.outputs = [t for t in tensors if not isinstance(t.op, PlaceholderOp)]
        if not self.outputs:
            raise ValueError("Task.from_compute: give at least one computed output tensor")
        if base_trace is None:
            self.args = _inputs_of(self.outputs) + self.outputs
        else:
            self.args = tensors
            self.outputs = [t for t in tensors if not isinstance(t.op, PlaceholderOp)]
        self.base_trace = base_trace
        self.max_inner = max_inner
        host = wb.Target.host()
        # the vectorized tile is a whole number of the target's vectors (default: this host's)
        self.vector_bits = vector_bits or host.vector_bits
        # the register block leaves 4 vector registers for the operands (a broadcast, loads)
        self.max_accumulators = (vector_registers or host.vector_registers) - 4
        # the write cache (one outer tile) stays in half the L1 data cache
        self.max_tile_bytes = int(host.cache_bytes[0]) // 2
        default = str(wb.lower(wb.create_schedule(self.outputs), self.args))
        trace = base_trace.to_json() if base_trace is not None else ""
        digest = hashlib.sha1(f"{SPACE_VERSION}:{self.vector_bits}:{self.max_accumulators}:{self.max_tile_bytes}:{default}{trace}"
                              .encode()).hexdigest()[:12]
        kind = "from_schedule" if base_trace is not None else "from_compute"
        self.task_name = f"generated.{kind}:{'+'.join(t.name for t in self.outputs)}:{digest}"

    def reference_tensors(self):
        return list(self.args)

    def __call__(self, cfg):
        if self.base_trace is None and self.outputs[-1].op.reduce_axis:
            return self._generate_reduction(cfg)
        s = wb.create_schedule(self.outputs)
        touched = set()
        if self.base_trace is not None:
            self.base_trace.replay(s)
            for step in self.base_trace:
                touched.add(step.stage)
                touched.update(a for a in step.args if isinstance(a, str))
                touched.update(step.outputs)
        main = s[self.outputs[-1]]
        inline_elementwise(s, keep=touched)
        if main.name in touched:
            self._open_knobs(cfg, s, main)
        elif main.op.reduce_axis:
            self._tile_reduction(cfg, s, main)
        else:
            self._tile_elementwise(cfg, s, main)
        return s, list(self.args)

    # -- rules --------------------------------------------------------------------------------------
    def _generate_reduction(self, cfg):
        """Multi-level tiling with a tile_order knob, and a pack_<input> knob per input whose layout
        can follow the tiling (layout_rewrite); with more than one output the outputs stay as
        given (another output may read this one) and no input is packed."""
        out = self.outputs[-1]
        lanes = max(1, self.vector_bits // (8 * np.dtype(out.dtype).itemsize))
        define_tiling(cfg, out.op, self.max_inner, self.UNROLL_STEPS, orders=True, lanes=lanes,
                      parallel_knob=False, max_accumulators=self.max_accumulators,
                      max_tile_bytes=self.max_tile_bytes)
        packable = layout_rewrite.packable_inputs(out.op) if len(self.outputs) == 1 else []
        names = [t.name for t in packable]
        knobs = [f"pack_{n}" if names.count(n) == 1 else f"pack_{n}_{i}" for i, n in enumerate(names)]
        for knob in knobs:
            cfg.define_knob(knob, [0, 1])
        tiles = {ax.var: outer_tile(cfg, ax) for ax in out.op.axis}
        packed = []
        for t, knob in zip(packable, knobs):
            if cfg[knob].val:
                p, out = layout_rewrite.rewrite(out, t, tiles)
                packed.append(p)
        s = wb.create_schedule(self.outputs[:-1] + [out])
        inline_elementwise(s, keep={p.name for p in packed})
        for p in packed:
            layout_rewrite.schedule_packed(s, p, parallel=True)
        apply_tiling(cfg, s, out)
        return s, self.args[:-1] + [out]

    def _tile_reduction(self, cfg, s, main):
        define_tiling(cfg, main.op, self.max_inner, self.UNROLL_STEPS)
        apply_tiling(cfg, s, main.op.output(0))

    def _tile_elementwise(self, cfg, s, main):
        spatial = list(main.op.axis)
        for ax in spatial:
            cfg.define_split(knob_name(ax), ax, num_outputs=2, max_factor=self.max_inner)
        cfg.define_knob("parallel", [1, 0])
        outs, ins = [], []
        for ax in spatial:
            o, i = cfg[knob_name(ax)].apply(s, main, ax)
            outs.append(o)
            ins.append(i)
        main.reorder(*outs, *ins)
        fused = main.fuse(*outs) if len(outs) > 1 else outs[0]
        if cfg["parallel"].val:
            main.parallel(fused)
        main.vectorize(ins[-1])

    def _open_knobs(self, cfg, s, main):
        leaves = main.leaf_iter_vars
        if not leaves:
            raise InstantiationError(f"stage {main.name} has no loops left to tune")
        kinds = set(main.kinds.values())
        can_vec = "vectorized" not in kinds and leaves[-1].kind != "reduce"
        if can_vec:
            cfg.define_knob("vectorize_inner", [0, 1])
        if "parallel" not in kinds:
            cfg.define_knob("parallel_outer", [1, 0])
        cfg.define_knob("auto_unroll_max_step", list(self.UNROLL_STEPS))
        if can_vec and cfg["vectorize_inner"].val:
            main.vectorize(leaves[-1])
        if "parallel" not in kinds and cfg["parallel_outer"].val and len(leaves) > 1 \
                and main.kinds.get(leaves[0]) is None and not leaves[0].kind == "reduce":
            main.parallel(leaves[0])
        step = cfg["auto_unroll_max_step"].val
        if step:
            main.pragma(leaves[0], "auto_unroll_max_step", step)
