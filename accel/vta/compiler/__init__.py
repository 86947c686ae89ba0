"""The VTA compiler: a schedule with SRAM scopes, DMA/ALU pragmas, a tensorized GEMM and virtual
threads, lowered to a VTA Program.

    from accel import vta
    env = vta.Env.default()
    ...                                         # te compute + schedule, as in TVM's VTA tutorials
    print(vta.lower(s, [A, W, C], env))         # the VTA IR: DMA / GEMM / ALU intrinsic calls
    prog = vta.build(s, [A, W, C], env)         # a Program: instructions + DRAM image
    print(prog.lowered)                         # the VTA IR with the tokens each call pops/pushes
    print(prog.disasm())                        # the instruction stream, tokens included
    res = vta.Simulator(env).run(prog, {"A": a, "W": w})

Pipeline (each step names itself in its errors):
1. the core lowering (bound inference, compute_at, loop nests, simplify) up to the
   ``before_flatten`` phase, where
2. ``vta_inject`` recognises DMA copies, the GEMM, its reset and ALU ops; the rest are host loops;
3. ``allocate``: static SRAM addresses, one copy per virtual thread, capacity checks;
4. ``codegen``: run the host loops, interleave virtual threads, record one op per intrinsic;
5. ``sync``: dependency tokens between the load, compute and store queues;
6. ``emit``: the ops through VTA's JIT runtime (micro-kernel cache, NOPs, FINISH).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from workbench.ir import stmt as S

from ..errors import CompileError
from ..runtime import Runtime
from . import codegen, inject as _inject, sync
from .intrin import gemm_intrin, register_scopes

__all__ = ["build", "lower", "gemm_intrin", "register_scopes"]

register_scopes()


def _lower_vta(s, args, env, name):
    """The core lowering with VTA's ``vta_inject`` pass at the ``before_flatten`` phase (accesses
    still multi-dimensional), stopped after it; returns (PrimFunc, inject context).

    Run-time bounds checks are off: VTA's runtime checks every DMA against its DRAM buffer."""
    import workbench as wb
    from workbench.lower import PassContext, Pipeline
    holder = {}

    def vta_inject(func, ctx=None):
        c = _inject._Ctx(s, func, env)
        holder["ctx"] = c
        return dataclasses.replace(func, body=_inject._rewrite(func.body, c))

    pipeline = Pipeline.default().with_passes("before_flatten", [("vta_inject", vta_inject)])
    func = wb.lower(s, args, name, stop_after="vta_inject", pipeline=pipeline,
                    ctx=PassContext(target=env, bounds_checks=False))
    return func, holder["ctx"]


def lower(s, args, env=None, name: str = "main") -> S.PrimFunc:
    """The VTA IR of schedule ``s``: host loops around DMA, GEMM and ALU intrinsic statements."""
    from ..env import Env
    env = env if env is not None else Env.default()
    return _lower_vta(s, args, env, name)[0]


def build(s, args, env=None, name: str = "main", *, double_buffer: bool = False):
    """Compile schedule ``s`` with arguments ``args`` (te tensors, inputs then output) for VTA.

    Returns a ``Program`` whose DRAM buffers are named after the arguments; pass inputs to
    ``Simulator(env).run(prog, {"A": a, ...})`` in the arguments' (packed) shapes.
    ``double_buffer=True`` gives every inp/wgt buffer allocated inside a loop two alternating
    copies (TVM's ``s[B].double_buffer()`` on all load stages): loads of the next reduction
    chunk overlap the current GEMM, at twice the SRAM."""
    from ..env import Env
    env = env if env is not None else Env.default()
    func, ctx = _lower_vta(s, args, env, name)
    body = func.body

    def elems(buf):
        return int(np.prod(buf.shape[:-2], dtype=np.int64))
    host = codegen.HostProgram(body, env, ctx.params, ctx.aliases, elems, double_buffer)
    ops = host.run()
    if not ops:
        raise CompileError("codegen", None, "the schedule produced no VTA operation")
    sync.place(ops, env)
    rt = Runtime(env)
    dram = {b.name: rt.alloc(b.shape, b.dtype, b.name) for b in func.params}
    calls = codegen.emit(ops, rt, dram)
    prog = rt.flush()
    synced = codegen.annotate_tokens(body, ops)
    lowered = dataclasses.replace(func, body=synced, history=func.history + (("vta_sync", synced),))
    return dataclasses.replace(prog, lowered=lowered, calls=tuple(calls))
