"""Helpers shared by the operators: argument normalisation, output sizes, the "pad" stage, and the
numpy windowing used by the references. One copy here, so conv2d, depthwise_conv2d,
conv2d_transpose and pool2d all agree on what padding/stride/dilation mean."""
from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from workbench import te


def pair(value, what: str) -> tuple[int, int]:
    """An int or a 2-sequence of ints -> (h, w)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, Integral) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")


def pad_tuple(padding, what: str = "padding") -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right). Accepts an int (all sides), (ph, pw) (symmetric)
    or a 4-tuple (top, left, bottom, right), as TVM's get_pad_tuple does."""
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        out = tuple(int(p) for p in padding)
    else:
        ph, pw = pair(padding, what)
        out = (ph, pw, ph, pw)
    if min(out) < 0:
        raise ValueError(f"{what} must be non-negative, got {padding!r}")
    return out  # type: ignore[return-value]


def positive(value, what: str) -> tuple[int, int]:
    out = pair(value, what)
    if min(out) < 1:
        raise ValueError(f"{what} must be >= 1, got {value!r}")
    return out


def conv_out_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int,
                  dilation: int = 1, what: str = "output") -> int:
    """floor((size + pads - dilation*(kernel-1) - 1) / stride) + 1 (PyTorch/TVM convention)."""
    span = dilation * (kernel - 1) + 1
    out = (size + pad_lo + pad_hi - span) // stride + 1
    if out < 1:
        raise ValueError(f"{what} size would be {out}: input {size} + padding {pad_lo}+{pad_hi} is "
                         f"smaller than the (dilated) window {span}")
    return out


def out_dtype_of(dtype: str, out_dtype: str | None) -> str:
    return dtype if out_dtype is None else out_dtype


def min_value(dtype: str):
    """The identity of max: -inf for floats, the smallest integer otherwise."""
    if dtype.startswith("float"):
        return -math.inf
    return int(np.iinfo(dtype).min)


# -- the te "pad" stage ----------------------------------------------------------------------------
def pad(data: te.Tensor, before, after, pad_value=0.0, name: str = "pad") -> te.Tensor:
    """A compute stage that pads every dimension of `data` by before[d] / after[d] elements filled
    with `pad_value` (a reads-guarded te.if_then_else, so no out-of-bounds read is ever evaluated).
    Returns `data` itself when nothing is padded (as TVM topi skips the stage)."""
    before, after = tuple(before), tuple(after)
    if len(before) != data.ndim or len(after) != data.ndim:
        raise ValueError(f"pad: need {data.ndim} before/after entries, got {before} / {after}")
    if not any(before) and not any(after):
        return data
    shape = tuple(n + b + a for n, b, a in zip(data.shape, before, after))

    def body(*idx):
        conds, src = [], []
        for i, n, b, a in zip(idx, data.shape, before, after):
            if b:
                conds.append(i >= b)
            if a:
                conds.append(i < n + b)
            src.append(i - b if b else i)
        return te.if_then_else(te.all(*conds), data[tuple(src)], te.const(pad_value, data.dtype))

    return te.compute(shape, body, name=name)


def dilate(data: te.Tensor, strides, name: str = "dilate") -> te.Tensor:
    """Insert (stride-1) zeros between the elements of each dimension (TVM topi.nn.dilate).
    Returns `data` itself when every stride is 1."""
    strides = tuple(strides)
    if all(s == 1 for s in strides):
        return data
    shape = tuple((n - 1) * s + 1 for n, s in zip(data.shape, strides))

    def body(*idx):
        conds = [i % s == 0 for i, s in zip(idx, strides) if s != 1]
        src = tuple(i // s if s != 1 else i for i, s in zip(idx, strides))
        return te.if_then_else(te.all(*conds), data[src], te.const(0, data.dtype))

    return te.compute(shape, body, name=name)


# -- numpy helpers for the references ------------------------------------------------------------
def np_pad(x: np.ndarray, axes, pads, value=0) -> np.ndarray:
    """Pad the given axes of x; pads[k] = (before, after) for axes[k]."""
    width = [(0, 0)] * x.ndim
    for ax, p in zip(axes, pads):
        width[ax] = tuple(p)
    return np.pad(x, width, mode="constant", constant_values=value)


def np_windows(x: np.ndarray, axes: tuple[int, int], kernel, stride, dilation) -> np.ndarray:
    """Sliding windows over two axes of an already padded array, as a view.

    Returns an array with the two axes replaced by output positions (OH, OW) and the window
    positions (KH, KW) appended last: x[..., OH, OW, ..., KH, KW] with
    out[..., y, x, ..., r, s] = x[..., y*sh + r*dh, x*sw + s*dw, ...]."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    v = np.lib.stride_tricks.sliding_window_view(x, span, axis=axes)
    sl = [slice(None)] * v.ndim
    sl[axes[0]], sl[axes[1]] = slice(None, None, sh), slice(None, None, sw)
    sl[-2], sl[-1] = slice(None, None, dh), slice(None, None, dw)
    return v[tuple(sl)]


def acc_dtype(*dtypes) -> np.dtype:
    """Accumulation dtype for the exact references: float64 for floats, int64 for integers."""
    return np.dtype("float64") if any(np.dtype(d).kind == "f" for d in dtypes) else np.dtype("int64")


def window_geometry(in_hw, kernel_hw, stride, padding, dilation=1, what: str = "conv"):
    """Normalise the 2-D window arguments shared by conv2d, depthwise_conv2d and pool2d.

    Returns (stride, dilation, pads, out_hw) with stride/dilation as (h, w) pairs, pads as
    (top, left, bottom, right) and out_hw the output spatial size."""
    stride = positive(stride, f"{what}: stride")
    dilation = positive(dilation, f"{what}: dilation")
    pads = pad_tuple(padding, f"{what}: padding")
    (H, W), (KH, KW) = in_hw, kernel_hw
    OH = conv_out_size(H, KH, stride[0], pads[0], pads[2], dilation[0], f"{what}: output height")
    OW = conv_out_size(W, KW, stride[1], pads[1], pads[3], dilation[1], f"{what}: output width")
    return stride, dilation, pads, (OH, OW)


def sliding_setup(what: str, data: te.Tensor, axes: tuple[int, int], kernel_hw, stride, padding,
                  dilation=1, pad_value=0.0):
    """The common prologue of conv2d / depthwise_conv2d / pool2d: normalise the window arguments,
    compute the output size and add the "pad" stage. Returns (stride, dilation, out_hw, padded)."""
    in_hw = (data.shape[axes[0]], data.shape[axes[1]])
    stride, dilation, pads, out_hw = window_geometry(in_hw, kernel_hw, stride, padding, dilation, what)
    return stride, dilation, out_hw, pad_spatial(data, axes, pads, pad_value)


def check_channels(what: str, data_channels: int, kernel_channels: int, kernel_shape) -> None:
    if data_channels != kernel_channels:
        raise ValueError(f"{what}: data has {data_channels} channels but kernel {kernel_shape} "
                         f"expects {kernel_channels}")


def pad_spatial(data: te.Tensor, axes: tuple[int, int], pads, pad_value=0.0) -> te.Tensor:
    """The "pad" stage for a 4-D tensor padded on two spatial axes by (top, left, bottom, right)."""
    before, after = [0] * data.ndim, [0] * data.ndim
    before[axes[0]], before[axes[1]] = pads[0], pads[1]
    after[axes[0]], after[axes[1]] = pads[2], pads[3]
    return pad(data, before, after, pad_value, name="pad")


def np_windows_padded(x: np.ndarray, axes: tuple[int, int], kernel, stride, pads, dilation=(1, 1),
                      value=0) -> np.ndarray:
    """np_pad on the two spatial axes followed by np_windows (the numpy twin of pad_spatial)."""
    xp = np_pad(x, axes, ((pads[0], pads[2]), (pads[1], pads[3])), value)
    return np_windows(xp, axes, kernel, stride, dilation)
