"""What the VTA templates of conv2d and dense share: the requantizing epilogue (>> shift, clip to
int8) as separate ALU stages, its schedule, and its numpy reference.

`env` is any object with VTA's names (accel.vta.Env): kernels sit below accel in the layer order,
so they take the hardware description as an argument instead of importing it.
"""
from __future__ import annotations

import numpy as np

from workbench import te


def epilogue(env, acc: te.Tensor, shift: int, clip: tuple):
    """acc (int32) -> >> shift -> max(lo) -> min(hi) -> int8, one elementwise stage each, as in
    TVM's VTA tutorials (each becomes one ALU instruction); returns (stages, res)."""
    shape = acc.shape
    shr = te.compute(shape, lambda *i: acc(*i) >> shift, name=f"{acc.name}_shr")
    mx = te.compute(shape, lambda *i: te.max(shr(*i), clip[0]), name=f"{acc.name}_max")
    mn = te.compute(shape, lambda *i: te.min(mx(*i), clip[1]), name=f"{acc.name}_min")
    res = te.compute(shape, lambda *i: mn(*i).astype(env.out_dtype), name="res")
    return [shr, mx, mn], res


def schedule_epilogue(s, env, stages, output, store_pt) -> None:
    """Each epilogue stage in the accumulator SRAM, an ALU kernel at the output tile's loop."""
    for t in stages:
        s[t].set_scope(env.acc_scope)
        s[t].pragma(s[t].op.axis[0], env.alu)
        s[t].compute_at(s[output], store_pt)


def bind_cthread(s, output, axis, nthread: int, outermost) -> None:
    """Split `axis` by `nthread` virtual threads and move the thread axis outermost."""
    if nthread > 1:
        _, v_t = s[output].split(axis, factor=nthread)
        s[output].reorder(v_t, outermost)
        s[output].bind(v_t, te.thread_axis("cthread"))


def requantize(acc: np.ndarray, shift: int, clip: tuple) -> np.ndarray:
    """int32 accumulator -> (acc >> shift) clipped to clip -> int8 (VTA's SHR, MAX, MIN, store)."""
    acc = acc.astype(np.int32)
    out = np.right_shift(acc, shift) if shift >= 0 else np.left_shift(acc, -shift)
    return np.clip(out, clip[0], clip[1]).astype(np.int8)


def check_blocks(name, env, **dims) -> None:
    for what, (n, block) in dims.items():
        if n % block:
            raise ValueError(f"{name} vta_template: {what}={n} is not a multiple of the VTA block "
                             f"{block}")
