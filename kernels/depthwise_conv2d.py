"""depthwise_conv2d, NCHW, with a channel multiplier (TVM topi depthwise_conv2d_nchw).

data (N, C, H, W), kernel (C, M, KH, KW) -> out (N, C*M, OH, OW):
out[n, c, y, x] = sum_{r, s} pad[n, c // M, y*sh + r*dh, x*sw + s*dw] * kernel[c // M, c % M, r, s]

Stages: "data", "kernel", "pad" (when padding is non-zero) and the reduction "depthwise_conv2d".
"""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import (acc_dtype, check_channels, np_windows_padded, out_dtype_of, pair,
                      sliding_setup, window_geometry)


def compute(data: te.Tensor, kernel: te.Tensor, stride=1, padding=0, dilation=1,
            out_dtype: str | None = None) -> te.Tensor:
    N, C, H, W = data.shape
    C2, M, KH, KW = kernel.shape
    check_channels("depthwise_conv2d", C, C2, kernel.shape)
    (sh, sw), (dh, dw), (OH, OW), p = sliding_setup("depthwise_conv2d", data, (2, 3), (KH, KW),
                                                    stride, padding, dilation)
    out_dtype = out_dtype_of(data.dtype, out_dtype)
    ry = te.reduce_axis((0, KH), name="ry")
    rx = te.reduce_axis((0, KW), name="rx")
    if M == 1:  # the common case, without the // and % on the channel
        def body(n, c, y, x):
            return te.sum(p[n, c, y * sh + ry * dh, x * sw + rx * dw].astype(out_dtype)
                          * kernel[c, 0, ry, rx].astype(out_dtype), axis=[ry, rx])
    else:
        def body(n, c, y, x):
            return te.sum(p[n, c // M, y * sh + ry * dh, x * sw + rx * dw].astype(out_dtype)
                          * kernel[c // M, c % M, ry, rx].astype(out_dtype), axis=[ry, rx])
    return te.compute((N, C * M, OH, OW), body, name="depthwise_conv2d")


def make(batch: int, channel: int, height: int, width: int, kernel_size, stride=1, padding=0,
         dilation=1, multiplier: int = 1, dtype: str = "float32", out_dtype: str | None = None):
    """Returns ([data, kernel], out)."""
    KH, KW = pair(kernel_size, "depthwise_conv2d: kernel_size")
    data = te.placeholder((batch, channel, height, width), dtype, name="data")
    kernel = te.placeholder((channel, multiplier, KH, KW), dtype, name="kernel")
    return [data, kernel], compute(data, kernel, stride, padding, dilation, out_dtype)


def reference(data: np.ndarray, kernel: np.ndarray, stride=1, padding=0, dilation=1,
              out_dtype: str | None = None) -> np.ndarray:
    C, M, KH, KW = kernel.shape
    s, d, pads, _ = window_geometry(data.shape[2:], (KH, KW), stride, padding, dilation,
                                    "depthwise_conv2d")
    acc = acc_dtype(data.dtype, kernel.dtype)
    win = np_windows_padded(data, (2, 3), (KH, KW), s, pads, d)        # (N, C, OH, OW, KH, KW)
    out = np.einsum("nchwrs,cmrs->ncmhw", win.astype(acc), kernel.astype(acc), optimize=True)
    N, _, _, OH, OW = out.shape
    return out.reshape(N, C * M, OH, OW).astype(out_dtype or data.dtype)


def flops(batch, channel, height, width, kernel_size, stride=1, padding=0, dilation=1,
          multiplier=1, **_) -> int:
    KH, KW = pair(kernel_size, "kernel_size")
    _, _, _, (OH, OW) = window_geometry((height, width), (KH, KW), stride, padding, dilation)
    return 2 * batch * channel * multiplier * OH * OW * KH * KW


def cpu_template(cfg, batch: int, channel: int, height: int, width: int, kernel_size, stride=1,
                 padding=0, dilation=1, multiplier: int = 1, dtype: str = "float32"):
    """CPU tuning template: padding inlined, then `_tuning.tile_reduction` on the output
    (tile_n, tile_c, tile_y, tile_x: [-1, middle, inner], inner x vectorized; tile_ry, tile_rx:
    [-1, inner]; unroll_inner, parallel, auto_unroll_max_step). -> (s, [data, kernel, out])."""
    import workbench as wb

    from ._tuning import inline_elementwise, tile_reduction
    inputs, out = make(batch, channel, height, width, kernel_size, stride, padding, dilation,
                       multiplier, dtype)
    cfg.add_flop(flops(batch, channel, height, width, kernel_size, stride, padding, dilation,
                       multiplier))
    s = wb.create_schedule(out)
    inline_elementwise(s)
    tile_reduction(cfg, s, out, max_inner=32)
    return s, [*inputs, out]
