"""conv2d with padding, stride and dilation, in NCHW (kernel OIHW) or NHWC (kernel HWIO) layout.

out[n, f, y, x] = sum_{c, r, s} pad[n, c, y*sh + r*dh, x*sw + s*dw] * kernel[f, c, r, s]

Stages: "data", "kernel", "pad" (only when padding is non-zero; a `te.if_then_else` compute that
schedules can inline or compute_at, as in TVM topi) and the reduction "conv2d".
`padding` is an int, (ph, pw) or (top, left, bottom, right); `stride`/`dilation` an int or pair.
"""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import (acc_dtype, check_channels, np_windows_padded, out_dtype_of, pair,
                      sliding_setup, window_geometry)

LAYOUTS = ("NCHW", "NHWC")


def _check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"conv2d: layout must be one of {LAYOUTS}, got {layout!r}")
    return layout


def _conv2d(data, kernel, stride, padding, dilation, out_dtype, layout):
    nchw = layout == "NCHW"
    if nchw:
        (N, C, _, _), (F, C2, KH, KW) = data.shape, kernel.shape
    else:
        (N, _, _, C), (KH, KW, C2, F) = data.shape, kernel.shape
    check_channels("conv2d", C, C2, kernel.shape)
    (sh, sw), (dh, dw), (OH, OW), p = sliding_setup("conv2d", data, (2, 3) if nchw else (1, 2),
                                                    (KH, KW), stride, padding, dilation)
    out_dtype = out_dtype_of(data.dtype, out_dtype)
    rc = te.reduce_axis((0, C), name="rc")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")

    def mac(data_idx, kernel_idx):
        return p[data_idx].astype(out_dtype) * kernel[kernel_idx].astype(out_dtype)

    if nchw:
        return te.compute((N, F, OH, OW), lambda n, f, y, x: te.sum(
            mac((n, rc, y * sh + ry * dh, x * sw + rx * dw), (f, rc, ry, rx)), axis=[rc, ry, rx]),
            name="conv2d")
    return te.compute((N, OH, OW, F), lambda n, y, x, f: te.sum(
        mac((n, y * sh + ry * dh, x * sw + rx * dw, rc), (ry, rx, rc, f)), axis=[ry, rx, rc]),
        name="conv2d")


def conv2d_nchw(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
                out_dtype: str | None = None) -> te.Tensor:
    """data (N, C, H, W), kernel (F, C, KH, KW) -> (N, F, OH, OW)."""
    return _conv2d(data, kernel, stride, padding, dilation, out_dtype, "NCHW")


def conv2d_nhwc(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
                out_dtype: str | None = None) -> te.Tensor:
    """data (N, H, W, C), kernel (KH, KW, C, F) -> (N, OH, OW, F)."""
    return _conv2d(data, kernel, stride, padding, dilation, out_dtype, "NHWC")


def compute(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
            layout: str = "NCHW", out_dtype: str | None = None) -> te.Tensor:
    return _conv2d(data, kernel, stride, padding, dilation, out_dtype, _check_layout(layout))


def shapes(batch, in_channel, height, width, out_channel, kernel_size, layout="NCHW"):
    """(data shape, kernel shape) for the layout."""
    KH, KW = pair(kernel_size, "conv2d: kernel_size")
    if _check_layout(layout) == "NCHW":
        return (batch, in_channel, height, width), (out_channel, in_channel, KH, KW)
    return (batch, height, width, in_channel), (KH, KW, in_channel, out_channel)


def make(batch: int, in_channel: int, height: int, width: int, out_channel: int, kernel_size,
         stride=1, padding=0, dilation=1, layout: str = "NCHW", dtype: str = "float32",
         out_dtype: str | None = None):
    """Returns ([data, kernel], out)."""
    dshape, kshape = shapes(batch, in_channel, height, width, out_channel, kernel_size, layout)
    data = te.placeholder(dshape, dtype, name="data")
    kernel = te.placeholder(kshape, dtype, name="kernel")
    return [data, kernel], compute(data, kernel, stride, padding, dilation, layout, out_dtype)


def _windows(data, kernel, stride, padding, dilation, layout):
    """Sliding windows (N, C, OH, OW, KH, KW) for NCHW or (N, OH, OW, C, KH, KW) for NHWC."""
    if _check_layout(layout) == "NCHW":
        axes, (KH, KW) = (2, 3), kernel.shape[2:]
        hw = data.shape[2:]
    else:
        axes, (KH, KW) = (1, 2), kernel.shape[:2]
        hw = data.shape[1:3]
    s, d, pads, _ = window_geometry(hw, (KH, KW), stride, padding, dilation, "conv2d")
    return np_windows_padded(data, axes, (KH, KW), s, pads, d)


def reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, dilation=1,
              layout: str = "NCHW", out_dtype: str | None = None) -> np.ndarray:
    """Exact numpy conv2d: sliding windows + einsum, accumulated in float64 (int64 for ints)."""
    acc = acc_dtype(data.dtype, kernel.dtype)
    win = _windows(data, kernel, stride, padding, dilation, layout)
    spec = "nchwrs,ocrs->nohw" if layout == "NCHW" else "nhwcrs,rsco->nhwo"
    out = np.einsum(spec, win.astype(acc), kernel.astype(acc), optimize=True)
    return out.astype(out_dtype or data.dtype)


def reference_im2col(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, dilation=1,
                     layout: str = "NCHW") -> np.ndarray:
    """The fast numpy baseline: im2col (one gather copy) + a float32 sgemm. Not exact to the last
    bit (float32 accumulation in BLAS order); use `reference` for correctness checks."""
    data, kernel = data.astype(np.float32, copy=False), kernel.astype(np.float32, copy=False)
    win = _windows(data, kernel, stride, padding, dilation, layout)
    if layout == "NCHW":
        N, C, OH, OW, KH, KW = win.shape
        cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * KH * KW)
        out = cols @ kernel.reshape(kernel.shape[0], -1).T
        return np.ascontiguousarray(out.reshape(N, OH, OW, -1).transpose(0, 3, 1, 2))
    N, OH, OW, C, KH, KW = win.shape
    cols = win.reshape(N * OH * OW, C * KH * KW)
    out = cols @ kernel.transpose(2, 0, 1, 3).reshape(C * KH * KW, -1)
    return out.reshape(N, OH, OW, -1)


def output_shape(batch, in_channel, height, width, out_channel, kernel_size, stride=1, padding=0,
                 dilation=1, layout="NCHW", **_):
    _, _, _, (OH, OW) = window_geometry((height, width), pair(kernel_size, "kernel_size"), stride,
                                        padding, dilation, "conv2d")
    return (batch, out_channel, OH, OW) if layout == "NCHW" else (batch, OH, OW, out_channel)


def flops(batch, in_channel, height, width, out_channel, kernel_size, stride=1, padding=0,
          dilation=1, layout="NCHW", **_) -> int:
    """2 * N * F * OH * OW * C * KH * KW (multiply-adds count as two)."""
    KH, KW = pair(kernel_size, "kernel_size")
    out = output_shape(batch, in_channel, height, width, out_channel, kernel_size, stride, padding,
                       dilation, layout)
    return 2 * int(np.prod(out)) * in_channel * KH * KW


# fp32 lanes of a 512-bit vector: the accumulator count of a register block is counted in these
# (on narrower vectors the same block needs more registers, so the filter is then optimistic)
_LANES = 16
# where the input-channel loop of a reduction chunk goes among the kernel-window loops
_IC_ORDERS = {"ic_outer": ("c", "y", "x"), "ic_mid": ("y", "c", "x"), "ic_inner": ("y", "x", "c")}


def cpu_template(cfg, batch: int, in_channel: int, height: int, width: int, out_channel: int,
                 kernel_size, stride=1, padding=0, dtype: str = "float32"):
    """NCHW conv2d tuning template in TVM's x86 conv2d_NCHWc style: the kernel packed as
    (OC/oc_bn, IC, KH, KW, oc_bn), the output computed in a blocked (N, OC/oc_bn, OH, OW, oc_bn)
    layout by a register block of oh_bn rows x ow_bn columns x oc_bn channels, then copied to
    NCHW. Knobs:

    - tile_oc [-1, oc_bn]: the packed output-channel block (vectorized; 8..64, divides OC);
    - tile_oh [-1, oh_bn]: output rows per register block (unrolled; divides OH); 1: the block
      is part of one row (the output rows are not split);
    - tile_ow [-1, ow_bn]: output columns per register block (unrolled; divides OW, <= 32);
    - tile_ic [-1, ic_bn]: input channels per reduction chunk (ic_bn == IC: not split);
    - ic_order "ic_outer" | "ic_mid" | "ic_inner": the order of the chunk's input-channel loop
      and the kernel-window loops (ky, kx) inside the chunk loop: (c, ky, kx), (ky, c, kx) (TVM's
      x86 order) or (ky, kx, c) (c innermost: the packed kernel's consecutive vectors);
    - unroll_kh 0/1: unroll the kernel-height loop;
    - unroll_kw 0/1: unroll the kernel-width loop.

    A block holds oh_bn * ow_bn * ceil(oc_bn / 16) vector accumulators (16 fp32 lanes: AVX-512);
    configs with more than conv2d_nchwc.MAX_ACCUMULATORS (28, of 32 registers) would spill and
    are filtered out of the space.

    tile_oc=[-1, 16], tile_oh=[-1, 1], tile_ow=[-1, cpu_schedules' default ow_block],
    tile_ic=[-1, IC], ic_order="ic_outer", unroll_kh=0, unroll_kw=0 is exactly
    cpu_schedules.conv2d_nchw_blocked. The previous (smaller) space of this template is the
    subspace tile_oh=[-1, 1], unroll_kh=0, ic_order "ic_outer" when ic_bn == IC else "ic_inner".
    -> (s, [data, kernel, conv2d])."""
    import workbench as wb

    from .conv2d_nchwc import MAX_ACCUMULATORS

    KH, KW = pair(kernel_size, "conv2d: kernel_size")
    sh, sw = pair(stride, "conv2d: stride")
    ph, pw = pair(padding, "conv2d: padding")
    OH = (height + 2 * ph - KH) // sh + 1
    OW = (width + 2 * pw - KW) // sw + 1
    cfg.define_split("tile_oc", out_channel, num_outputs=2, max_factor=64,
                     filter=lambda e: e.size[1] >= min(8, out_channel))
    cfg.define_split("tile_ow", OW, num_outputs=2, max_factor=32)
    cfg.define_split("tile_ic", in_channel, num_outputs=2)
    cfg.define_knob("unroll_kw", [0, 1])
    cfg.define_split("tile_oh", OH, num_outputs=2, max_factor=MAX_ACCUMULATORS)
    cfg.define_knob("ic_order", list(_IC_ORDERS))
    cfg.define_knob("unroll_kh", [0, 1])
    cfg.multi_filter(lambda c: c["tile_oh"].size[1] * c["tile_ow"].size[1]
                     * -(-c["tile_oc"].size[1] // _LANES) <= MAX_ACCUMULATORS)
    cfg.add_flop(flops(batch, in_channel, height, width, out_channel, kernel_size, stride, padding))
    oc_bn, ow_bn, ic_bn = cfg["tile_oc"].size[1], cfg["tile_ow"].size[1], cfg["tile_ic"].size[1]
    oh_bn = cfg["tile_oh"].size[1]
    data = te.placeholder((batch, in_channel, height, width), dtype, name="data")
    kernel = te.placeholder((out_channel, in_channel, KH, KW), dtype, name="kernel")
    pad = te.compute((batch, in_channel, height + 2 * ph, width + 2 * pw), lambda n, c, y, x:
                     te.if_then_else(te.all(y >= ph, y < height + ph, x >= pw, x < width + pw),
                                     data[n, c, y - ph, x - pw], te.const(0, dtype)), name="pad")
    packed = te.compute((out_channel // oc_bn, in_channel, KH, KW, oc_bn),
                        lambda o, c, h, w, v: kernel[o * oc_bn + v, c, h, w], name="packed_kernel")
    rc = te.reduce_axis((0, in_channel), name="rc")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    blocked = te.compute((batch, out_channel // oc_bn, OH, OW, oc_bn), lambda n, fo, y, x, fi: te.sum(
        pad[n, rc, y * sh + ry, x * sw + rx] * packed[fo, rc, ry, rx, fi], axis=[rc, ry, rx]),
        name="conv2d_blocked")
    out = te.compute((batch, out_channel, OH, OW),
                     lambda n, f, y, x: blocked[n, f // oc_bn, y, x, f % oc_bn], name="conv2d")
    s = wb.create_schedule(out)
    n, f, y, x = out.op.axis
    fo, fi = s[out].split(f, factor=oc_bn)
    xo, xi = s[out].split(x, factor=ow_bn)
    if oh_bn > 1:
        yo, yi = s[out].split(y, factor=oh_bn)
        s[out].reorder(n, fo, yo, xo, yi, xi, fi)
    else:
        s[out].reorder(n, fo, y, xo, xi, fi)
    s[out].parallel(fo)
    s[blocked].compute_at(s[out], xo)
    _, _, yb, xb, fb = s[blocked].op.axis
    rcb, ryb, rxb = s[blocked].op.reduce_axis
    if ic_bn < in_channel:
        outer, rcb = s[blocked].split(rcb, factor=ic_bn)
        outer = [outer]
    else:
        outer = []
    loops = {"c": rcb, "y": ryb, "x": rxb}
    # one kernel vector feeds oh_bn x ow_bn FMAs
    s[blocked].reorder(*outer, *(loops[k] for k in _IC_ORDERS[cfg["ic_order"].val]), yb, xb, fb)
    if cfg["unroll_kh"].val:
        s[blocked].unroll(ryb)
    if cfg["unroll_kw"].val:
        s[blocked].unroll(rxb)
    if oh_bn > 1:
        s[blocked].unroll(yb)
    s[blocked].unroll(xb)
    s[blocked].vectorize(fb)
    _, pc, _, _ = pad.op.axis
    s[pad].parallel(pc)
    s[packed].parallel(packed.op.axis[0])
    s[packed].vectorize(packed.op.axis[4])
    return s, [data, kernel, out]


def _template_reference(inputs, batch, in_channel, height, width, out_channel, kernel_size, stride=1,
                        padding=0, dtype="float32"):
    return [reference(*inputs, stride=stride, padding=padding)]


cpu_template.reference = _template_reference


# ------------------------------------------------------------------------------------------------
# VTA (accel.vta): TVM's conv2d_packed template, int8 in, int32 accumulate, >> shift + clip out
def vta_compute(env, batch, in_channel, height, width, out_channel, kernel_size, stride=1,
                padding=0, shift=8, clip=(0, 127)):
    """Packed conv2d: data NCHW{B}n{BI}c (N/B, C/BI, H, W, B, BI), kernel OIHW{BO}o{BI}i,
    output (N/B, O/BO, OH, OW, B, BO).  Returns (data, kernel, {stage name: tensor}, res)."""
    from . import _vta
    B, BI, BO = env.BATCH, env.BLOCK_IN, env.BLOCK_OUT
    _vta.check_blocks("conv2d", env, batch=(batch, B), in_channel=(in_channel, BI),
                      out_channel=(out_channel, BO))
    (kh, kw), (sh, sw), (ph, pw) = (pair(kernel_size, "kernel_size"), pair(stride, "stride"),
                                    pair(padding, "padding"))
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    data = te.placeholder((batch // B, in_channel // BI, height, width, B, BI), env.inp_dtype,
                          name="data")
    kernel = te.placeholder((out_channel // BO, in_channel // BI, kh, kw, BO, BI), env.wgt_dtype,
                            name="kernel")
    if ph or pw:   # topi.nn.pad: the VTA load DMA inserts these zeros itself
        data_buf = te.compute((batch // B, in_channel // BI, height + 2 * ph, width + 2 * pw, B, BI),
                              lambda n, c, y, x, b, i: te.if_then_else(
                                  te.all(y >= ph, y < height + ph, x >= pw, x < width + pw),
                                  data[n, c, y - ph, x - pw, b, i], te.const(0, env.inp_dtype)),
                              name="data_buf")
    else:
        data_buf = te.compute(data.shape, lambda *i: data(*i), name="data_buf")
    kernel_buf = te.compute(kernel.shape, lambda *i: kernel(*i), name="kernel_buf")
    ic = te.reduce_axis((0, in_channel // BI), name="ic")
    dy = te.reduce_axis((0, kh), name="dy")
    dx = te.reduce_axis((0, kw), name="dx")
    ic_tns = te.reduce_axis((0, BI), name="ic_tns")
    acc = te.compute((batch // B, out_channel // BO, oh, ow, B, BO),
                     lambda bo, co, i, j, bi, ci: te.sum(
                         data_buf[bo, ic, i * sh + dy, j * sw + dx, bi, ic_tns].astype(env.acc_dtype)
                         * kernel_buf[co, ic, dy, dx, ci, ic_tns].astype(env.acc_dtype),
                         axis=[ic, dy, dx, ic_tns]), name="res_conv")
    ewise, res = _vta.epilogue(env, acc, shift, clip)
    stages = {"data_buf": data_buf, "kernel_buf": kernel_buf, "res_conv": acc, "ewise": ewise}
    return data, kernel, stages, res


def vta_schedule(env, batch, in_channel, height, width, out_channel, kernel_size, stride=1,
                 padding=0, *, tile_b=1, tile_h=1, tile_w=None, tile_ci=1, tile_co=1,
                 h_nthread=1, oc_nthread=1, shift=8, clip=(0, 127)):
    """The conv2d_packed schedule with explicit knobs (inner tile sizes in VTA blocks/rows);
    returns (schedule, [data, kernel, res]).  ``vta_template`` draws the knobs from a cfg."""
    import workbench as wb
    from . import _vta
    data, kernel, st, res = vta_compute(env, batch, in_channel, height, width, out_channel,
                                        kernel_size, stride, padding, shift, clip)
    conv, ewise = st["res_conv"], st["ewise"]
    s = wb.create_schedule(res)
    ow = res.shape[3]
    tile_w = ow if tile_w is None else tile_w
    x_b, x_co, x_i, x_j, x_bi, x_ci = s[res].op.axis
    x_b0, x_b1 = s[res].split(x_b, factor=tile_b)
    x_co0, x_co1 = s[res].split(x_co, factor=tile_co)
    x_i0, x_i1 = s[res].split(x_i, factor=tile_h)
    x_j0, x_j1 = s[res].split(x_j, factor=tile_w)
    s[res].reorder(x_b0, x_co0, x_i0, x_j0, x_b1, x_co1, x_i1, x_j1, x_bi, x_ci)
    store_pt = x_j0
    s[conv].compute_at(s[res], store_pt)
    _vta.schedule_epilogue(s, env, ewise, res, store_pt)
    _vta.bind_cthread(s, res, x_co0, oc_nthread, x_b0)
    _vta.bind_cthread(s, res, x_i0, h_nthread, x_b0)
    s[st["data_buf"]].set_scope(env.inp_scope)
    s[st["kernel_buf"]].set_scope(env.wgt_scope)
    s[conv].set_scope(env.acc_scope)
    b_inn, oc_inn, y_inn, x_inn, b_tns, oc_tns = s[conv].op.axis
    ic, dy, dx, ic_tns = s[conv].op.reduce_axis
    ic_out, ic_inn = s[conv].split(ic, factor=tile_ci)
    # output columns innermost of the unrolled micro-ops: consecutive uops write different
    # accumulators (VTA's two-deep hazard rule); (oc_inn, y_inn) become the uop loops
    s[conv].reorder(ic_out, b_inn, oc_inn, y_inn, ic_inn, dy, dx, x_inn, b_tns, oc_tns, ic_tns)
    for t in (st["data_buf"], st["kernel_buf"]):
        s[t].compute_at(s[conv], ic_out)
    # one padded 2-D DMA per input-channel block (the copy over channels, rows and columns is
    # 3-D); the weights of a tile are one 2-D DMA
    s[st["data_buf"]].pragma(s[st["data_buf"]].op.axis[2], env.dma_copy)
    s[st["kernel_buf"]].pragma(s[st["kernel_buf"]].op.axis[0], env.dma_copy)
    if hasattr(s[conv], "tensorize"):
        s[conv].tensorize(b_tns, env.gemm)
    # whole output rows are contiguous, so (channels, rows x columns) is one 2-D store
    s[res].pragma(x_co1 if tile_w == ow else x_i1, env.dma_copy)
    return s, [data, kernel, res]


def vta_template(cfg, batch, in_channel, height, width, out_channel, kernel_size, stride=1,
                 padding=0, env=None, shift=8, clip=(0, 127)):
    """AutoTVM template (TVM's conv2d_packed knobs): tile_b, tile_h, tile_w, tile_ci, tile_co
    (two-way splits in VTA blocks / output rows / columns), h_nthread and oc_nthread (1 or 2
    virtual threads).  ``env`` is the accel.vta.Env to compile for."""
    if env is None:
        raise ValueError("conv2d vta_template: pass env (an accel.vta.Env)")
    (kh, kw), (sh, sw), (ph, pw) = (pair(kernel_size, "kernel_size"), pair(stride, "stride"),
                                    pair(padding, "padding"))
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    cfg.define_split("tile_b", batch // env.BATCH, num_outputs=2)
    cfg.define_split("tile_h", oh, num_outputs=2)
    cfg.define_split("tile_w", ow, num_outputs=2)
    cfg.define_split("tile_ci", in_channel // env.BLOCK_IN, num_outputs=2)
    cfg.define_split("tile_co", out_channel // env.BLOCK_OUT, num_outputs=2)
    cfg.define_knob("oc_nthread", [1, 2])
    cfg.define_knob("h_nthread", [1, 2])
    return vta_schedule(env, batch, in_channel, height, width, out_channel, kernel_size, stride,
                        padding, tile_b=cfg["tile_b"].size[-1], tile_h=cfg["tile_h"].size[-1],
                        tile_w=cfg["tile_w"].size[-1], tile_ci=cfg["tile_ci"].size[-1],
                        tile_co=cfg["tile_co"].size[-1], h_nthread=cfg["h_nthread"].val,
                        oc_nthread=cfg["oc_nthread"].val, shift=shift, clip=clip)


def vta_reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, shift=8,
                  clip=(0, 127)) -> np.ndarray:
    """int8 NCHW data, OIHW kernel -> int32 accumulate (wrapping) -> >> shift, clip -> int8."""
    from ._vta import requantize
    acc = reference(data.astype(np.int64), kernel.astype(np.int64), stride, padding)
    return requantize(acc.astype(np.int64).astype(np.int32), shift, clip)
