"""pool2d: max or average pooling with padding and stride, NCHW or NHWC.

Average pooling counts the padded zeros, i.e. always divides by KH*KW, like PyTorch's
`avg_pool2d(..., count_include_pad=True)` (its default) and TVM's `count_include_pad=True`.
Max pooling pads with -inf (the smallest integer for integer dtypes), so padding never wins.
No ceil_mode: the output size is floor((H + pads - KH) / stride) + 1.

Stages: "data", "pad" (when padding is non-zero), then for max the reduction "pool2d", for avg
the reduction "pool_sum" followed by the elementwise division "pool2d".
"""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import (acc_dtype, min_value, np_windows_padded, pair, sliding_setup,
                      window_geometry)

POOL_TYPES = ("max", "avg")
LAYOUTS = ("NCHW", "NHWC")


def _axes(layout: str) -> tuple[int, int]:
    if layout not in LAYOUTS:
        raise ValueError(f"pool2d: layout must be one of {LAYOUTS}, got {layout!r}")
    return (2, 3) if layout == "NCHW" else (1, 2)


def _check_type(pool_type: str, dtype: str) -> None:
    if pool_type not in POOL_TYPES:
        raise ValueError(f"pool2d: pool_type must be one of {POOL_TYPES}, got {pool_type!r}")
    if pool_type == "avg" and not dtype.startswith("float"):
        raise TypeError(f"pool2d: average pooling needs a float dtype, got {dtype}")


def compute(data: te.Tensor, pool_size, stride=1, padding=0, pool_type: str = "max",
            layout: str = "NCHW") -> te.Tensor:
    _check_type(pool_type, data.dtype)
    ah, aw = _axes(layout)
    KH, KW = pair(pool_size, "pool2d: pool_size")
    pad_value = min_value(data.dtype) if pool_type == "max" else 0.0
    (sh, sw), _, (OH, OW), p = sliding_setup("pool2d", data, (ah, aw), (KH, KW), stride, padding,
                                             1, pad_value)
    rh = te.reduce_axis((0, KH), name="rh")
    rw = te.reduce_axis((0, KW), name="rw")
    shape = list(data.shape)
    shape[ah], shape[aw] = OH, OW

    def window(idx):
        idx = list(idx)
        # rh + ..., not ... + rh: Expr + IterVar is rejected by workbench.te (see the report)
        idx[ah], idx[aw] = rh + idx[ah] * sh, rw + idx[aw] * sw
        return p[tuple(idx)]

    if pool_type == "max":
        return te.compute(shape, lambda *i: te.max(window(i), axis=[rh, rw]), name="pool2d")
    total = te.compute(shape, lambda *i: te.sum(window(i), axis=[rh, rw]), name="pool_sum")
    return te.compute(shape, lambda *i: total[i] / te.const(KH * KW, data.dtype), name="pool2d")


def make(batch: int, channel: int, height: int, width: int, pool_size, stride=1, padding=0,
         pool_type: str = "max", layout: str = "NCHW", dtype: str = "float32"):
    """Returns ([data], out)."""
    shape = (batch, channel, height, width) if _axes(layout) == (2, 3) else (batch, height, width,
                                                                              channel)
    data = te.placeholder(shape, dtype, name="data")
    return [data], compute(data, pool_size, stride, padding, pool_type, layout)


def reference(data: np.ndarray, pool_size, stride=1, padding=0, pool_type: str = "max",
              layout: str = "NCHW") -> np.ndarray:
    _check_type(pool_type, str(data.dtype))
    ah, aw = _axes(layout)
    KH, KW = pair(pool_size, "pool2d: pool_size")
    s, _, pads, _ = window_geometry((data.shape[ah], data.shape[aw]), (KH, KW), stride, padding,
                                    1, "pool2d")
    if pool_type == "max":
        win = np_windows_padded(data, (ah, aw), (KH, KW), s, pads, value=min_value(str(data.dtype)))
        return win.max(axis=(-2, -1))
    win = np_windows_padded(data, (ah, aw), (KH, KW), s, pads)
    return (win.astype(acc_dtype(data.dtype)).sum(axis=(-2, -1)) / (KH * KW)).astype(data.dtype)


def flops(batch, channel, height, width, pool_size, stride=1, padding=0, pool_type="max", **_):
    """One op per window element (compare or add), plus the division for avg."""
    KH, KW = pair(pool_size, "pool_size")
    _, _, _, (OH, OW) = window_geometry((height, width), (KH, KW), stride, padding)
    return batch * channel * OH * OW * (KH * KW + (pool_type == "avg"))
