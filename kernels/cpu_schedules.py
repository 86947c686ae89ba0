"""Hand schedules for the CPU that reach near-peak speed; the baselines the tuner must beat and
the worked examples in notebooks/00_core_tour.ipynb.

Both follow the classic recipe (Goto's GEMM, TVM's x86 schedules): pack one operand so the
innermost loads are contiguous, keep a register block of accumulators in a `local` write cache
(unrolled rows x vectorized columns, so LLVM holds it in zmm registers), reduce innermost of the
tile loops, and run independent output panels in parallel.
"""
from __future__ import annotations

import workbench as wb
from workbench import te

from ._common import pair


def matmul_blocked(M: int, N: int, K: int, dtype: str = "float32", rows: int = 4, panel: int = 64,
                   vector: int = 16):
    """C = A @ B with B packed into `panel`-wide column panels and a rows x panel register block.

    Returns (schedule, [A, B, C])."""
    if N % panel or panel % vector:
        raise ValueError(f"matmul_blocked: N={N} must be a multiple of panel={panel}, and panel of "
                         f"vector={vector}")
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    k = te.reduce_axis((0, K), name="k")
    packed = te.compute((N // panel, K, panel), lambda x, y, z: B[y, x * panel + z], name="packedB")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * packed[j // panel, k, j % panel], axis=k),
                   name="C")
    s = wb.create_schedule(C)
    CL = s.cache_write(C, "local")
    i, j = C.op.axis
    jo, ji = s[C].split(j, factor=panel)
    io, ii = s[C].split(i, factor=rows)
    s[C].reorder(jo, io, ii, ji)
    s[C].vectorize(ji)
    s[C].parallel(jo)                       # panels are independent: one per thread at a time
    s[CL].compute_at(s[C], io)
    ic, jc = s[CL].op.axis
    (kc,) = s[CL].op.reduce_axis
    jco, jci = s[CL].split(jc, factor=vector)
    s[CL].reorder(kc, ic, jco, jci)         # k outermost in the block: rows x panel/vector FMAs per k
    s[CL].unroll(ic)
    s[CL].unroll(jco)
    s[CL].vectorize(jci)
    x, _, z = s[packed].op.axis
    s[packed].vectorize(z)
    s[packed].parallel(x)
    return s, [A, B, C]


def conv2d_nchw_blocked(batch: int, in_channel: int, height: int, width: int, out_channel: int,
                        kernel_size, stride=1, padding=0, dtype: str = "float32", oc_block: int = 16,
                        ow_block: int | None = None):
    """NCHW conv2d with the kernel packed as (OC/16, IC, KH, KW, 16) and a register block of
    ow_block output columns x 16 output channels.

    Returns (schedule, [data, kernel, out])."""
    KH, KW = pair(kernel_size, "conv2d: kernel_size")
    sh, sw = pair(stride, "conv2d: stride")
    ph, pw = pair(padding, "conv2d: padding")
    if out_channel % oc_block:
        raise ValueError(f"conv2d_nchw_blocked: out_channel={out_channel} must be a multiple of "
                         f"oc_block={oc_block}")
    OH = (height + 2 * ph - KH) // sh + 1
    OW = (width + 2 * pw - KW) // sw + 1
    if ow_block is None:   # the largest divisor of OW up to 14 keeps <= 14 accumulators + operands
        ow_block = max(d for d in range(1, 15) if OW % d == 0)
    data = te.placeholder((batch, in_channel, height, width), dtype, name="data")
    kernel = te.placeholder((out_channel, in_channel, KH, KW), dtype, name="kernel")
    pad = te.compute((batch, in_channel, height + 2 * ph, width + 2 * pw), lambda n, c, y, x:
                     te.if_then_else(te.all(y >= ph, y < height + ph, x >= pw, x < width + pw),
                                     data[n, c, y - ph, x - pw], te.const(0, dtype)), name="pad")
    packed = te.compute((out_channel // oc_block, in_channel, KH, KW, oc_block),
                        lambda o, c, h, w, v: kernel[o * oc_block + v, c, h, w], name="packed_kernel")
    rc = te.reduce_axis((0, in_channel), name="rc")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    # computed in a blocked layout (..., x, 16 channels) so the register block's channel lanes are
    # contiguous, then copied to NCHW (the layout change TVM's NCHWc schedules make)
    blocked = te.compute((batch, out_channel // oc_block, OH, OW, oc_block), lambda n, fo, y, x, fi: te.sum(
        pad[n, rc, y * sh + ry, x * sw + rx] * packed[fo, rc, ry, rx, fi], axis=[rc, ry, rx]),
        name="conv2d_blocked")
    out = te.compute((batch, out_channel, OH, OW),
                     lambda n, f, y, x: blocked[n, f // oc_block, y, x, f % oc_block], name="conv2d")
    s = wb.create_schedule(out)
    n, f, y, x = out.op.axis
    fo, fi = s[out].split(f, factor=oc_block)
    xo, xi = s[out].split(x, factor=ow_block)
    s[out].reorder(n, fo, y, xo, xi, fi)
    s[out].parallel(fo)
    s[blocked].compute_at(s[out], xo)
    _, _, _, xb, fb = s[blocked].op.axis
    rcb, ryb, rxb = s[blocked].op.reduce_axis
    s[blocked].reorder(rcb, ryb, rxb, xb, fb)   # one kernel vector feeds ow_block FMAs
    s[blocked].unroll(xb)
    s[blocked].vectorize(fb)
    pn, pc, _, _ = pad.op.axis
    s[pad].parallel(pc)
    s[packed].parallel(packed.op.axis[0])
    s[packed].vectorize(packed.op.axis[4])
    return s, [data, kernel, out]


def softmax_rows(rows: int, cols: int, dtype: str = "float32", vector: int = 16):
    """Softmax along the last axis of a rows x cols matrix: each of the four stages (max, exp, sum,
    normalize; see kernels/softmax.py) runs over the rows in parallel, the elementwise ones
    vectorized `vector` wide (exp is inline polynomial vector code), the reductions vectorized by
    LLVM (a float reduction update may be reassociated into partial results, as numpy's pairwise
    summation does).

    Returns (schedule, [data, out])."""
    from . import softmax
    (data,), out = softmax.make((rows, cols), dtype)
    s = wb.create_schedule(out)
    stages = {st.op.name: st for st in s.stages}
    for name in ("softmax_max", "softmax_exp", "softmax_sum", "softmax"):
        st = stages[name]
        st.parallel(st.op.axis[0])
        if name in ("softmax_exp", "softmax") and cols % vector == 0:
            _, inner = st.split(st.op.axis[1], factor=vector)
            st.vectorize(inner)
    return s, [data, out]


def matmul_tvm_tutorial(M: int, N: int, K: int, dtype: str = "float32", bn: int = 32, kfactor: int = 4):
    """TVM's "How to optimize GEMM on CPU" tutorial schedule, final (parallel) version, verbatim:
    B packed into bn-wide panels, C tiled bn x bn, a write cache computed at the tile's column
    loop with its reduction split by kfactor, reordered (ko, mc, ki, nc), nc vectorized, ki
    unrolled, the packing vectorized and parallel, the tile rows parallel.

    Returns (schedule, [A, B, C])."""
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    k = te.reduce_axis((0, K), name="k")
    packedB = te.compute((N // bn, K, bn), lambda bigN, kk, littleN: B[kk, bigN * bn + littleN], name="packedB")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * packedB[n // bn, k, n % bn], axis=k), name="C")
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "local")
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    s[CC].compute_at(s[C], no)
    mc, nc = s[CC].op.axis
    (kaxis,) = s[CC].op.reduce_axis
    ko, ki = s[CC].split(kaxis, factor=kfactor)
    s[CC].reorder(ko, mc, ki, nc)
    s[CC].vectorize(nc)
    s[CC].unroll(ki)
    x, y, z = s[packedB].op.axis
    s[packedB].vectorize(z)
    s[packedB].parallel(x)
    s[C].parallel(mo)
    return s, [A, B, C]
