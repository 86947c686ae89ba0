"""conv2d in the blocked NCHW[x]c layout (TVM's conv2d_NCHWc): the layout the graph level runs CPU
convolutions in, so one vector of `ob` output channels is contiguous in memory.

data   (N, C/ib, H, W, ib)   or plain NCHW (N, C, H, W) when in_block == 0
kernel (F/ob, C/ib, KH, KW, ib, ob) with blocked data, (F/ob, C, KH, KW, ob) with NCHW data
       (TVM's OIHW[ib]i[ob]o, packed once at compile time by `pack_kernel`: the reduction's
       innermost input-channel loop then walks the weights contiguously, which is what keeps
       the weight stream of a late layer -- megabytes, read once per run -- prefetchable)
out    (N, F/ob, OH, OW, ob)
out[n, fo, y, x, fi] = sum_{c, r, s} pad[n, c, y*sh + r*dh, x*sw + s*dw] * kernel[fo, c, r, s, fi]

Stages: "data", "kernel", "pad" (when padding is non-zero), the reduction "conv2d_nchwc"; its
reduction axes are (rco, rci, ry, rx) with c = rco * ib + rci, so no stage divides indices.
"""
from __future__ import annotations

import numpy as np

from workbench import te

from . import conv2d
from ._common import pad as pad_stage
from ._common import pad_tuple, window_geometry


def compute(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
            in_block: int = 0, name: str = "conv2d_nchwc") -> te.Tensor:
    if len(kernel.shape) == 6:
        FO, CI, KH, KW, kib, ob = kernel.shape
        C = CI * kib
    else:
        FO, C, KH, KW, ob = kernel.shape
        kib = 0
    if in_block:
        N, CO, H, W, ib = data.shape
        if ib != in_block or CO * ib != C or kib not in (0, ib):
            raise ValueError(f"conv2d_nchwc: data {data.shape} does not match in_block={in_block} "
                             f"and kernel {kernel.shape}")
    else:
        N, C2, H, W = data.shape
        if C2 != C or kib:
            raise ValueError(f"conv2d_nchwc: data {data.shape} has {C2} channels, kernel "
                             f"{kernel.shape} expects {C} in NCHW")
        ib = 1
    (sh, sw), (dh, dw), pads, (OH, OW) = window_geometry((H, W), (KH, KW), stride, padding,
                                                         dilation, "conv2d_nchwc")
    zeros = (0,) * (5 if in_block else 4)
    before, after = list(zeros), list(zeros)
    before[2], before[3], after[2], after[3] = pads[0], pads[1], pads[2], pads[3]
    p = pad_stage(data, before, after, name="pad")
    rco = te.reduce_axis((0, C // ib), name="rco")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    if in_block:
        rci = te.reduce_axis((0, ib), name="rci")
        if kib:
            def w(fo, fi):
                return kernel[fo, rco, ry, rx, rci, fi]
        else:
            def w(fo, fi):
                return kernel[fo, rco * ib + rci, ry, rx, fi]
        return te.compute((N, FO, OH, OW, ob), lambda n, fo, y, x, fi: te.sum(
            p[n, rco, y * sh + ry * dh, x * sw + rx * dw, rci] * w(fo, fi),
            axis=[rco, rci, ry, rx]), name=name)
    return te.compute((N, FO, OH, OW, ob), lambda n, fo, y, x, fi: te.sum(
        p[n, rco, y * sh + ry * dh, x * sw + rx * dw] * kernel[fo, rco, ry, rx, fi],
        axis=[rco, ry, rx]), name=name)


def pack_kernel(w: np.ndarray, block: int, in_block: int = 0) -> np.ndarray:
    """OIHW -> (O/block, I, KH, KW, block), or with in_block > 0 (the data is NCHW[in_block]c)
    -> (O/block, I/in_block, KH, KW, in_block, block)."""
    O, I, KH, KW = w.shape
    if O % block:
        raise ValueError(f"pack_kernel: {O} output channels are not a multiple of {block}")
    if in_block:
        if I % in_block:
            raise ValueError(f"pack_kernel: {I} input channels are not a multiple of {in_block}")
        return np.ascontiguousarray(w.reshape(O // block, block, I // in_block, in_block, KH, KW)
                                    .transpose(0, 2, 4, 5, 3, 1))
    return np.ascontiguousarray(w.reshape(O // block, block, I, KH, KW).transpose(0, 2, 3, 4, 1))


def unpack_kernel(wp: np.ndarray) -> np.ndarray:
    if wp.ndim == 6:
        FO, CI, KH, KW, ib, ob = wp.shape
        return np.ascontiguousarray(wp.transpose(0, 5, 1, 4, 2, 3).reshape(FO * ob, CI * ib, KH, KW))
    FO, I, KH, KW, ob = wp.shape
    return np.ascontiguousarray(wp.transpose(0, 4, 1, 2, 3).reshape(FO * ob, I, KH, KW))


def reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, dilation=1,
              in_block: int = 0) -> np.ndarray:
    """Unblock, run the exact NCHW reference, re-block."""
    if in_block:
        N, CO, H, W, ib = data.shape
        data = data.transpose(0, 1, 4, 2, 3).reshape(N, CO * ib, H, W)
    out = conv2d.reference(data, unpack_kernel(kernel), stride, pad_tuple(padding), dilation)
    N, F, OH, OW = out.shape
    ob = kernel.shape[-1]
    return np.ascontiguousarray(out.reshape(N, F // ob, ob, OH, OW).transpose(0, 1, 3, 4, 2))


# -- the CPU schedule: one function for the graph executor and the tuning template ------------------
MAX_ACCUMULATORS = 28    # of the 32 vector registers; the rest hold a weight vector and a broadcast


def default_blocks(out_h: int, out_w: int, out_block: int, out_chunks: int) -> dict:
    """The register block used when nothing is tuned: up to 14 output columns (whole rows for
    small late layers, so each weight vector feeds more FMAs) of one output-channel vector; two
    vectors when the block has <= 7 columns, so each broadcast input also feeds two FMAs."""
    if out_block == 1:    # one output channel per block (an RGB image): the columns are the vector
        return dict(ow_block=max(d for d in range(1, 65) if out_w % d == 0), oh_block=1,
                    oc_vecs=1, unroll_kw=0)
    owb = max(d for d in range(1, 15) if out_w % d == 0)
    ohb = max(d for d in range(1, 15) if out_h % d == 0 and d * owb <= 14) if owb == out_w else 1
    ovec = 2 if owb * ohb <= 7 and out_chunks % 2 == 0 else 1
    return dict(ow_block=owb, oh_block=ohb, oc_vecs=ovec, unroll_kw=0)


def schedule_register_block(s, acc, outer, *, ow_block: int, oh_block: int = 1, oc_vecs: int = 1,
                            unroll_kw: int = 0) -> None:
    """TVM's x86 conv2d_NCHWc schedule. `acc`: the reduction (N, F/ob, OH, OW, ob); `outer`: the
    tensor whose loops produce the output -- `acc` itself's consumer (a cache_write copy, or an
    epilogue that adds a bias, a residual, a ReLU or unblocks to NCHW (N, F, OH, OW)). The
    output is tiled into register blocks of oc_vecs x oh_block x ow_block vectors of ob output
    channels, accumulated over (input-channel chunk, ky, kx, input-channel lane) in registers and
    written once through the epilogue; (batch, channel chunk, row block) run in parallel."""
    FO, OH, OW, ob = acc.shape[1:]
    for what, v, extent in (("ow_block", ow_block, OW), ("oh_block", oh_block, OH),
                            ("oc_vecs", oc_vecs, FO)):
        if not isinstance(v, int) or v < 1 or extent % v:
            raise ValueError(f"schedule_register_block: {what}={v!r} must divide {extent}")
    oax = list(s[outer].op.axis)
    if len(oax) == 5:                       # output stays blocked (NCHW[x]c)
        n, fo, y, x, fi = oax
    else:                                   # output unblocked to NCHW in the epilogue
        n, f, y, x = oax
        fo, fi = s[outer].split(f, factor=ob)
    fo, fv = s[outer].split(fo, factor=oc_vecs)
    yo, yi = s[outer].split(y, factor=oh_block)
    xo, xi = s[outer].split(x, factor=ow_block)
    s[outer].reorder(n, fo, yo, xo, fv, yi, xi, fi)
    s[outer].parallel(s[outer].fuse(n, fo, yo))
    if len(oax) == 5:
        s[outer].vectorize(fi)
    s[acc].compute_at(s[outer], xo)
    _, fvb, yb, xb, fb = s[acc].op.axis
    red = list(s[acc].op.reduce_axis)
    if len(red) == 4:                       # rco, rci, ry, rx -> rco, ry, rx, rci (TVM's order)
        rco, rci, ry, rx = red
        s[acc].reorder(rco, ry, rx, rci, fvb, yb, xb, fb)
    else:
        s[acc].reorder(*red, fvb, yb, xb, fb)
        rx = red[-1]
    if unroll_kw:
        s[acc].unroll(rx)
    s[acc].unroll(fvb)
    s[acc].unroll(yb)
    if ob == 1:
        s[acc].vectorize(xb)
    else:
        s[acc].unroll(xb)
        s[acc].vectorize(fb)


def schedule_pad(s) -> None:
    """The padded input materialized once, (batch, channel chunk) in parallel."""
    for st in s.stages:
        if not st.is_placeholder and st.name.startswith("pad"):
            ax = st.op.axis
            st.parallel(st.fuse(ax[0], ax[1]))


def cpu_template(cfg, batch: int, in_channel: int, height: int, width: int, out_channel: int,
                 kernel_size, stride=1, padding=0, in_block: int = 16, out_block: int = 16,
                 dtype: str = "float32"):
    """The graph executor's convolution as a tuning task: data NCHW[in_block]c (NCHW when
    in_block == 0), kernel packed as `pack_kernel` does, output NCHW[out_block]c, scheduled by
    `schedule_register_block` -- so what is tuned is exactly what `graph.build` runs (the fused
    epilogue aside). Knobs: ow_block / oh_block (output columns / rows per register block),
    oc_vecs (output-channel vectors per block), unroll_kw; at most MAX_ACCUMULATORS vector
    accumulators. -> (s, [data, kernel, out])."""
    import workbench as wb

    from ._common import pair
    KH, KW = pair(kernel_size, "conv2d_nchwc: kernel_size")
    if out_channel % out_block or (in_block and in_channel % in_block):
        raise ValueError(f"conv2d_nchwc.cpu_template: channels ({in_channel} in, {out_channel} "
                         f"out) must be multiples of the blocks ({in_block}, {out_block})")
    if in_block:
        data = te.placeholder((batch, in_channel // in_block, height, width, in_block), dtype,
                              name="data")
        kernel = te.placeholder((out_channel // out_block, in_channel // in_block, KH, KW,
                                 in_block, out_block), dtype, name="kernel")
    else:
        data = te.placeholder((batch, in_channel, height, width), dtype, name="data")
        kernel = te.placeholder((out_channel // out_block, in_channel, KH, KW, out_block), dtype,
                                name="kernel")
    out = compute(data, kernel, stride, padding, 1, in_block)
    FO, OH, OW = out.shape[1:4]
    cfg.define_knob("ow_block", [d for d in range(1, min(OW, MAX_ACCUMULATORS) + 1) if OW % d == 0])
    cfg.define_knob("oh_block", [d for d in range(1, min(OH, 14) + 1) if OH % d == 0])
    cfg.define_knob("oc_vecs", [v for v in (1, 2, 4) if FO % v == 0])
    cfg.define_knob("unroll_kw", [0, 1])
    cfg.multi_filter(lambda c: c["ow_block"].val * c["oh_block"].val * c["oc_vecs"].val
                     <= MAX_ACCUMULATORS)
    cfg.add_flop(2 * batch * out_channel * OH * OW * in_channel * KH * KW)
    s = wb.create_schedule(out)
    schedule_pad(s)
    acc = s.cache_write(out, "local")
    schedule_register_block(s, acc, out, **{k: cfg[k].val for k in
                                            ("ow_block", "oh_block", "oc_vecs", "unroll_kw")})
    return s, [data, kernel, out]


def _template_reference(inputs, batch, in_channel, height, width, out_channel, kernel_size,
                        stride=1, padding=0, in_block=16, out_block=16, dtype="float32"):
    return [reference(inputs[0], inputs[1], stride, padding, 1, in_block)]


cpu_template.reference = _template_reference


# -- depthwise (multiplier 1) in the same blocked layout: the channel lanes are the vector ------------
def depthwise_compute(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
                      name: str = "depthwise_conv2d_nchwc") -> te.Tensor:
    """data (N, C/b, H, W, b), kernel (C/b, KH, KW, b) -> (N, C/b, OH, OW, b)."""
    N, CO, H, W, b = data.shape
    CO2, KH, KW, b2 = kernel.shape
    if (CO, b) != (CO2, b2):
        raise ValueError(f"depthwise_conv2d_nchwc: data {data.shape} and kernel {kernel.shape} "
                         "disagree on the channel blocks")
    (sh, sw), (dh, dw), pads, (OH, OW) = window_geometry((H, W), (KH, KW), stride, padding,
                                                         dilation, "depthwise_conv2d_nchwc")
    p = pad_stage(data, (0, 0, pads[0], pads[1], 0), (0, 0, pads[2], pads[3], 0), name="pad")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    return te.compute((N, CO, OH, OW, b), lambda n, co, y, x, ci: te.sum(
        p[n, co, y * sh + ry * dh, x * sw + rx * dw, ci] * kernel[co, ry, rx, ci], axis=[ry, rx]),
        name=name)


def pack_depthwise_kernel(w: np.ndarray, block: int) -> np.ndarray:
    """(C, 1, KH, KW) -> (C/block, KH, KW, block)."""
    C, M, KH, KW = w.shape
    if M != 1 or C % block:
        raise ValueError(f"pack_depthwise_kernel: kernel {w.shape} needs multiplier 1 and channels "
                         f"a multiple of {block}")
    return np.ascontiguousarray(w.reshape(C // block, block, KH, KW).transpose(0, 2, 3, 1))


def depthwise_reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0,
                        dilation=1) -> np.ndarray:
    from . import depthwise_conv2d
    N, CO, H, W, b = data.shape
    x = data.transpose(0, 1, 4, 2, 3).reshape(N, CO * b, H, W)
    k = kernel.transpose(0, 3, 1, 2).reshape(CO * b, 1, *kernel.shape[1:3])
    out = depthwise_conv2d.reference(x, k, stride, pad_tuple(padding), dilation)
    _, _, OH, OW = out.shape
    return np.ascontiguousarray(out.reshape(N, CO, b, OH, OW).transpose(0, 1, 3, 4, 2))


# -- pooling in the blocked layout (so a pool between convolutions needs no layout change) ----------
def pool_compute(data: te.Tensor, pool_size, stride=1, padding=0, pool_type: str = "max",
                 name: str = "pool2d_nchwc") -> te.Tensor:
    """data (N, C/b, H, W, b) -> (N, C/b, OH, OW, b); avg counts padded zeros (as kernels.pool2d)."""
    from ._common import min_value, pair
    N, CO, H, W, b = data.shape
    KH, KW = pair(pool_size, "pool2d_nchwc: pool_size")
    (sh, sw), _, pads, (OH, OW) = window_geometry((H, W), (KH, KW), stride, padding, 1,
                                                  "pool2d_nchwc")
    pad_value = min_value(data.dtype) if pool_type == "max" else 0.0
    p = pad_stage(data, (0, 0, pads[0], pads[1], 0), (0, 0, pads[2], pads[3], 0), pad_value,
                  name="pad")
    rh = te.reduce_axis((0, KH), name="rh")
    rw = te.reduce_axis((0, KW), name="rw")
    shape = (N, CO, OH, OW, b)
    if pool_type == "max":
        return te.compute(shape, lambda n, c, y, x, i: te.max(
            p[n, c, y * sh + rh, x * sw + rw, i], axis=[rh, rw]), name=name)
    total = te.compute(shape, lambda n, c, y, x, i: te.sum(
        p[n, c, y * sh + rh, x * sw + rw, i], axis=[rh, rw]), name="pool_sum")
    return te.compute(shape, lambda *i: total[i] / te.const(KH * KW, data.dtype), name=name)


def pool_reference(data: np.ndarray, pool_size, stride=1, padding=0, pool_type="max"):
    from . import pool2d
    N, CO, H, W, b = data.shape
    x = data.transpose(0, 1, 4, 2, 3).reshape(N, CO * b, H, W)
    out = pool2d.reference(x, pool_size, stride, padding, pool_type)
    _, _, OH, OW = out.shape
    return np.ascontiguousarray(out.reshape(N, CO, b, OH, OW).transpose(0, 1, 3, 4, 2))


# -- transposed convolution by output phases (sub-pixel): no multiplications by inserted zeros -------
def deconv_phase_geometry(in_hw, kernel_hw, stride, padding, output_padding):
    """Per spatial dim: (s, T, pad_lo, pad_hi, out) where output row s*yy + py reads input rows
    yy + (py + p)//s - (T-1) + t (t < T taps) of the input padded by pad_lo/pad_hi.
    None when the output size is not a multiple of the stride (use the dilated form then)."""
    dims = []
    for H, K, s, p, op in zip(in_hw, kernel_hw, stride, padding, output_padding):
        out = (H - 1) * s - 2 * p + K + op
        if out % s:
            return None
        T = -(-K // s)
        bases = [(py + p) // s for py in range(s)]
        lo = max(0, (T - 1) - min(bases))
        hi = max(0, out // s - 1 + max(bases) - (H - 1))
        dims.append((s, T, lo, hi, out))
    return dims


def pack_deconv_kernel(w: np.ndarray, stride, padding, block: int) -> np.ndarray:
    """IOHW transposed-conv kernel -> per-phase kernels (F/block, sh, sw, C, Th, Tw, block): tap
    t of phase py is w[.., (py+p) % s + s*(T-1-t)] (zero past the kernel's edge)."""
    C, F, KH, KW = w.shape
    (sh, sw), (ph, pw) = stride, padding
    Th, Tw = -(-KH // sh), -(-KW // sw)
    out = np.zeros((F // block, sh, sw, C, Th, Tw, block), w.dtype)
    wf = w.reshape(C, F // block, block, KH, KW)
    for py in range(sh):
        for px in range(sw):
            for ty in range(Th):
                r = (py + ph) % sh + sh * (Th - 1 - ty)
                if r >= KH:
                    continue
                for tx in range(Tw):
                    q = (px + pw) % sw + sw * (Tw - 1 - tx)
                    if q < KW:
                        out[:, py, px, :, ty, tx, :] = wf[:, :, :, r, q].transpose(1, 0, 2)
    return out


def deconv_phase_compute(data: te.Tensor, kernel: te.Tensor, stride, padding, output_padding,
                         kernel_hw, name: str = "conv2d_transpose") -> tuple:
    """data NCHW, kernel from pack_deconv_kernel -> (phases, out): phases is the reduction
    (N, F/b, sh, sw, OH/sh, OW/sw, b); out (N, F, OH, OW) interleaves them."""
    N, C, H, W = data.shape
    FO, sh, sw, C2, Th, Tw, b = kernel.shape
    geo = deconv_phase_geometry((H, W), kernel_hw, stride, padding, output_padding)
    (_, _, loh, hih, OH), (_, _, low, hiw, OW) = geo
    p = pad_stage(data, (0, 0, loh, low), (0, 0, hih, hiw), name="pad")
    ph, pw = padding
    rc = te.reduce_axis((0, C), name="rc")
    ty = te.reduce_axis((0, Th), name="ty")
    tx = te.reduce_axis((0, Tw), name="tx")

    def off(phase, s, pad, T, lo):
        return (phase + pad) // s + (lo - (T - 1))

    phases = te.compute((N, FO, sh, sw, OH // sh, OW // sw, b), lambda n, fo, py, px, yy, xx, fi: te.sum(
        p[n, rc, ty + yy + off(py, sh, ph, Th, loh), tx + xx + off(px, sw, pw, Tw, low)]
        * kernel[fo, py, px, rc, ty, tx, fi], axis=[rc, ty, tx]), name=f"{name}_phases")
    out = te.compute((N, FO * b, OH, OW), lambda n, f, y, x: phases[
        n, f // b, y % sh, x % sw, y // sh, x // sw, f % b], name=name)
    return phases, out
