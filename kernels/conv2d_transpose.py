"""conv2d_transpose (a.k.a. deconvolution), NCHW, with PyTorch's definition of stride, padding and
output_padding (torch.nn.functional.conv_transpose2d, groups=1, dilation=1).

data (N, C, H, W), kernel (C, F, KH, KW) ("IOHW", as PyTorch and TVM topi) -> (N, F, OH, OW) with
    OH = (H - 1) * sh - 2 * ph + KH + oph     (and likewise for W)
out[n, f, y, x] = sum over c, i, j, r, s with i*sh + r - ph = y and j*sw + s - pw = x
                  of data[n, c, i, j] * kernel[c, f, r, s]

Implemented like TVM topi, as three te stages that schedules can inline or compute_at:
  "dilate": (stride-1) zeros between input pixels (skipped when stride is 1),
  "pad":    KH-1-ph zeros before and KH-1-ph+oph after (skipped when all are 0),
  "conv2d_transpose": a stride-1 convolution with the spatially flipped kernel.
Requires padding <= kernel-1 (otherwise the equivalent convolution would need negative padding,
i.e. cropping) and output_padding < stride (PyTorch's rule).
"""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import acc_dtype, check_channels, dilate, out_dtype_of, pad, pair, positive


def _geometry(in_hw, kernel_hw, stride, padding, output_padding):
    (sh, sw) = positive(stride, "conv2d_transpose: stride")
    ph, pw = pair(padding, "conv2d_transpose: padding")
    oph, opw = pair(output_padding, "conv2d_transpose: output_padding")
    (H, W), (KH, KW) = in_hw, kernel_hw
    for p, k, what in ((ph, KH, "height"), (pw, KW, "width")):
        if not 0 <= p <= k - 1:
            raise ValueError(f"conv2d_transpose: padding must be in [0, kernel-1] = [0, {k - 1}] "
                             f"along the {what}, got {p}")
    for op, s, what in ((oph, sh, "height"), (opw, sw, "width")):
        if not 0 <= op < s:
            raise ValueError(f"conv2d_transpose: output_padding must be in [0, stride) along the "
                             f"{what}, got {op} with stride {s}")
    OH = (H - 1) * sh - 2 * ph + KH + oph
    OW = (W - 1) * sw - 2 * pw + KW + opw
    return (sh, sw), (ph, pw), (oph, opw), (OH, OW)


def compute(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, output_padding=0,
            out_dtype: str | None = None) -> te.Tensor:
    N, C, H, W = data.shape
    C2, F, KH, KW = kernel.shape
    check_channels("conv2d_transpose", C, C2, kernel.shape)
    (sh, sw), (ph, pw), (oph, opw), (OH, OW) = _geometry((H, W), (KH, KW), stride, padding,
                                                         output_padding)
    out_dtype = out_dtype_of(data.dtype, out_dtype)
    d = dilate(data, (1, 1, sh, sw), name="dilate")
    bh, bw = KH - 1 - ph, KW - 1 - pw
    p = pad(d, (0, 0, bh, bw), (0, 0, bh + oph, bw + opw), name="pad")
    rc = te.reduce_axis((0, C), name="rc")
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    return te.compute((N, F, OH, OW), lambda n, f, y, x: te.sum(
        # ry + y, not y + ry: Expr + IterVar is rejected by workbench.te (see the report)
        p[n, rc, ry + y, rx + x].astype(out_dtype)
        * kernel[rc, f, KH - 1 - ry, KW - 1 - rx].astype(out_dtype), axis=[rc, ry, rx]),
        name="conv2d_transpose")


def make(batch: int, in_channel: int, height: int, width: int, out_channel: int, kernel_size,
         stride=1, padding=0, output_padding=0, dtype: str = "float32",
         out_dtype: str | None = None):
    """Returns ([data, kernel], out); kernel is (in_channel, out_channel, KH, KW)."""
    KH, KW = pair(kernel_size, "conv2d_transpose: kernel_size")
    data = te.placeholder((batch, in_channel, height, width), dtype, name="data")
    kernel = te.placeholder((in_channel, out_channel, KH, KW), dtype, name="kernel")
    return [data, kernel], compute(data, kernel, stride, padding, output_padding, out_dtype)


def reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, output_padding=0,
              out_dtype: str | None = None) -> np.ndarray:
    """Scatter formulation (independent of the dilate+pad+flip one above): every input pixel
    times every kernel tap is added at i*s + r, then the border `padding` is cropped.
    The Python loop runs over the KH*KW kernel taps only."""
    N, C, H, W = data.shape
    _, F, KH, KW = kernel.shape
    (sh, sw), (ph, pw), (oph, opw), (OH, OW) = _geometry((H, W), (KH, KW), stride, padding,
                                                         output_padding)
    acc = acc_dtype(data.dtype, kernel.dtype)
    taps = np.einsum("nchw,cfrs->rsnfhw", data.astype(acc), kernel.astype(acc), optimize=True)
    # the uncropped output: every tap lands inside, plus output_padding rows/cols at the end
    full = np.zeros((N, F, (H - 1) * sh + KH + oph, (W - 1) * sw + KW + opw), acc)
    for r in range(KH):
        for s in range(KW):
            full[:, :, r:r + (H - 1) * sh + 1:sh, s:s + (W - 1) * sw + 1:sw] += taps[r, s]
    return full[:, :, ph:ph + OH, pw:pw + OW].astype(out_dtype or data.dtype)


def output_shape(batch, in_channel, height, width, out_channel, kernel_size, stride=1, padding=0,
                 output_padding=0, **_):
    *_, (OH, OW) = _geometry((height, width), pair(kernel_size, "kernel_size"), stride, padding,
                             output_padding)
    return (batch, out_channel, OH, OW)


def flops(batch, in_channel, height, width, out_channel, kernel_size, stride=1, padding=0,
          output_padding=0, **_) -> int:
    """Useful work only: 2 * N * C * H * W * F * KH * KW multiply-adds of the scatter form (the
    dilate+pad+conv form also multiplies the inserted zeros)."""
    KH, KW = pair(kernel_size, "kernel_size")
    return 2 * batch * in_channel * height * width * out_channel * KH * KW


def cpu_template(cfg, batch: int, in_channel: int, height: int, width: int, out_channel: int,
                 kernel_size, stride=1, padding=0, output_padding=0, dtype: str = "float32"):
    """CPU tuning template: dilation and padding inlined, then `_tuning.tile_reduction` on the
    output (tile_n, tile_f, tile_y, tile_x: [-1, middle, inner]; tile_rc, tile_ry, tile_rx:
    [-1, inner]; unroll_inner, parallel, auto_unroll_max_step). -> (s, [data, kernel, out])."""
    import workbench as wb

    from ._tuning import inline_elementwise, tile_reduction
    inputs, out = make(batch, in_channel, height, width, out_channel, kernel_size, stride, padding,
                       output_padding, dtype)
    cfg.add_flop(flops(batch, in_channel, height, width, out_channel, kernel_size, stride, padding,
                       output_padding))
    s = wb.create_schedule(out)
    inline_elementwise(s)
    tile_reduction(cfg, s, out, max_inner=32)
    return s, [*inputs, out]
