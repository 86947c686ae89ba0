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
